package keyed

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// benchValue is what the benchmarks keep per key, as a daemon counting
// requests and bytes per path would.
type benchValue struct{ requests, bytes int64 }

func mergeBench(into, from *benchValue) {
	into.requests += from.requests
	into.bytes += from.bytes
}

// benchKey returns a key of n bytes (at least 18), a path whose first
// bytes after the slash are i in 16 hex digits: keys of one length differ
// early, as the paths of a flood do.
func benchKey(n int, i uint64) []byte {
	key := make([]byte, n)
	for j := range key {
		key[j] = "abcdefghijklmnop"[j%16]
	}
	key[0] = '/'
	setKey(key, i)
	return key
}

// setKey writes i into key as benchKey does: the cost of making a new key
// in the miss cases.
func setKey(key []byte, i uint64) {
	const hex = "0123456789abcdef"
	for j := 16; j >= 1; j-- {
		key[j] = hex[i&15]
		i >>= 4
	}
}

// benchEntries is the capacity of the tables: serve's --max-paths.
const benchEntries = 10000

func newBenchTable(b *testing.B) *Table[benchValue] {
	t, err := New(Config[benchValue]{MaxEntries: benchEntries, MaxBytes: 64 << 20, Merge: mergeBench})
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// add counts one request of size bytes under key.
func add(t *Table[benchValue], key []byte, size int64) bool {
	return t.Update(key, func(v *benchValue) { v.requests++; v.bytes += size })
}

// BenchmarkUpdate counts one request per iteration, as
// BenchmarkUpdate/<case> (bench/compare's BenchmarkKeyed runs the same
// cases beside a map under a mutex and an otter cache):
//   - hit-40B, hit-2KiB: a key held, among 1,000 held keys of that length
//     cycled through;
//   - miss-40B, miss-2KiB: a key never seen before, in a full table (a
//     one-off path of a flood).
//
// Each iteration checks whether the key was held, as the case expects.
func BenchmarkUpdate(b *testing.B) {
	for _, c := range []struct {
		name string
		n    int
		hit  bool
	}{{"hit-40B", 40, true}, {"hit-2KiB", 2048, true}, {"miss-40B", 40, false}, {"miss-2KiB", 2048, false}} {
		b.Run(c.name, func(b *testing.B) { benchUpdate(b, newBenchTable(b), c.n, c.hit) })
	}
}

// hotKeys is the number of keys the hit cases cycle through.
const hotKeys = 1000

func benchUpdate(b *testing.B, t *Table[benchValue], n int, hit bool) {
	keys := make([][]byte, hotKeys)
	for i := range keys {
		keys[i] = benchKey(n, uint64(i))
		add(t, keys[i], 1)
	}
	key := benchKey(n, 0)
	if !hit {
		// Fill the table: three times its capacity, each key seen once.
		for i := range 3 * benchEntries {
			setKey(key, uint64(hotKeys+i))
			add(t, key, 1)
		}
	}
	next := uint64(1 << 40)
	b.ReportAllocs()
	b.SetBytes(int64(n))
	i := 0
	for b.Loop() {
		if hit {
			if !add(t, keys[i], 1) {
				b.Fatal("a held key was not found")
			}
			if i++; i == hotKeys {
				i = 0
			}
			continue
		}
		next++
		setKey(key, next)
		if add(t, key, 1) {
			b.Fatal("a one-off key got an entry in a full table")
		}
	}
}

// BenchmarkUpdateParallel is the hit-40B case under b.RunParallel: every
// goroutine cycles through the same held keys, from its own offset.
func BenchmarkUpdateParallel(b *testing.B) {
	t := newBenchTable(b)
	keys := make([][]byte, hotKeys)
	for i := range keys {
		keys[i] = benchKey(40, uint64(i))
		add(t, keys[i], 1)
	}
	b.ReportAllocs()
	b.SetBytes(40)
	var offset atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(offset.Add(hotKeys / 7))
		for pb.Next() {
			if !add(t, keys[i%hotKeys], 1) {
				panic("a held key was not found")
			}
			i++
		}
	})
}

// BenchmarkTop ranks a full table of 10,000 40-byte keys, reusing dst.
func BenchmarkTop(b *testing.B) {
	t, err := New(Config[benchValue]{MaxEntries: benchEntries, Merge: mergeBench})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 4 * benchEntries {
		t.Update(benchKey(40, uint64(i)), func(v *benchValue) { v.requests += int64(i % 97) })
	}
	held := t.Len()
	var dst []Entry[benchValue]
	b.ReportAllocs()
	for b.Loop() {
		var top []Entry[benchValue]
		top, _ = t.Top(dst, 20, func(a, b *benchValue) int { return int(b.requests - a.requests) })
		if len(top) != 20 || top[0].Value.requests < top[19].Value.requests {
			b.Fatal(fmt.Sprint("not ranked: ", len(top)))
		}
		dst = top[:0]
	}
	b.ReportMetric(float64(held), "entries")
}
