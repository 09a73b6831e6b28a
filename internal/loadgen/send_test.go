package loadgen

import (
	"bytes"
	"context"
	"maps"
	"math"
	"net/netip"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/internal/udptest"
)

// receiver collects the datagrams sent to a loopback UDP socket.
type receiver struct {
	addr string

	mu    sync.Mutex
	dgs   [][]byte
	lines int
}

// maxReceived bounds what a receiver keeps, so a runaway sender cannot
// exhaust memory in a test.
const maxReceived = 1 << 20

func newReceiver(t *testing.T, network, addr string) *receiver {
	t.Helper()
	conn := udptest.Listen(t, network, addr)
	r := &receiver{addr: conn.LocalAddr().String()}
	udptest.Receive(t, conn, func(dg []byte, _ netip.AddrPort) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.dgs) < maxReceived {
			r.dgs = append(r.dgs, bytes.Clone(dg))
			r.lines += bytes.Count(dg, []byte{'\n'}) + 1
		}
	})
	return r
}

// wait returns the datagrams received once lines lines have arrived, or
// what arrived within a few seconds.
func (r *receiver) wait(lines int) [][]byte {
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		n := r.lines
		r.mu.Unlock()
		if n >= lines || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Anything beyond lines would be a bug: give it a moment to show.
	time.Sleep(20 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.dgs...)
}

// received is what a test learns from the datagrams of one receiver.
type received struct {
	datagrams int
	bytes     int
	lines     []string
	reqs      []ingest.Request // views into lines
	paths     map[string]int
}

// parseReceived parses every line of dgs and fails the test on a line
// that does not parse.
func parseReceived(t *testing.T, dgs [][]byte) received {
	t.Helper()
	rc := received{datagrams: len(dgs), paths: map[string]int{}}
	var p ingest.Parser
	for _, d := range dgs {
		rc.bytes += len(d)
		for line := range strings.SplitSeq(string(d), "\n") {
			var r ingest.Request
			if err := p.Parse(&r, []byte(line)); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			rc.lines = append(rc.lines, line)
			rc.reqs = append(rc.reqs, r)
			rc.paths[string(r.Path)]++
		}
	}
	return rc
}

// noLeaks checks, after the test and its cleanups, that no goroutine
// started during the test is left.
func noLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func sendOK(t *testing.T, cfg Config) Result {
	t.Helper()
	res, err := Send(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSendLoad_LinesArriveAndParse(t *testing.T) {
	noLeaks(t)
	host := regexp.QuoteMeta(SyslogHostname())
	headers := map[string]*regexp.Regexp{
		"none": regexp.MustCompile(`^[0-9.]+ - - \[`),
		"3164": regexp.MustCompile(`^<190>[A-Z][a-z]{2} [ 123][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} ` + host + ` nginx: [0-9.]+ - - \[`),
		"5424": regexp.MustCompile(`^<190>1 [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} ` + host + ` nginx - - - [0-9.]+ - - \[`),
	}
	envelopes := map[string]ingest.Envelope{"none": ingest.EnvelopeNone, "3164": ingest.EnvelopeRFC3164, "5424": ingest.EnvelopeRFC5424}
	for _, mode := range []string{"none", "3164", "5424"} {
		t.Run(mode, func(t *testing.T) {
			rcv := newReceiver(t, "udp4", "127.0.0.1:0")
			start := time.Now()
			res := sendOK(t, Config{
				Targets: []string{rcv.addr}, Rate: 20000, Count: 600, PathLength: 100,
				Paths: 7, Unique: 0.5, Syslog: mode, LinesPerDatagram: 3, Seed: 42,
			})
			if res.Lines != 600 {
				t.Errorf("res.Lines = %v, want 600", res.Lines)
			}
			if res.Datagrams != 200 {
				t.Errorf("res.Datagrams = %v, want 200", res.Datagrams)
			}
			if res.SendErrors != 0 {
				t.Errorf("res.SendErrors = %v, want 0", res.SendErrors)
			}
			if len(res.PerTarget) != 1 {
				t.Fatalf("len(res.PerTarget) = %d, want 1", len(res.PerTarget))
			}
			if want := (TargetResult{Addr: rcv.addr, Lines: 600, Datagrams: 200, Bytes: res.Bytes, Calls: res.PerTarget[0].Calls}); res.PerTarget[0] != want {
				t.Errorf("res.PerTarget[0] = %+v, want %+v", res.PerTarget[0], want)
			}

			got := parseReceived(t, rcv.wait(600))
			if len(got.lines) != 600 {
				t.Fatalf("len(got.lines) = %d, want 600", len(got.lines))
			}
			if got.datagrams != 200 {
				t.Errorf("got.datagrams = %v, want 200", got.datagrams)
			}
			if int64(got.bytes) != res.Bytes {
				t.Errorf("int64(got.bytes) = %v, want %v", int64(got.bytes), res.Bytes)
			}
			for i, r := range got.reqs {
				if !headers[mode].MatchString(got.lines[i]) {
					t.Errorf("got.lines[i] = %q, want a match for %s", got.lines[i], headers[mode])
				}
				if r.Envelope != envelopes[mode] {
					t.Errorf("r.Envelope = %v, want %v", r.Envelope, envelopes[mode])
				}
				if len(r.Path) != 100 {
					t.Errorf("len(r.Path) = %d, want 100", len(r.Path))
				}
				if string(r.Protocol) != "HTTP/1.1" {
					t.Errorf("string(r.Protocol) = %q, want \"HTTP/1.1\"", string(r.Protocol))
				}
				if len(r.UserAgent) == 0 {
					t.Error("r.UserAgent is empty")
				}
				if d := r.Time.Sub(start); d < -3*time.Second || d > 3*time.Second {
					t.Errorf("r.Time = %v, want within 3s of %v", r.Time, start)
				}
				if mode != "none" {
					if r.SyslogPriority != 190 {
						t.Errorf("r.SyslogPriority = %v, want 190", r.SyslogPriority)
					}
					if string(r.SyslogTag) != "nginx" {
						t.Errorf("string(r.SyslogTag) = %q, want \"nginx\"", string(r.SyslogTag))
					}
				}
			}
			// Half the paths are unique, the rest cycle through 7.
			if len(got.paths) != 300+7 {
				t.Errorf("len(got.paths) = %d, want %d", len(got.paths), 300+7)
			}
		})
	}
}

func TestSendLoad_EveryTargetGetsTheLoad(t *testing.T) {
	noLeaks(t)
	a := newReceiver(t, "udp4", "127.0.0.1:0")
	b := newReceiver(t, "udp4", "127.0.0.1:0")
	res := sendOK(t, Config{Targets: []string{a.addr, b.addr}, Rate: 20000, Count: 500, Unique: 1})
	if res.Lines != 500 {
		t.Errorf("res.Lines = %v, want 500", res.Lines)
	}
	if len(res.PerTarget) != 2 {
		t.Fatalf("len(res.PerTarget) = %d, want 2", len(res.PerTarget))
	}
	for i, r := range []*receiver{a, b} {
		got := parseReceived(t, r.wait(500))
		if len(got.lines) != 500 {
			t.Errorf("target %d: len(got.lines) = %d, want 500", i, len(got.lines))
		}
		if res.PerTarget[i].Addr != r.addr {
			t.Errorf("res.PerTarget[i].Addr = %q, want %q", res.PerTarget[i].Addr, r.addr)
		}
		if res.PerTarget[i].Lines != 500 {
			t.Errorf("res.PerTarget[i].Lines = %v, want 500", res.PerTarget[i].Lines)
		}
		if res.PerTarget[i].Bytes != int64(got.bytes) {
			t.Errorf("res.PerTarget[i].Bytes = %v, want %v", res.PerTarget[i].Bytes, int64(got.bytes))
		}
		if len(got.paths) != 500 {
			t.Errorf("target %d: every path unique: len(got.paths) = %d, want 500", i, len(got.paths))
		}
	}
	// The same load to both: the same lines in the same order.
	if got := parseReceived(t, b.wait(500)).lines; !slices.Equal(got, parseReceived(t, a.wait(500)).lines) {
		t.Errorf("parseReceived(t, b.wait(500)).lines = %q, want %q", got, parseReceived(t, a.wait(500)).lines)
	}
}

func TestSendLoad_IPv6Loopback(t *testing.T) {
	rcv := newReceiver(t, "udp6", "[::1]:0")
	res := sendOK(t, Config{Targets: []string{rcv.addr}, Count: 100, Rate: 20000})
	if res.PerTarget[0].Lines != 100 {
		t.Errorf("res.PerTarget[0].Lines = %v, want 100", res.PerTarget[0].Lines)
	}
	if got := parseReceived(t, rcv.wait(100)).lines; len(got) != 100 {
		t.Errorf("len(parseReceived(t, rcv.wait(100)).lines) = %d, want 100", len(got))
	}
}

func TestSendLoad_LinesPerDatagram(t *testing.T) {
	t.Run("remainder", func(t *testing.T) {
		rcv := newReceiver(t, "udp4", "127.0.0.1:0")
		res := sendOK(t, Config{Targets: []string{rcv.addr}, Count: 95, LinesPerDatagram: 10, Rate: 20000})
		if res.Datagrams != 10 {
			t.Errorf("res.Datagrams = %v, want 10", res.Datagrams)
		}
		dgs := rcv.wait(95)
		if len(dgs) != 10 {
			t.Fatalf("len(dgs) = %d, want 10", len(dgs))
		}
		counts := map[int]int{}
		for _, d := range dgs {
			counts[bytes.Count(d, []byte{'\n'})+1]++
			if bytes.HasSuffix(d, []byte{'\n'}) {
				t.Error("a datagram ends with a newline: lines are joined, not terminated")
			}
		}
		if want := map[int]int{10: 9, 5: 1}; !maps.Equal(counts, want) {
			t.Errorf("counts = %v, want %v", counts, want)
		}
		if got := parseReceived(t, dgs).lines; len(got) != 95 {
			t.Errorf("len(parseReceived(t, dgs).lines) = %d, want 95", len(got))
		}
	})
	t.Run("split at the datagram limit", func(t *testing.T) {
		rcv := newReceiver(t, "udp4", "127.0.0.1:0")
		const pathLen = 20000
		res := sendOK(t, Config{Targets: []string{rcv.addr}, Count: 12, LinesPerDatagram: 10, PathLength: pathLen, Syslog: "5424", Rate: 5000})
		got := parseReceived(t, rcv.wait(12))
		if len(got.lines) != 12 {
			t.Fatalf("len(got.lines) = %d, want 12", len(got.lines))
		}
		for _, r := range got.reqs {
			if len(r.Path) != pathLen {
				t.Errorf("len(r.Path) = %d, want %d", len(r.Path), pathLen)
			}
		}
		// Three 20 KB lines fill a datagram; a fourth would not fit.
		if res.Datagrams != 4 {
			t.Errorf("res.Datagrams = %v, want 4", res.Datagrams)
		}
		if got.datagrams != 4 {
			t.Errorf("got.datagrams = %v, want 4", got.datagrams)
		}
		for _, d := range rcv.wait(12) {
			if len(d) > MaxDatagramPayload {
				t.Errorf("len(d) = %v, want <= %v", len(d), MaxDatagramPayload)
			}
		}
	})
	t.Run("longest path", func(t *testing.T) {
		rcv := newReceiver(t, "udp4", "127.0.0.1:0")
		res := sendOK(t, Config{Targets: []string{rcv.addr}, Count: 3, LinesPerDatagram: 2, PathLength: MaxPathLength, Syslog: "5424", Unique: 1})
		if res.Datagrams != 3 {
			t.Errorf("res.Datagrams = %v, want 3", res.Datagrams)
		}
		got := parseReceived(t, rcv.wait(3))
		if len(got.lines) != 3 {
			t.Fatalf("len(got.lines) = %d, want 3", len(got.lines))
		}
		if len(got.reqs[2].Path) != MaxPathLength {
			t.Errorf("len(got.reqs[2].Path) = %d, want %d", len(got.reqs[2].Path), MaxPathLength)
		}
	})
}

func TestSendLoad_PathCardinality(t *testing.T) {
	f := func(paths int, unique float64, count int64, wantDistinct, wantUnique int) {
		t.Helper()
		rcv := newReceiver(t, "udp4", "127.0.0.1:0")
		sendOK(t, Config{Targets: []string{rcv.addr}, Count: count, Paths: paths, Unique: unique, PathLength: 40, LinesPerDatagram: 8, Rate: 50000})
		got := parseReceived(t, rcv.wait(int(count)))
		if len(got.lines) != int(count) {
			t.Fatalf("len(got.lines) = %d, want %d", len(got.lines), int(count))
		}
		if len(got.paths) != wantDistinct {
			t.Errorf("paths %d unique %v: len(got.paths) = %d, want %d", paths, unique, len(got.paths), wantDistinct)
		}
		u := 0
		for p, n := range got.paths {
			if len(p) != 40 {
				t.Errorf("len(p) = %d, want 40", len(p))
			}
			if strings.HasPrefix(p, "/u") {
				u++
				if n != 1 {
					t.Errorf("unique path %s sent twice: n = %v, want 1", p, n)
				}
			}
		}
		if math.Abs(float64(u)-float64(wantUnique)) > 1 {
			t.Errorf("unique paths: u = %v, want %v ± %v", u, wantUnique, 1)
		}
	}
	f(1, 0, 1000, 1, 0)
	f(50, 0, 1000, 50, 0)
	f(1, 1, 1000, 1000, 1000)
	f(10, 0.25, 1000, 250+10, 250)
	f(5000, 0, 1000, 1000, 0) // a pool larger than the run
}

func TestLineGen_Deterministic(t *testing.T) {
	now := time.Date(2026, 11, 5, 0, 30, 0, 123e6, time.UTC)
	lines := func(seed int64) []string {
		cfg, err := Config{Count: 1, Paths: 3, Unique: 0.5, Seed: seed}.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		g := newLineGen(cfg, "web01")
		var out []string
		for range 12 {
			out = append(out, string(g.AppendLine(nil, now)))
		}
		return out
	}
	a := lines(1)
	if got := lines(1); !slices.Equal(got, a) {
		t.Errorf("lines(1) = %q, want %q", got, a)
	}
	if got := lines(2); slices.Equal(got, a) {
		t.Errorf("lines(2) = %q, want anything else", got)
	}
}

func TestLineGen_Format(t *testing.T) {
	now := time.Date(2026, 11, 5, 0, 30, 7, 45e6, time.UTC)
	f := func(syslog, wantPrefix string) {
		t.Helper()
		cfg, err := Config{Count: 1, Syslog: syslog, PathLength: 24}.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		g := newLineGen(cfg, "web01")
		line := string(g.AppendLine(nil, now))
		if !strings.HasPrefix(line, wantPrefix) {
			t.Errorf("%q does not start with %q", line, wantPrefix)
		}
		if !strings.Contains(line, " - - [05/Nov/2026:00:30:07 +0000] \"") {
			t.Errorf("line = %q, want it to contain %q", line, " - - [05/Nov/2026:00:30:07 +0000] \"")
		}
		if re := `" [0-9]{3} [0-9]+ "[^"]*" "Mozilla/5.0 [^"]*|curl/8.5.0"$`; !regexp.MustCompile(re).MatchString(line) {
			t.Errorf("line = %q, want a match for %s", line, re)
		}
		var p ingest.Parser
		var r ingest.Request
		if err := p.Parse(&r, []byte(line)); err != nil {
			t.Fatal(err)
		}
		if got := r.Time.UTC(); got != now.Truncate(time.Second) {
			t.Errorf("r.Time.UTC() = %v, want %v", got, now.Truncate(time.Second))
		}
		if len(r.Path) != 24 {
			t.Errorf("len(r.Path) = %d, want 24", len(r.Path))
		}
		if !strings.HasPrefix(string(r.Path), "/") {
			t.Errorf("path %q does not start with /", r.Path)
		}
	}
	f("none", "")
	f("3164", "<190>Nov  5 00:30:07 web01 nginx: ")
	f("5424", "<190>1 2026-11-05T00:30:07.045+00:00 web01 nginx - - - ")

	// One path of length 1 is "/", the path of soak's short-paths scenario.
	cfg, err := Config{Count: 1, PathLength: 1}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	line := string(newLineGen(cfg, "web01").AppendLine(nil, now))
	if !strings.Contains(line, ` / HTTP/1.1"`) {
		t.Errorf("line = %q, want it to contain %q", line, ` / HTTP/1.1"`)
	}
	// Several paths are told apart by their index.
	cfg, err = Config{Count: 1, PathLength: 24, Paths: 2}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	line = string(newLineGen(cfg, "web01").AppendLine(nil, now))
	if !strings.Contains(line, ` /p0`) {
		t.Errorf("line = %q, want it to contain %q", line, ` /p0`)
	}
}

// TestLineGen_MaxLine checks that maxLine bounds every line, the bound
// the datagram slots rely on, with the longest host name.
func TestLineGen_MaxLine(t *testing.T) {
	host := strings.Repeat("h", MaxHostLength)
	now := time.Date(2026, 12, 31, 23, 59, 59, 999e6, time.FixedZone("", -(9*3600+30*60)))
	for _, syslog := range []string{"none", "3164", "5424"} {
		for _, pathLen := range []int{18, 2048, MaxPathLength} {
			cfg, err := Config{Count: 1, Syslog: syslog, PathLength: pathLen, Paths: MaxPaths, Unique: 0.3}.Normalize()
			if err != nil {
				t.Fatal(err)
			}
			g := newLineGen(cfg, host)
			var p ingest.Parser
			var r ingest.Request
			var buf []byte
			for i := range 2000 {
				buf = g.AppendLine(buf[:0], now.Add(time.Duration(i)*time.Millisecond))
				if len(buf) > g.maxLine {
					t.Fatalf("len(buf) = %v, want <= %v", len(buf), g.maxLine)
				}
				if err := p.Parse(&r, buf); err != nil {
					t.Fatalf("%s: %v", buf, err)
				}
				if len(r.Path) != pathLen {
					t.Fatalf("len(r.Path) = %d, want %d", len(r.Path), pathLen)
				}
			}
			if g.maxLine > min(MaxDatagramPayload, ingest.MaxLineLength) {
				t.Errorf("g.maxLine = %v, want <= %v", g.maxLine, min(MaxDatagramPayload, ingest.MaxLineLength))
			}
		}
	}
}

func TestSendLoad_Pacing(t *testing.T) {
	noLeaks(t)
	rcv := newReceiver(t, "udp4", "127.0.0.1:0")
	// 600 lines at 2000 lines/s: the last is due 0.3 s after the first. The
	// sender may be late on a busy machine, never early.
	res := sendOK(t, Config{Targets: []string{rcv.addr}, Rate: 2000, Count: 600})
	if res.Lines != 600 {
		t.Errorf("res.Lines = %v, want 600", res.Lines)
	}
	if res.Elapsed < 290*time.Millisecond || res.Elapsed >= 10*time.Second {
		t.Errorf("sent in %v, want from 290ms to 10s", res.Elapsed)
	}
	if got := parseReceived(t, rcv.wait(600)).lines; len(got) != 600 {
		t.Errorf("received %d lines, want 600", len(got))
	}
}

func TestSendLoad_Duration(t *testing.T) {
	noLeaks(t)
	rcv := newReceiver(t, "udp4", "127.0.0.1:0")
	res := sendOK(t, Config{Targets: []string{rcv.addr}, Rate: 1000, Duration: 300 * time.Millisecond})
	if res.Elapsed < 300*time.Millisecond || res.Elapsed >= 5*time.Second {
		t.Errorf("sent for %v, want from 300ms to 5s", res.Elapsed)
	}
	// Never ahead of the rate: at most 0.3 s of lines plus the batch due at
	// the start. Behind is allowed, within reason.
	if res.Lines > 301 || res.Lines <= 30 {
		t.Errorf("sent %d lines, want 31 to 301", res.Lines)
	}
}

func TestSendLoad_CountUnpaced(t *testing.T) {
	noLeaks(t)
	rcv := newReceiver(t, "udp4", "127.0.0.1:0")
	res := sendOK(t, Config{Targets: []string{rcv.addr}, Count: 10007, LinesPerDatagram: 3})
	if res.Lines != 10007 {
		t.Errorf("res.Lines = %v, want 10007", res.Lines)
	}
	if res.Datagrams != 3336 {
		t.Errorf("res.Datagrams = %v, want 3336", res.Datagrams)
	}
	if res.PerTarget[0].Lines != 10007 {
		t.Errorf("res.PerTarget[0].Lines = %v, want 10007", res.PerTarget[0].Lines)
	}
}

func TestSendLoad_ConnectionRefusedIsCounted(t *testing.T) {
	noLeaks(t)
	for _, batch := range []int{1, 32} {
		t.Run(strconv.Itoa(batch), func(t *testing.T) {
			addr := udptest.DeadAddr(t)
			res := sendOK(t, Config{Targets: []string{addr}, Count: 300, Batch: batch, Rate: 30000})
			if res.Lines != 300 {
				t.Errorf("res.Lines = %v, want 300", res.Lines)
			}
			if res.SendErrors <= 0 {
				t.Errorf("res.SendErrors = %v, want > 0", res.SendErrors)
			}
			tr := res.PerTarget[0]
			if tr.SendErrors != res.SendErrors {
				t.Errorf("tr.SendErrors = %v, want %v", tr.SendErrors, res.SendErrors)
			}
			if tr.Lines+tr.SendErrors != 300 {
				t.Errorf("every datagram accepted or refused: tr.Lines+tr.SendErrors = %v, want 300", tr.Lines+tr.SendErrors)
			}
		})
	}
}

func TestSendLoad_Cancel(t *testing.T) {
	noLeaks(t)
	rcv := newReceiver(t, "udp4", "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var progress bytes.Buffer
	res, err := Send(ctx, Config{Targets: []string{rcv.addr}, Rate: 1000, Duration: time.Minute}, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if res.Elapsed >= 5*time.Second {
		t.Errorf("res.Elapsed = %v, want < %v", res.Elapsed, 5*time.Second)
	}
	if res.Lines <= 0 {
		t.Errorf("res.Lines = %v, want > 0", res.Lines)
	}
	if got := progress.String(); got != "" {
		t.Errorf("no progress line before the first second: progress = %q, want empty", got)
	}
}

func TestSendLoad_Progress(t *testing.T) {
	rcv := newReceiver(t, "udp4", "127.0.0.1:0")
	var progress bytes.Buffer
	res := func() Result {
		res, err := Send(context.Background(), Config{Targets: []string{rcv.addr}, Rate: 500, Duration: 2100 * time.Millisecond}, &progress)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}()
	lines := strings.Split(strings.TrimSuffix(progress.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%s: len(lines) = %d, want 2", progress.String(), len(lines))
	}
	if re := `^ingest send: 1\.[0-9]{3}s: [0-9]+ lines, [0-9]+ lines/s, 0 send errors$`; !regexp.MustCompile(re).MatchString(lines[0]) {
		t.Errorf("lines[0] = %q, want a match for %s", lines[0], re)
	}
	if re := `^ingest send: 2\.[0-9]{3}s: [0-9]+ lines, [0-9]+ lines/s, 0 send errors$`; !regexp.MustCompile(re).MatchString(lines[1]) {
		t.Errorf("lines[1] = %q, want a match for %s", lines[1], re)
	}
	if res.Lines <= 0 {
		t.Errorf("res.Lines = %v, want > 0", res.Lines)
	}
}

func TestSendLoad_SendmmsgBatches(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sendmmsg is Linux's")
	}
	rcv := newReceiver(t, "udp4", "127.0.0.1:0")
	res := sendOK(t, Config{Targets: []string{rcv.addr}, Count: 3200, Batch: 32})
	tr := res.PerTarget[0]
	if tr.Datagrams != 3200 {
		t.Errorf("tr.Datagrams = %v, want 3200", tr.Datagrams)
	}
	// 100 full batches; a partial send would add a call, never remove one.
	if tr.Calls < int64(100) {
		t.Errorf("tr.Calls = %v, want >= %v", tr.Calls, int64(100))
	}
	if tr.Calls >= int64(400) {
		t.Errorf("sendmmsg should send many datagrams per call: tr.Calls = %v, want < %v", tr.Calls, int64(400))
	}

	res = sendOK(t, Config{Targets: []string{rcv.addr}, Count: 100, Batch: 1})
	if res.PerTarget[0].Calls != 100 {
		t.Errorf("batch 1 is one write per datagram: res.PerTarget[0].Calls = %v, want 100", res.PerTarget[0].Calls)
	}
}
