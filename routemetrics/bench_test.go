package routemetrics

import (
	"io"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flatheap/ingest"
)

// reportCPU reports the process's CPU time per operation since start: on
// a shared machine it is steadier than the wall time ns/op, which counts
// the time the benchmark waited for a core.
func reportCPU(b *testing.B, start int64) {
	if start > 0 && b.N > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

// benchStore returns a store holding the key of r, and that key's entry:
// r is served twice, so that its route is admitted.
func benchStore(b *testing.B, cfg Config, r *ingest.Request) (*Store, *entry) {
	s := mustNew(b, cfg)
	s.ServeLine(r)
	s.ServeLine(r)
	var e *entry
	for i := range s.shards {
		s.shards[i].t.Load().each(func(g *group) {
			if g.kind == kindRegular {
				e = (*g.entries.Load())[0]
			}
		})
	}
	if e == nil {
		b.Fatal("the route was not admitted on its second line")
	}
	return s, e
}

// junkPath10 rewrites the ten letters of p, /wp-admin/xxxxxxxxxx.php,
// with n in base 26: a distinct path for each n, as a scanner sends.
func junkPath10(p []byte, n int) { setLetters(p[10:20], n) }

// nextLetters moves the letters of b, an odometer in base 26, to their next
// value: a distinct value at each call, for 26^len(b) calls, at the cost
// of about one byte written.
func nextLetters(b []byte) {
	for i := range b {
		if b[i] < 'z' {
			b[i]++
			return
		}
		b[i] = 'a'
	}
}

// setLetters writes n in base 26, as letters, over b.
func setLetters(b []byte, n int) {
	for k := range b {
		b[k] = byte('a' + n%26)
		n /= 26
	}
}

func shortRequest() *ingest.Request {
	return &ingest.Request{
		Method: []byte("GET"), Path: []byte("/api/v1/users/84213/orders/9731/items"), Status: 200,
		BodyBytesSent: 512, RequestTime: 12 * time.Millisecond, HasRequestTime: true, Host: []byte("shop.example"),
	}
}

// BenchmarkRouteMetrics measures ServeLine: template the path, look up the
// key, count and observe.
func BenchmarkRouteMetrics(b *testing.B) {
	b.Run("existing-key-short-path", func(b *testing.B) {
		r := shortRequest()
		s, e := benchStore(b, Config{}, r)
		b.ReportAllocs()
		b.SetBytes(int64(len(r.Path)))
		want := e.requests.Load()
		cpu := cpuTime()
		for b.Loop() {
			s.ServeLine(r)
			want++
			if e.requests.Load() != want {
				b.Fatal("line not counted")
			}
		}
		reportCPU(b, cpu)
	})
	b.Run("existing-key-observe", func(b *testing.B) {
		// The store's part alone: no templating.
		r := shortRequest()
		s, e := benchStore(b, Config{}, r)
		o := &Observation{VHost: r.Host, Route: []byte("/api/v1/users/{id}/orders/{id}/items"), Method: r.Method,
			Status: r.Status, ResponseBytes: r.BodyBytesSent, Duration: r.RequestTime, HasDuration: true}
		if s.Observe(o); e.requests.Load() != 2 {
			b.Fatal("the route templater and the Observation disagree")
		}
		before := e.requests.Load()
		b.ReportAllocs()
		cpu := cpuTime()
		n := uint64(0)
		for b.Loop() {
			s.Observe(o)
			n++
			if e.requests.Load() != before+n {
				b.Fatal("line not counted")
			}
		}
		reportCPU(b, cpu)
	})
	b.Run("new-junk-key", func(b *testing.B) {
		// A scanner's path, never seen before: templated, looked up,
		// recorded by the admission filter (a first sighting) and
		// counted in the vhost's {unadmitted} series.
		benchNewJunk(b, Config{})
	})
	b.Run("new-junk-key-small-doorkeeper", func(b *testing.B) {
		// new-junk-key with a doorkeeper of 4,096 keys (128 KiB), which
		// the caches hold: the difference is what the default's 2 MiB
		// costs in cache misses. (Too small for a flood: at 20,000 new
		// paths a second it remembers a first sighting for 0.2 to 0.4 s.)
		benchNewJunk(b, Config{DoorkeeperKeys: 4096})
	})
	b.Run("overflow-2KiB-junk", func(b *testing.B) {
		// First come, first served, as before admission: a full store,
		// and distinct junk paths overflow.
		s := mustNew(b, Config{MaxSeries: 1000, AdmitAfter: 1, NoEviction: true})
		r := shortRequest()
		for i := range 1000 {
			r.Path = []byte("/fill/k" + strconv.Itoa(i))
			s.ServeLine(r)
		}
		if s.Stats().Series != 951 {
			b.Fatalf("%d series after filling, want 950 and an overflow series", s.Stats().Series)
		}
		junk := make([]byte, 2048)
		for i := range junk {
			junk[i] = "abcdefghijklmnopqrstuvwxyz-._~"[i*7%30]
			if i%61 == 0 {
				junk[i] = '/'
			}
		}
		r.Path = junk
		b.ReportAllocs()
		b.SetBytes(int64(len(junk)))
		over := s.overflows.Load()
		n := 0
		cpu := cpuTime()
		for b.Loop() {
			// A distinct path each time.
			junk[100+n%1900] ^= 1
			n++
			s.ServeLine(r)
			over++
			if s.overflows.Load() != over {
				b.Fatal("line not counted as overflow")
			}
		}
		reportCPU(b, cpu)
		if s.Stats().Series > 1000 {
			b.Fatal("over budget")
		}
	})
	b.Run("parallel-one-key", func(b *testing.B) {
		r0 := shortRequest()
		s, e := benchStore(b, Config{}, r0)
		b.ReportAllocs()
		b.SetBytes(int64(len(r0.Path)))
		start := e.requests.Load()
		var lines atomic.Uint64
		b.ResetTimer() // New's tables are not the lines' cost
		b.RunParallel(func(pb *testing.PB) {
			r := shortRequest()
			n := uint64(0)
			for pb.Next() {
				s.ServeLine(r)
				n++
			}
			lines.Add(n)
		})
		if e.requests.Load()-start != lines.Load() {
			b.Fatalf("%d lines counted, %d served", e.requests.Load()-start, lines.Load())
		}
	})
	b.Run("parallel-many-keys", func(b *testing.B) {
		s := mustNew(b, Config{})
		paths := make([][]byte, 64)
		for i := range paths {
			paths[i] = []byte("/api/v1/res" + strconv.Itoa(i) + "/84213/items")
		}
		b.ReportAllocs()
		var seq atomic.Uint64
		var lines atomic.Uint64
		b.ResetTimer() // New's tables are not the lines' cost
		b.RunParallel(func(pb *testing.PB) {
			r := shortRequest()
			i := seq.Add(1) * 17
			n := uint64(0)
			for pb.Next() {
				r.Path = paths[i%uint64(len(paths))]
				i++
				s.ServeLine(r)
				n++
			}
			lines.Add(n)
		})
		var sum uint64
		for i := range s.shards {
			s.shards[i].t.Load().each(func(g *group) {
				for _, e := range *g.entries.Load() {
					sum += e.requests.Load()
				}
			})
		}
		if sum != lines.Load() {
			b.Fatalf("%d lines counted, %d served", sum, lines.Load())
		}
	})
}

// countingWriter counts the bytes written to it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// fill10k returns a store with 10,000 keys, 2,500 groups of four statuses
// of two classes, each class with request and upstream histograms.
func fill10k(tb testing.TB) *Store {
	s := mustNew(tb, Config{MaxSeries: 20000, AdmitAfter: 1}) // each key seen once: admit on sight
	for i := range 2500 {
		for _, st := range []int{200, 201, 500, 503} {
			o := obs("shop.example", "/api/v1/res"+strconv.Itoa(i)+"/{id}", "GET", st)
			o.ResponseBytes = int64(i)
			o.Duration, o.HasDuration = time.Duration(i)*time.Millisecond, true
			o.Upstream, o.HasUpstream = time.Duration(i)*time.Microsecond, true
			s.Observe(o)
		}
	}
	if s.Stats().Series != 10000 {
		tb.Fatalf("%d series", s.Stats().Series)
	}
	return s
}

// BenchmarkWritePrometheus measures a scrape of 10,000 keys with
// histograms.
func BenchmarkWritePrometheus(b *testing.B) {
	s := fill10k(b)
	var w countingWriter
	if err := s.WritePrometheus(&w); err != nil {
		b.Fatal(err)
	}
	size := w.n
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		w.n = 0
		if err := s.WritePrometheus(&w); err != nil || w.n != size {
			b.Fatalf("wrote %d bytes, want %d (%v)", w.n, size, err)
		}
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

var _ io.Writer = (*countingWriter)(nil)

// benchNewJunk measures a line of a path never seen before in a store of
// cfg: a distinct /wp-admin/ path each time, counted in {unadmitted}.
func benchNewJunk(b *testing.B, cfg Config) {
	s := mustNew(b, cfg)
	r := shortRequest()
	r.Status = 404
	r.Path = []byte("/wp-admin/aaaaaaaaaa.php")
	s.ServeLine(r) // the {unadmitted} series exists
	series := s.Stats().Series
	b.ReportAllocs()
	b.SetBytes(int64(len(r.Path)))
	unadmitted := s.unadmitted.Load()
	cpu := cpuTime()
	for b.Loop() {
		nextLetters(r.Path[10:20])
		s.ServeLine(r)
		unadmitted++
		if s.unadmitted.Load() != unadmitted {
			b.Fatal("a new path not counted as unadmitted")
		}
	}
	reportCPU(b, cpu)
	if s.Stats().Series != series {
		b.Fatalf("%d series, want %d: a path seen once got one", s.Stats().Series, series)
	}
}
