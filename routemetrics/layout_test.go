package routemetrics

import (
	"testing"
	"unsafe"
)

// TestClockOwnCacheLine checks that no 64-byte cache line holds both the
// clock, which every line reads, and a field that lines or inserts write:
// the fields before the clock are set by New only.
func TestClockOwnCacheLine(t *testing.T) {
	var s Store
	c := unsafe.Offsetof(s.clock)
	written := []struct {
		name      string
		off, size uintptr
	}{
		{"series", unsafe.Offsetof(s.series), unsafe.Sizeof(s.series)},
		{"regular", unsafe.Offsetof(s.regular), unsafe.Sizeof(s.regular)},
		{"catchAlls", unsafe.Offsetof(s.catchAlls), unsafe.Sizeof(s.catchAlls)},
		{"unadmitted", unsafe.Offsetof(s.unadmitted), unsafe.Sizeof(s.unadmitted)},
		{"collapsed", unsafe.Offsetof(s.collapsed), unsafe.Sizeof(s.collapsed)},
		{"evicted", unsafe.Offsetof(s.evicted), unsafe.Sizeof(s.evicted)},
		{"evictedRing", unsafe.Offsetof(s.evictedRing), unsafe.Sizeof(s.evictedRing)},
		{"evictedPos", unsafe.Offsetof(s.evictedPos), unsafe.Sizeof(s.evictedPos)},
		{"catchCache", unsafe.Offsetof(s.catchCache), unsafe.Sizeof(s.catchCache)},
		{"sink", unsafe.Offsetof(s.sink), unsafe.Sizeof(s.sink)},
		{"sinkHist", unsafe.Offsetof(s.sinkHist), unsafe.Sizeof(s.sinkHist)},
		{"bytes", unsafe.Offsetof(s.bytes), unsafe.Sizeof(s.bytes)},
		{"overflows", unsafe.Offsetof(s.overflows), unsafe.Sizeof(s.overflows)},
		{"expired", unsafe.Offsetof(s.expired), unsafe.Sizeof(s.expired)},
		{"valueErrs", unsafe.Offsetof(s.valueErrs), unsafe.Sizeof(s.valueErrs)},
		{"scrapeMu", unsafe.Offsetof(s.scrapeMu), unsafe.Sizeof(s.scrapeMu)},
		{"buf", unsafe.Offsetof(s.buf), unsafe.Sizeof(s.buf)},
		{"snap", unsafe.Offsetof(s.snap), unsafe.Sizeof(s.snap)},
	}
	const line = 64
	for _, f := range written {
		// Bytes x of the clock and y of f share a line only if |x-y| < 64.
		if f.off+f.size+line-1 > c && f.off < c+unsafe.Sizeof(s.clock)+line-1 {
			t.Errorf("%s at %d..%d may share a cache line with the clock at %d", f.name, f.off, f.off+f.size, c)
		}
	}
	// Whatever the heap puts before the store is a line away.
	if c < line-unsafe.Sizeof(s.clock) {
		t.Errorf("clock at %d", c)
	}
}
