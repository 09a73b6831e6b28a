package compare

import (
	"bufio"
	"bytes"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/flatheap/ingest/routemetrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// The exposition comparison: the same 10,000 keys (2,500 routes, four
// statuses each in two classes) counted per line and scraped, by
// routemetrics.Store and by the two metrics libraries a daemon would
// otherwise use. Each peer keeps what the store keeps: a request counter
// and a response-bytes counter per (vhost, route, method, status), and a
// request-time histogram per (vhost, route, method, status class), with the
// same buckets.

const expoRoutes = 2500

var expoStatuses = []int{200, 201, 500, 503}

var expoBuckets = routemetrics.DefaultBuckets

// expoLine is one line's values, with the labels both as bytes (what a
// parser hands over) and as strings made once (the best case for the
// peers, which take strings).
type expoLine struct {
	vhost, route, method []byte
	status               int
	statusS, classS      string
	vhostS, routeS       string
	methodS              string
	bytes                int64
	dur                  time.Duration
}

func expoLines() []expoLine {
	var ls []expoLine
	for i := range expoRoutes {
		route := "/api/v1/res" + strconv.Itoa(i) + "/{id}"
		for _, st := range expoStatuses {
			ls = append(ls, expoLine{
				vhost: []byte("shop.example"), route: []byte(route), method: []byte("GET"),
				status: st, statusS: strconv.Itoa(st), classS: strconv.Itoa(st/100) + "xx",
				vhostS: "shop.example", routeS: route, methodS: "GET",
				bytes: int64(i), dur: time.Duration(i%3000) * time.Millisecond,
			})
		}
	}
	return ls
}

// expoPeer counts lines and writes the exposition.
type expoPeer struct {
	name    string
	observe func(l *expoLine)
	scrape  func(w io.Writer) error
}

func ingestPeer(tb testing.TB) expoPeer {
	// AdmitAfter 1: every key gets its series on its first line, as in
	// the peers, which keep every series they are given.
	s, err := routemetrics.New(routemetrics.Config{MaxSeries: 20000, Buckets: expoBuckets, AdmitAfter: 1})
	if err != nil {
		tb.Fatal(err)
	}
	var o routemetrics.Observation
	return expoPeer{
		name: "ingest",
		observe: func(l *expoLine) {
			o = routemetrics.Observation{VHost: l.vhost, Route: l.route, Method: l.method, Status: l.status,
				ResponseBytes: l.bytes, Duration: l.dur, HasDuration: true}
			s.Observe(&o)
		},
		scrape: s.WritePrometheus,
	}
}

func clientGolangPeer(tb testing.TB) expoPeer {
	reg := prometheus.NewRegistry()
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."},
		[]string{"vhost", "route", "method", "status"})
	resp := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_response_size_bytes_total", Help: "Response bytes."},
		[]string{"vhost", "route", "method", "status"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Request time.",
		Buckets: expoBuckets}, []string{"vhost", "route", "method", "status_class"})
	reg.MustRegister(reqs, resp, dur)
	return expoPeer{
		name: "client_golang",
		observe: func(l *expoLine) {
			reqs.WithLabelValues(l.vhostS, l.routeS, l.methodS, l.statusS).Inc()
			resp.WithLabelValues(l.vhostS, l.routeS, l.methodS, l.statusS).Add(float64(l.bytes))
			dur.WithLabelValues(l.vhostS, l.routeS, l.methodS, l.classS).Observe(l.dur.Seconds())
		},
		scrape: func(w io.Writer) error {
			mfs, err := reg.Gather()
			if err != nil {
				return err
			}
			enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
			for _, mf := range mfs {
				if err := enc.Encode(mf); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// vmPeer builds each series name in a reused buffer and looks it up by
// that name, as the library's API asks: one string per series per line.
// (A name that aliased the buffer would be kept by the Set when new.)
func vmPeer(tb testing.TB) expoPeer {
	set := vm.NewSet()
	var buf []byte
	name := func(family string, l *expoLine, statusLabel, status string) string {
		buf = append(buf[:0], family...)
		buf = append(buf, `{vhost="`...)
		buf = append(buf, l.vhost...)
		buf = append(buf, `",route="`...)
		buf = append(buf, l.route...)
		buf = append(buf, `",method="`...)
		buf = append(buf, l.method...)
		buf = append(buf, `",`...)
		buf = append(buf, statusLabel...)
		buf = append(buf, `="`...)
		buf = append(buf, status...)
		buf = append(buf, `"}`...)
		return string(buf)
	}
	return expoPeer{
		name: "vm-metrics",
		observe: func(l *expoLine) {
			set.GetOrCreateCounter(name("http_requests_total", l, "status", l.statusS)).Inc()
			set.GetOrCreateCounter(name("http_response_size_bytes_total", l, "status", l.statusS)).AddInt64(l.bytes)
			set.GetOrCreatePrometheusHistogramExt(name("http_request_duration_seconds", l, "status_class", l.classS), expoBuckets).
				Update(l.dur.Seconds())
		},
		scrape: func(w io.Writer) error { set.WritePrometheus(w); return nil },
	}
}

var expoPeers = []func(testing.TB) expoPeer{ingestPeer, clientGolangPeer, vmPeer}

// requestsTotal sums the http_requests_total samples of an exposition.
func requestsTotal(tb testing.TB, text []byte) (sum float64, series int) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "http_requests_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			tb.Fatalf("%q: %v", line, err)
		}
		sum += v
		series++
	}
	return sum, series
}

// TestExpositionPeersAgree feeds each peer every key three times and checks
// that each writes 10,000 request series summing to the lines fed.
func TestExpositionPeersAgree(t *testing.T) {
	lines := expoLines()
	for _, mk := range expoPeers {
		p := mk(t)
		for range 3 {
			for i := range lines {
				p.observe(&lines[i])
			}
		}
		var b bytes.Buffer
		if err := p.scrape(&b); err != nil {
			t.Fatal(err)
		}
		sum, n := requestsTotal(t, b.Bytes())
		if sum != float64(3*len(lines)) || n != len(lines) {
			t.Errorf("%s: %v requests in %d series, want %d in %d", p.name, sum, n, 3*len(lines), len(lines))
		}
	}
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkExposition measures, per peer, the cost of counting a line of
// an existing key (line/...) and of a scrape of the 10,000 keys with
// histograms (scrape/...). line/... also reports the live heap the 10,000
// keys hold.
func BenchmarkExposition(b *testing.B) {
	lines := expoLines()
	for _, mk := range expoPeers {
		before := liveHeap()
		p := mk(b)
		for i := range lines {
			p.observe(&lines[i])
		}
		held := float64(int64(liveHeap())-int64(before)) / float64(len(lines))
		b.Run("line/"+p.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.observe(&lines[i])
				if i++; i == len(lines) {
					i = 0
				}
			}
			b.ReportMetric(held, "heap-B/key")
		})
		b.Run("scrape/"+p.name, func(b *testing.B) {
			var cw countWriter
			if err := p.scrape(&cw); err != nil {
				b.Fatal(err)
			}
			size := cw.n
			b.ReportAllocs()
			b.SetBytes(size)
			var sink bytes.Buffer
			for b.Loop() {
				cw.n = 0
				if err := p.scrape(&cw); err != nil {
					b.Fatal(err)
				}
				if cw.n < size {
					b.Fatalf("scrape wrote %d bytes, first one %d", cw.n, size)
				}
			}
			b.StopTimer()
			// The last scrape holds every key.
			if err := p.scrape(&sink); err != nil {
				b.Fatal(err)
			}
			if _, n := requestsTotal(b, sink.Bytes()); n != len(lines) {
				b.Fatalf("%d request series, want %d", n, len(lines))
			}
			b.ReportMetric(float64(size), "bytes/scrape")
		})
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
