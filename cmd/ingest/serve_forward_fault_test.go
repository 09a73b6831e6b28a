package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flatheap/ingest/internal/realtest"
)

// forwardSender sends serve lines of forwardPath over UDP, in chunks, each
// once serve counted the one before: a loaded machine then drops none in
// the kernel, and every line sent is a line serve handed to its sinks.
type forwardSender struct {
	t        *testing.T
	conn     net.Conn
	httpAddr string
	next     int // the next line's number
}

func newForwardSender(t *testing.T, udpAddr, httpAddr string) *forwardSender {
	conn, err := net.Dial("udp", udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &forwardSender{t: t, conn: conn, httpAddr: httpAddr}
}

// send sends n lines with paths of 2 KiB.
func (s *forwardSender) send(n int) {
	t := s.t
	t.Helper()
	base := scrape(t, s.httpAddr)["ingest_lines_total"]
	for i := range n {
		if _, err := s.conn.Write([]byte(serveLine(forwardPath(s.next, 2048), 200))); err != nil {
			t.Fatal(err)
		}
		s.next++
		if i%200 == 199 || i == n-1 {
			waitMetric(t, s.httpAddr, "ingest_lines_total", base+float64(i+1))
		}
	}
}

// testServeForwardRestart runs serve with a jsonline sink to a real
// VictoriaLogs, stops the store (SIGTERM) for outage while lines keep
// coming (at least until the buffer has dropped some, with untilDropped),
// starts it again on the same port and data, sends more, stops serve, and
// returns serve's final counts of the sink and what the store holds: lines
// stored (n) and distinct paths (uniq).
func testServeForwardRestart(t *testing.T, outage time.Duration, untilDropped bool, args ...string) (lines int, c map[string]string, n, uniq int) {
	vl := realtest.StartVictoriaLogs(t)
	url := "jsonline+http://" + vl.Addr + "/insert/jsonline"
	cmd, udpAddr, httpAddr, stdout := startServe(t, append([]string{"--forward", url}, args...)...)
	sink := func(family, label string) float64 {
		return scrape(t, httpAddr)[family+`{sink="`+url+`",`+label+`}`]
	}
	s := newForwardSender(t, udpAddr, httpAddr)
	s.send(1000)
	realtest.WaitFor(t, "lines sent before the outage", func() bool { return sink("ingest_forward_records_total", `result="sent"`) > 0 })

	vl.Stop()
	down := time.Now()
	// Lines during the whole outage, 200 every 100 ms at most.
	for time.Since(down) < outage || untilDropped && sink("ingest_forward_dropped_total", `reason="budget"`) == 0 {
		if s.next > 200_000 {
			t.Fatalf("%d lines sent and nothing dropped", s.next)
		}
		s.send(200)
		time.Sleep(100 * time.Millisecond)
	}
	realtest.WaitFor(t, "a failed attempt", func() bool {
		return sink("ingest_forward_batches_total", `result="failed_network"`) > 0
	})
	m := scrape(t, httpAddr)
	t.Logf("down for %v, %d lines sent meanwhile, buffer %v of %v bytes", time.Since(down), s.next-1000,
		m["ingest_forward_budget_bytes"], m["ingest_forward_budget_limit_bytes"])
	if m["ingest_forward_budget_bytes"] > m["ingest_forward_budget_limit_bytes"] {
		t.Errorf("buffer %v over its limit %v", m["ingest_forward_budget_bytes"], m["ingest_forward_budget_limit_bytes"])
	}
	vl.Start()

	s.send(1000)
	lines = s.next
	totals, perInput := stopServe(t, cmd, stdout)
	if totals["lines"] != strconv.Itoa(lines) {
		t.Fatalf("serve counted %s lines, want %d", totals["lines"], lines)
	}
	c = inputCounts(t, perInput, "forward "+url)
	t.Logf("%d lines: %v", lines, c)
	dropped, _ := strconv.Atoi(c["dropped"])
	realtest.WaitFor(t, "the store holds every line sent", func() bool { return vl.Count(`path:~"^/fw/"`) >= lines-dropped })
	row := vl.Stats(`path:~"^/fw/"`, "count() as n, count_uniq(path) as u")
	n, _ = strconv.Atoi(row["n"])
	uniq, _ = strconv.Atoi(row["u"])
	return lines, c, n, uniq
}

// TestServeForwardStoreRestart: VictoriaLogs stopped for 5 s while lines
// come in, then started again. With the default --forward-buffer, which
// holds the outage, every line is stored and none is dropped; a line
// stored twice was retried.
func TestServeForwardStoreRestart(t *testing.T) {
	lines, c, n, uniq := testServeForwardRestart(t, 5*time.Second, false)
	retried, _ := strconv.Atoi(c["retried"])
	if c["dropped"] != "0" || c["rejected"] != "0" || c["sent"] != strconv.Itoa(lines) {
		t.Errorf("final counts %v of %d lines", c, lines)
	}
	if retried == 0 {
		t.Error("nothing was retried: the outage was not seen")
	}
	if uniq != lines || n-uniq > retried {
		t.Errorf("the store holds %d lines, %d distinct, of %d sent; %d retried", n, uniq, lines, retried)
	}
}

// TestServeForwardStoreRestartSmallBuffer: the same with a --forward-buffer
// too small for the outage: the store misses exactly the lines serve
// counted as dropped, and sent + dropped is every line.
func TestServeForwardStoreRestartSmallBuffer(t *testing.T) {
	lines, c, n, uniq := testServeForwardRestart(t, time.Second, true, "--forward-buffer", "64KiB")
	sent, _ := strconv.Atoi(c["sent"])
	dropped, _ := strconv.Atoi(c["dropped"])
	retried, _ := strconv.Atoi(c["retried"])
	if dropped == 0 || c["dropped_budget"] != c["dropped"] || c["rejected"] != "0" || sent+dropped != lines {
		t.Errorf("final counts %v of %d lines", c, lines)
	}
	if uniq != lines-dropped || n-uniq > retried {
		t.Errorf("the store holds %d lines, %d distinct, want %d - %d dropped; %d retried", n, uniq, lines, dropped, retried)
	}
}

// TestServeForwardBadStore: a store that answers 500, or never answers.
// serve keeps receiving and counting every line (the route metrics too),
// the buffer stays within --forward-buffer, and every line is counted as
// dropped: by the buffer while serve runs, at the stop for what is left.
func TestServeForwardBadStore(t *testing.T) {
	for _, mode := range []string{"500", "hang"} {
		t.Run(mode, func(t *testing.T) {
			var requests atomic.Int64
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				if mode == "hang" {
					select {
					case <-release:
					case <-r.Context().Done():
					}
					return
				}
				http.Error(w, "overloaded", http.StatusInternalServerError)
			}))
			defer srv.Close()
			defer close(release)
			url := "jsonline+" + srv.URL + "/insert/jsonline"
			cmd, udpAddr, httpAddr, stdout := startServe(t, "--forward", url, "--forward-buffer", "64KiB", "--forward-grace", "1s")
			series := func(family, label string) string { return family + `{sink="` + url + `",` + label + `}` }
			s := newForwardSender(t, udpAddr, httpAddr)
			for scrape(t, httpAddr)[series("ingest_forward_dropped_total", `reason="budget"`)] == 0 {
				if s.next > 200_000 {
					t.Fatalf("%d lines sent and nothing dropped", s.next)
				}
				s.send(200)
			}
			realtest.WaitFor(t, "a request reached the store", func() bool { return requests.Load() > 0 })
			if mode == "500" {
				realtest.WaitFor(t, "a 500 counted", func() bool {
					return scrape(t, httpAddr)[series("ingest_forward_batches_total", `result="failed_status"`)] > 0
				})
			}
			// The buffer is full: serve still receives, and counts.
			s.send(1000)
			m := scrape(t, httpAddr)
			if m["ingest_forward_budget_bytes"] > 64<<10 || m["ingest_forward_budget_limit_bytes"] != 64<<10 {
				t.Errorf("buffer %v of %v bytes", m["ingest_forward_budget_bytes"], m["ingest_forward_budget_limit_bytes"])
			}
			if got := sumValues(routeTotals(m)); got != float64(s.next) {
				t.Errorf("route metrics count %v lines, want %d", got, s.next)
			}
			checkPromtool(t, httpAddr)
			totals, perInput := stopServe(t, cmd, stdout)
			c := inputCounts(t, perInput, "forward "+url)
			t.Logf("%d lines, %d requests: %v", s.next, requests.Load(), c)
			budget, _ := strconv.Atoi(c["dropped_budget"])
			shutdown, _ := strconv.Atoi(c["dropped_shutdown"])
			if totals["lines"] != strconv.Itoa(s.next) || c["sent"] != "0" || c["dropped"] != strconv.Itoa(s.next) ||
				budget == 0 || budget+shutdown != s.next {
				t.Errorf("final counts %v, %v of %d lines", totals, c, s.next)
			}
		})
	}
}
