package forward

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/internal/realtest"
	"github.com/flatheap/ingest/route"
)

// testFormat is an nginx log_format with upstream times and a request id,
// as ingress controllers log them.
const testFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent ` +
	`"$http_referer" "$http_user_agent" $request_time $upstream_response_time $host $request_id`

func mustFormat(t testing.TB) *ingest.Format {
	t.Helper()
	f, err := ingest.CompileNginx(testFormat)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// appendPath appends a path of n bytes for line i: /api/v1/users/<i>/
// followed by filler.
func appendPath(dst []byte, i, n int) []byte {
	start := len(dst)
	dst = append(dst, "/api/v1/users/"...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, "/orders/"...)
	const filler = "abcdefghijklmnopqrstuvwxyz0123456789-"
	for len(dst)-start < n {
		k := i*7 + len(dst) - start
		dst = append(dst, filler[k%len(filler)])
		if (len(dst)-start)%40 == 0 {
			dst = append(dst, '/')
		}
	}
	return dst[:start+n]
}

// requestID is line i's $request_id.
func requestID(i int) string { return fmt.Sprintf("%032x", i) }

// appendLine appends line i of the test format, logged at t.
func appendLine(dst []byte, i int, t time.Time, pathLen int) []byte {
	dst = append(dst, "203.0.113."...)
	dst = strconv.AppendInt(dst, int64(i%250), 10)
	dst = append(dst, " - - ["...)
	dst = t.AppendFormat(dst, "02/Jan/2006:15:04:05 -0700")
	dst = append(dst, `] "`...)
	dst = append(dst, [...]string{"GET", "POST", "PUT", "DELETE"}[i%4]...)
	dst = append(dst, ' ')
	dst = appendPath(dst, i, pathLen)
	dst = append(dst, "?page="...)
	dst = strconv.AppendInt(dst, int64(i%10), 10)
	dst = append(dst, ` HTTP/1.1" `...)
	dst = strconv.AppendInt(dst, int64([...]int{200, 201, 404, 503}[i%4]), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(100+i%1000), 10)
	dst = append(dst, ` "https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64) test/`...)
	dst = strconv.AppendInt(dst, int64(i%7), 10)
	dst = append(dst, `" 0.`...)
	dst = fmt.Appendf(dst, "%03d 0.%03d, 0.%03d", i%1000, i%997, i%13)
	dst = append(dst, " api"...)
	dst = strconv.AppendInt(dst, int64(i%3), 10)
	dst = append(dst, ".example.com "...)
	dst = append(dst, requestID(i)...)
	return dst
}

// The end-to-end tests send e2eLines lines of the test format with paths
// of e2ePath bytes at e2eRate lines a second. FORWARD_E2E_LINES sets the
// number of lines: the full-size runs use 100000.
const (
	e2eRate = 20_000
	e2ePath = 2048
)

// e2eOutage is how long the restart tests keep a store down at least: as
// long as all the lines take at e2eRate, from 1 s to 5 s (100,000 lines:
// 5 s).
var e2eOutage = min(max(time.Duration(e2eLines)*time.Second/e2eRate, time.Second), 5*time.Second)

var e2eLines = func() int {
	if n, err := strconv.Atoi(os.Getenv("FORWARD_E2E_LINES")); err == nil && n >= 30 {
		return n
	}
	return defaultE2ELines
}()

// appendCombined appends line i of a stream of combined-format lines of
// about 250 bytes that vary as real ones do: client addresses, paths with
// ids, queries, statuses, sizes, a few referers and user agents.
func appendCombined(dst []byte, i int, t time.Time) []byte {
	agents := [...]string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
		"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
		"curl/8.5.0",
		"Go-http-client/1.1",
	}
	h := uint32(i) * 2654435761
	dst = fmt.Appendf(dst, "10.%d.%d.%d - - [", h>>24, h>>16&255, h>>8&255)
	dst = t.AppendFormat(dst, "02/Jan/2006:15:04:05 -0700")
	dst = append(dst, `] "`...)
	dst = append(dst, [...]string{"GET", "GET", "GET", "POST"}[i%4]...)
	dst = fmt.Appendf(dst, " /api/v1/%s/%d/%s?page=%d HTTP/1.1\" %d %d \"%s\" \"%s\"",
		[...]string{"users", "orders", "items", "carts"}[h>>3&3], h%100000,
		[...]string{"details", "history", "reviews"}[h>>5%3], h>>7%20,
		[...]int{200, 200, 200, 304, 404, 500}[h>>9%6], h>>4%50000,
		[...]string{"-", "https://example.com/", "https://www.google.com/"}[h>>11%3], agents[h>>13%5])
	return dst
}

// feeder parses and forwards lines from several goroutines.
type feeder struct {
	fw     *Forwarder
	format *ingest.Format
	base   time.Time // line i is logged at base plus i ms
}

// send sends lines [from, to) at rate lines/s (0: as fast as it goes)
// from 2 goroutines and returns when they are all handed to ServeLine:
// a slow machine takes longer, it does not send fewer.
func (fd *feeder) send(t testing.TB, from, to, rate, pathLen int) {
	t.Helper()
	const g = 2
	var wg sync.WaitGroup
	start := time.Now()
	for w := range g {
		wg.Go(func() {
			p := ingest.Parser{Format: fd.format}
			var r ingest.Request
			var line []byte
			for i := from + w; i < to; i += g {
				if rate > 0 && (i-from)%100 < g {
					due := start.Add(time.Duration(i-from) * time.Second / time.Duration(rate))
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				}
				line = appendLine(line[:0], i, fd.base.Add(time.Duration(i)*time.Millisecond), pathLen)
				if err := p.Parse(&r, line); err != nil {
					t.Errorf("line %d: %v: %s", i, err, line)
					return
				}
				fd.fw.ServeLine(&r)
			}
		})
	}
	wg.Wait()
}

// waitFor polls cond until it holds, and fails the test when it does not
// within d: the deadlines are generous, for a loaded machine.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// needCI skips the test when a part is missing, and fails it when CI=true.
func needCI(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing and CI=true", what)
	}
	t.Skipf("%s is missing", what)
}

// victoriaLogs is a VictoriaLogs process the test started (see package
// realtest), with the counts the tests read.
type victoriaLogs struct {
	*realtest.VictoriaLogs
	t testing.TB
}

// startVictoriaLogs starts VictoriaLogs on a free loopback port with a
// data directory of the test; it is stopped at the end of the test.
func startVictoriaLogs(t testing.TB) *victoriaLogs {
	t.Helper()
	return &victoriaLogs{VictoriaLogs: realtest.StartVictoriaLogs(t), t: t}
}

// count returns count() and count_uniq(request_id) of the logs stored.
func (vl *victoriaLogs) count(filter string) (n, uniq int) {
	vl.t.Helper()
	row := vl.Stats(filter, "count() as n, count_uniq(request_id) as u")
	n, _ = strconv.Atoi(row["n"])
	uniq, _ = strconv.Atoi(row["u"])
	return n, uniq
}

// waitCount polls until the store holds at least want logs, or 60 s
// pass, and returns what it holds.
func (vl *victoriaLogs) waitCount(filter string, want int) (n, uniq int) {
	vl.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, uniq = vl.count(filter)
		if n >= want || time.Now().After(deadline) {
			return n, uniq
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shutdown shuts fw down within 120 s.
func shutdown(t testing.TB, fw *Forwarder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := fw.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func ensure(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}

func defaultRoutes() (*route.Templater, error) { return route.New(route.Config{}) }

// shutdownCtx shuts fw down with a deadline d that it is expected to miss
// (the store does not take the lines): it must return by then, with
// everything counted.
func shutdownCtx(t testing.TB, fw *Forwarder, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	err := fw.Shutdown(ctx)
	ensure(t, err != nil || time.Since(start) < d, "Shutdown: %v", err)
	ensure(t, time.Since(start) < d+10*time.Second, "Shutdown took %v", time.Since(start))
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
