//go:build unix

package tail

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/routemetrics"
)

// benchLine returns an nginx combined line of exactly size bytes, "\n"
// included, for user id: the path /api/v1/users/<id>/orders, padded with a
// query string.
func benchLine(id, size int) []byte {
	pre := `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /api/v1/users/` + strconv.Itoa(id) + `/orders?q=`
	post := ` HTTP/1.1" 200 1534 "https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0"` + "\n"
	pad := size - len(pre) - len(post)
	if pad < 1 {
		panic("line too short for its fields")
	}
	return []byte(pre + string(bytes.Repeat([]byte{'x'}, pad)) + post)
}

// benchFile writes a file of about 32 MiB of lines of size bytes and
// returns its name and line count.
func benchFile(b *testing.B, size int) (string, int) {
	name := filepath.Join(b.TempDir(), "access.log")
	n := (32 << 20) / size
	buf := make([]byte, 0, n*size)
	for i := range n {
		buf = append(buf, benchLine(i%1000, size)...)
	}
	if err := os.WriteFile(name, buf, 0o644); err != nil {
		b.Fatal(err)
	}
	return name, n
}

// BenchmarkRead reads a file of 250-byte or 2 KiB lines from its start to
// its end, as a pass does (fstat, fingerprint, reads, framing, parsing),
// into a routemetrics.Store: "tail". "memory" is the baseline: the same
// bytes already in memory, framed with bytes.IndexByte, parsed and
// handed to the same kind of Store. One op is the whole file (32 MiB);
// lines/s and ns/line are the figures to compare. Run it with -cpu 1.
func BenchmarkRead(b *testing.B) {
	for _, size := range []int{250, 2048} {
		name, n := benchFile(b, size)
		content, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(strconv.Itoa(size)+"B/tail", func(b *testing.B) {
			store, handled, h := benchStore(b)
			s := newSyncTailer(b, name, h)
			f := s.w.cur
			s.follow() // warm the page cache, the store and the parser
			if *handled != n {
				b.Fatalf("%d lines handed over, want %d", *handled, n)
			}
			_ = store
			perLine(b, n, size, func() {
				f.offset, f.size, f.mtime = 0, 0, 0
				want := *handled + n
				s.follow()
				if *handled != want || f.offset != int64(n*size) {
					b.Fatalf("%d lines handed over, want %d; offset %d", *handled, want, f.offset)
				}
			})
			if st := s.Stats(); st.Parsed != uint64(*handled) || st.ParseErrors != 0 {
				b.Fatalf("stats %+v", st)
			}
		})
		b.Run(strconv.Itoa(size)+"B/memory", func(b *testing.B) {
			_, handled, h := benchStore(b)
			var p ingest.Parser
			var r ingest.Request
			pass := func() {
				want := *handled + n
				for rest := content; len(rest) > 0; {
					i := bytes.IndexByte(rest, '\n')
					if p.Parse(&r, rest[:i]) == nil {
						h.ServeLine(&r)
					}
					rest = rest[i+1:]
				}
				if *handled != want {
					b.Fatalf("%d lines handed over, want %d", *handled, want)
				}
			}
			pass()
			perLine(b, n, size, pass)
		})
	}
}

// benchStore returns a routemetrics.Store behind a handler that counts the
// lines it passes on.
func benchStore(b *testing.B) (*routemetrics.Store, *int, ingest.Handler) {
	store, err := routemetrics.New(routemetrics.Config{})
	if err != nil {
		b.Fatal(err)
	}
	handled := new(int)
	return store, handled, ingest.HandlerFunc(func(r *ingest.Request) {
		store.ServeLine(r)
		*handled++
	})
}

// perLine runs op, which handles n lines of size bytes, in the benchmark
// loop, and reports lines/s, ns/line and allocs/line.
func perLine(b *testing.B, n, size int, op func()) {
	b.SetBytes(int64(n * size))
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start, cpu0 := time.Now(), cpuTime()
	ops := 0
	for b.Loop() {
		op()
		ops++
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	runtime.ReadMemStats(&ms1)
	lines := float64(ops * n)
	b.ReportMetric(lines/elapsed.Seconds(), "lines/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/lines, "ns/line")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/lines, "allocs/line")
	if cpu0 > 0 {
		// The process's CPU time: steadier than the wall time on a
		// shared machine, where the benchmark waits for a core.
		b.ReportMetric(float64(cpu)/lines, "cpu-ns/line")
		b.ReportMetric(lines/(float64(cpu)/1e9), "lines/cpu-s")
	}
}

// cpuTime returns the process's user and system CPU time in nanoseconds,
// or 0 when it cannot be read.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkFollowWrites measures a running Tailer woken by inotify for
// each line written: one op is one line appended and handed over. allocs/op
// is what the event loop allocates per wake.
func BenchmarkFollowWrites(b *testing.B) {
	_, name := tempLog(b)
	if err := os.WriteFile(name, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	var handled atomic.Int64
	r := start(b, Config{Paths: []string{name}, Handler: ingest.HandlerFunc(func(*ingest.Request) { handled.Add(1) })})
	waitFor(b, "the file", func() bool { return r.Stats().Files == 1 })
	if !r.Stats().Inotify {
		b.Skip("no inotify")
	}
	fh, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer fh.Close()
	line := benchLine(1, 250)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	want := int64(0)
	for b.Loop() {
		if _, err := fh.Write(line); err != nil {
			b.Fatal(err)
		}
		want++
		for handled.Load() != want {
			runtime.Gosched()
		}
	}
}
