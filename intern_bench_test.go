package ingest

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"
)

// Interner workloads, shared by the benchmarks and the tests:
//
//	hit-short   one 41-byte path, stored before the timer starts
//	hit-2k      one 2,048-byte path, stored (MaxLen 4096)
//	miss        a new 41-byte path on every call: each is a first sighting
//	zipf-mixed  70% of calls pick one of 1,000 paths by Zipf rank (s = 1),
//	            30% are one-off paths; capacity 256 entries
const (
	benchZipfPaths    = 1000
	benchZipfCapacity = 256
	benchOneOffShare  = 0.3
)

// benchPath returns the i-th path of the Zipf set: 41 bytes for i < 1e6.
func benchPath(i int) string { return fmt.Sprintf("/api/v2/catalog/items/%06d/reviews.json", i) }

// oneOffPath writes a 41-byte path unique to n into dst and returns it.
func oneOffPath(dst []byte, n uint64) []byte {
	dst = append(dst[:0], "/search/query/"...)
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[n>>uint(shift)&15])
	}
	return append(dst, "/pages.html"...)
}

// zipfCDF returns the cumulative distribution of ranks 1..n with exponent 1.
func zipfCDF(n int) []float64 {
	cdf := make([]float64, n)
	sum := 0.0
	for k := 1; k <= n; k++ {
		sum += 1 / float64(k)
		cdf[k-1] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return cdf
}

// zipfTrace returns n accesses: a path index in [0, paths), or -1 for a
// one-off path. The seed is fixed, so every run sees the same trace.
func zipfTrace(n, paths int, oneOff float64) []int32 {
	r := rand.New(rand.NewPCG(1, 2))
	cdf := zipfCDF(paths)
	tr := make([]int32, n)
	for i := range tr {
		if r.Float64() < oneOff {
			tr[i] = -1
			continue
		}
		tr[i] = int32(sort.SearchFloat64s(cdf, r.Float64()))
	}
	return tr
}

func BenchmarkIntern(b *testing.B) {
	benchIntern(b, false)
}

func BenchmarkInternParallel(b *testing.B) {
	benchIntern(b, true)
}

func benchIntern(b *testing.B, parallel bool) {
	short := []byte(benchPath(123))
	long := []byte("/" + strings.Repeat("abcdefghijklmno/", 2048/16)[:2047])
	hitCase := func(name string, in *Interner, path []byte) {
		in.Intern(path)
		want := in.Intern(path) // stored on its second sighting
		if _, ok := in.Lookup(path); !ok {
			b.Fatalf("%s: not stored", name)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(path)))
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					p := append([]byte(nil), path...)
					for pb.Next() {
						if s := in.Intern(p); unsafe.StringData(s) != unsafe.StringData(want) {
							panic("not a hit")
						}
					}
				})
				return
			}
			for b.Loop() {
				if s := in.Intern(path); unsafe.StringData(s) != unsafe.StringData(want) {
					b.Fatal("not a hit")
				}
			}
		})
	}
	hitCase("hit-short", NewInterner(InternerConfig{}), short)
	hitCase("hit-2k", NewInterner(InternerConfig{MaxLen: 4096}), long)

	b.Run("miss", func(b *testing.B) {
		in := NewInterner(InternerConfig{})
		b.ReportAllocs()
		b.SetBytes(int64(len(oneOffPath(nil, 0))))
		if parallel {
			var seq atomic.Uint64
			b.RunParallel(func(pb *testing.PB) {
				base := seq.Add(1) << 40
				var buf []byte
				for n := base; pb.Next(); n++ {
					buf = oneOffPath(buf, n)
					if s := in.Intern(buf); len(s) != len(buf) {
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
			if s := in.Intern(buf); len(s) != len(buf) {
				b.Fatal("bad result")
			}
		}
	})

	b.Run("zipf-mixed", func(b *testing.B) {
		paths := make([][]byte, benchZipfPaths)
		for i := range paths {
			paths[i] = []byte(benchPath(i))
		}
		trace := zipfTrace(1<<16, benchZipfPaths, benchOneOffShare)
		in := NewInterner(InternerConfig{MaxEntries: benchZipfCapacity})
		for _, i := range trace { // warm up
			if i >= 0 {
				in.Intern(paths[i])
			}
		}
		before := in.Stats()
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
					if s := in.Intern(p); len(s) != len(p) {
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
			if s := in.Intern(p); len(s) != len(p) {
				b.Fatal("bad result")
			}
		}
		st := in.Stats()
		hits, misses := st.Hits-before.Hits, st.Misses-before.Misses
		b.ReportMetric(float64(hits)/float64(hits+misses), "hit-ratio")
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
