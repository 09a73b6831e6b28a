//go:build !race

package ingest

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// The race detector adds allocations and shadow memory, so allocation
// counts and live-heap bounds are tested without it.

var internSink string

// internAllocs returns the average allocations of fn over 200 runs.
func internAllocs(fn func()) float64 { return testing.AllocsPerRun(200, fn) }

// maphashAllocates reports whether hash/maphash allocates in this build. It
// does with the purego tag: the standard library then swaps the runtime's
// hasher for a portable one that goes through reflection, and every Intern
// and Lookup allocates in it.
func maphashAllocates() bool {
	seed := maphash.MakeSeed()
	return testing.AllocsPerRun(10, func() { internSeedSink = maphash.Comparable(seed, "/nowhere") }) > 0
}

var internSeedSink uint64

func TestInternerAllocs(t *testing.T) {
	if maphashAllocates() {
		t.Skip("hash/maphash allocates in this build (the purego tag)")
	}
	in := NewInterner(InternerConfig{MaxLen: 128})
	short := []byte(benchPath(7))
	long := []byte("/long/" + strings.Repeat("x", 4000))
	for range 2 {
		in.Intern(short)
		in.Intern(long)
	}
	f := func(name string, want float64, fn func()) {
		t.Helper()
		if got := internAllocs(fn); got != want {
			t.Errorf("%s: %v allocations per call, want %v", name, got, want)
		}
	}
	f("hit", 0, func() { internSink = in.Intern(short) })
	f("hit on a shortened value", 0, func() { internSink = in.Intern(long) })
	f("Lookup hit", 0, func() { internSink, _ = in.Lookup(short) })
	f("Lookup miss", 0, func() { internSink, _ = in.Lookup([]byte("/nowhere")) })
	f("empty", 0, func() { internSink = in.Intern(nil) })
	var buf []byte
	var n uint64
	f("miss, first sighting", 1, func() {
		buf = oneOffPath(buf, n)
		n++
		internSink = in.Intern(buf)
	})
	// Stored on the second sighting: one allocation, the stored copy.
	var seen [][]byte
	for i := range 300 {
		p := oneOffPath(nil, 1<<40+uint64(i))
		in.Intern(p)
		seen = append(seen, p)
	}
	i := 0
	f("miss, admitted", 1, func() {
		internSink = in.Intern(seen[i])
		i++
	})
	if _, ok := in.Lookup(seen[0]); !ok {
		t.Error("the second sighting was not stored")
	}
}

func TestRequestCloneAllocs(t *testing.T) {
	var p Parser
	var r Request
	if err := p.Parse(&r, []byte(cloneLine)); err != nil {
		t.Fatal(err)
	}
	r.Clone().Release() // warm the pools
	if got := internAllocs(func() { r.Clone().Release() }); got != 0 {
		t.Errorf("Clone+Release: %v allocations, want 0", got)
	}
	var kept []*OwnedRequest
	if got := internAllocs(func() { kept = append(kept[:0], r.Clone()) }); got != 3 {
		t.Errorf("Clone without Release: %v allocations, want 3", got)
	}
}

// liveHeap returns the bytes of heap found live by a full collection.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// internerHeapBound is what an Interner may hold on the heap: its tables,
// and per stored value its bytes plus the 2-byte header, rounded up to a
// size class (at most 1/8 more above 128 bytes, at most 16 bytes below).
func internerHeapBound(in *Interner, maxEntries, maxBytes int) uint64 {
	tab := in.table()
	tables := int(unsafe.Sizeof(*tab)) + len(tab.shards)*int(unsafe.Sizeof(tab.shards[0]))
	for i := range tab.shards {
		sh := &tab.shards[i]
		tables += len(sh.sets)*int(unsafe.Sizeof(sh.sets[0])) + len(sh.sketch) + cap(sh.scratch)*4
	}
	values := maxBytes + maxBytes/8 + maxEntries*(entryHeader+16)
	return uint64(tables + values)
}

// checkLiveHeap fails t if the heap grew by more than bound plus slack
// since before.
func checkLiveHeap(t *testing.T, before, bound uint64) {
	t.Helper()
	const slack = 256 << 10 // the test's own data and runtime noise
	after := liveHeap()
	grew := int64(after) - int64(before)
	t.Logf("live heap grew %d bytes; bound %d + %d slack", grew, bound, slack)
	if grew > int64(bound+slack) {
		t.Errorf("live heap grew %d bytes, bound %d + %d slack", grew, bound, slack)
	}
}

// TestInternerMillionDistinct interns a million distinct paths, each twice
// so that each passes admission: entries, bytes and the live heap stay
// within the bounds. Without eviction the values alone would take 50 MB.
func TestInternerMillionDistinct(t *testing.T) {
	const maxEntries, maxBytes = 10_000, 256 << 10
	before := liveHeap()
	in := NewInterner(InternerConfig{MaxEntries: maxEntries, MaxBytes: maxBytes})
	buf := make([]byte, 0, 64)
	for i := range 1_000_000 {
		buf = strconv.AppendInt(append(buf[:0], "/api/v2/catalog/items/"...), int64(i), 10)
		buf = append(buf, "/reviews"...)
		in.Intern(buf)
		if s := in.Intern(buf); len(s) != len(buf) {
			t.Fatal("wrong value")
		}
	}
	st := checkInterner(t, in, maxEntries, maxBytes)
	if st.Evictions == 0 {
		t.Fatalf("nothing evicted: %+v", st)
	}
	checkLiveHeap(t, before, internerHeapBound(in, maxEntries, maxBytes))
	runtime.KeepAlive(in)
	t.Logf("%+v", st)
}

// TestInterner64KiBValues interns 2,000 distinct 64 KiB values, each
// twice: none is stored whole, and the heap stays within the bounds.
// Stored whole they would take 128 MB.
func TestInterner64KiBValues(t *testing.T) {
	const maxEntries, maxBytes, maxLen = 1000, 64 << 10, 256
	before := liveHeap()
	in := NewInterner(InternerConfig{MaxEntries: maxEntries, MaxBytes: maxBytes, MaxLen: maxLen})
	v := bytes.Repeat([]byte("/segment"), 64<<10/8)
	for i := range 2000 {
		copy(v[len(v)-16:], strconv.AppendInt(make([]byte, 0, 16), int64(1e15+i), 10))
		for range 2 {
			if s := in.Intern(v); len(s) > maxLen || !strings.HasPrefix(s, "/segment/") {
				t.Fatalf("Intern returned %d bytes: %.40q...", len(s), s)
			}
		}
	}
	st := checkInterner(t, in, maxEntries, maxBytes)
	if st.TooLong != 4000 || st.Entries == 0 {
		t.Fatalf("Stats = %+v", st)
	}
	checkLiveHeap(t, before, internerHeapBound(in, maxEntries, maxBytes))
	runtime.KeepAlive(in)
	t.Logf("%+v", st)
}

// TestInternerUsage compares Usage with the heap an Interner grew by as it
// stored values of a few lengths, and with its limit. The race detector
// changes allocation sizes: not under it.
func TestInternerUsage(t *testing.T) {
	live := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	for _, n := range []int{10, 100, 500} {
		before := live()
		in := NewInterner(InternerConfig{MaxEntries: 20000, MaxBytes: 4 << 20})
		v := make([]byte, n)
		for i := range 30000 {
			copy(v, fmt.Sprintf("/%016x/", i))
			in.Intern(v)
			in.Intern(v)
		}
		grown := live() - before
		u := in.Usage()
		if rel := math.Abs(float64(u.Bytes-grown)) / float64(grown); rel > 0.05 {
			t.Errorf("values of %d bytes: grew %d, Usage().Bytes %d, %.1f%% off; want within 5%%", n, grown, u.Bytes, 100*rel)
		}
		if u.Bytes > u.LimitBytes || u.Entries > u.LimitEntries {
			t.Errorf("values of %d bytes: over the limits: %+v", n, u)
		}
		runtime.KeepAlive(in)
	}
}
