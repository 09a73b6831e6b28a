package compare

import (
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"
)

// internCapacity is the capacity of the bounded peers in the hit and miss
// workloads: ingest's default MaxEntries.
const internCapacity = 1 << 16

// BenchmarkIntern runs each workload (see zipfTrace and the list in
// intern_peers_test.go) on each peer, as BenchmarkIntern/<workload>/<peer>.
// Each iteration checks its result: a hit must return the stored string
// itself, a miss a string of the right length.
func BenchmarkIntern(b *testing.B) { benchInternPeers(b, false) }

// BenchmarkInternParallel is BenchmarkIntern under b.RunParallel, with
// GOMAXPROCS goroutines sharing one peer.
func BenchmarkInternParallel(b *testing.B) { benchInternPeers(b, true) }

func benchInternPeers(b *testing.B, parallel bool) {
	short := []byte(zipfPath(123))
	long := []byte("/" + strings.Repeat("abcdefghijklmno/", 2048/16)[:2047])
	for _, w := range []struct {
		name string
		path []byte
	}{{"hit-short", short}, {"hit-2k", long}} {
		b.Run(w.name, func(b *testing.B) {
			for _, p := range internPeers {
				b.Run(p.name, func(b *testing.B) {
					in := p.new(internCapacity, false)
					in.intern(w.path)
					want := in.intern(w.path) // ingest stores on the second sighting
					if in.intern(w.path) != want {
						b.Fatal("not stored")
					}
					b.ReportAllocs()
					b.SetBytes(int64(len(w.path)))
					if parallel {
						b.RunParallel(func(pb *testing.PB) {
							path := append([]byte(nil), w.path...)
							for pb.Next() {
								if s := in.intern(path); unsafe.StringData(s) != unsafe.StringData(want) {
									panic("not a hit")
								}
							}
						})
						return
					}
					for b.Loop() {
						if s := in.intern(w.path); unsafe.StringData(s) != unsafe.StringData(want) {
							b.Fatal("not a hit")
						}
					}
				})
			}
		})
	}

	b.Run("miss", func(b *testing.B) {
		for _, p := range internPeers {
			b.Run(p.name, func(b *testing.B) {
				in := p.new(internCapacity, false)
				b.ReportAllocs()
				b.SetBytes(int64(len(oneOffPath(nil, 0))))
				if parallel {
					var seq atomic.Uint64
					b.RunParallel(func(pb *testing.PB) {
						var buf []byte
						for n := seq.Add(1) << 40; pb.Next(); n++ {
							buf = oneOffPath(buf, n)
							if s := in.intern(buf); len(s) != len(buf) {
								panic("bad result")
							}
						}
					})
					return
				}
				var buf []byte
				var n uint64
				for b.Loop() {
					buf = oneOffPath(buf, n)
					n++
					if s := in.intern(buf); len(s) != len(buf) {
						b.Fatal("bad result")
					}
				}
			})
		}
	})

	b.Run("zipf-mixed", func(b *testing.B) {
		paths := make([][]byte, zipfPaths)
		for i := range paths {
			paths[i] = []byte(zipfPath(i))
		}
		trace := zipfTrace(1<<16, zipfPaths, oneOffShare)
		for _, p := range internPeers {
			b.Run(p.name, func(b *testing.B) {
				in := p.new(zipfCapacity, false)
				for _, i := range trace { // warm up
					if i >= 0 {
						in.intern(paths[i])
					}
				}
				b.ReportAllocs()
				b.SetBytes(int64(len(paths[0])))
				if parallel {
					var seq atomic.Uint64
					b.RunParallel(func(pb *testing.PB) {
						id := seq.Add(1)
						n, k := id<<40, int(id*7919)
						var buf []byte
						for pb.Next() {
							p := zipfNext(trace, paths, k, &buf, &n)
							k++
							if s := in.intern(p); len(s) != len(p) {
								panic("bad result")
							}
						}
					})
					return
				}
				var buf []byte
				var n uint64
				k := 0
				for b.Loop() {
					p := zipfNext(trace, paths, k, &buf, &n)
					k++
					if s := in.intern(p); len(s) != len(p) {
						b.Fatal("bad result")
					}
				}
			})
		}
	})
}

// zipfNext returns access k of the trace, repeated cyclically: a Zipf path,
// or a new one-off path written into *buf from the counter *n.
func zipfNext(trace []int32, paths [][]byte, k int, buf *[]byte, n *uint64) []byte {
	if i := trace[k&(len(trace)-1)]; i >= 0 {
		return paths[i]
	}
	*buf = oneOffPath(*buf, *n)
	*n++
	return *buf
}
