//go:build !race

package keyed

import (
	"cmp"
	"testing"
)

// testAllocs fails when fn allocates.
func testAllocs(t *testing.T, name string, fn func()) {
	t.Helper()
	if n := testing.AllocsPerRun(200, fn); n != 0 {
		t.Errorf("%s: %v allocations, want 0", name, n)
	}
}

var sinkBool bool

// TestNoAllocs pins the allocation contract: an update of a held key, of
// a key refused an entry and of a key too long, with a closure that
// captures the line's variables, a Get, a Snapshot and Top into a dst with
// room, Stats and Usage allocate nothing.
func TestNoAllocs(t *testing.T) {
	tab := newCounts(t, Config[count]{MaxEntries: 1000, MaxKeyLen: 100})
	for i := range 3000 {
		tab.Update(benchKey(40, uint64(i)), inc)
	}
	held := benchKey(40, 0)
	if !tab.Update(held, inc) {
		t.Fatal("the first key has no entry")
	}
	size := int64(3)
	add := func(c *count) { c.n += size }
	testAllocs(t, "Update of a held key", func() { sinkBool = tab.Update(held, add) })

	fresh := benchKey(40, 0)
	next := uint64(1 << 40)
	testAllocs(t, "Update of a one-off key in a full table", func() {
		next++
		setKey(fresh, next)
		if tab.Update(fresh, func(c *count) { c.n += size }) {
			panic("a one-off key got an entry")
		}
	})
	long := benchKey(101, 7)
	testAllocs(t, "Update of a key too long", func() { sinkBool = tab.Update(long, add) })
	testAllocs(t, "Get", func() { _, sinkBool = tab.Get(held) })

	dst, _ := tab.Snapshot(nil)
	testAllocs(t, "Snapshot", func() { dst, _ = tab.Snapshot(dst) })
	byCount := func(a, b *count) int { return cmp.Compare(b.n, a.n) }
	testAllocs(t, "Top", func() { dst, _ = tab.Top(dst, 20, byCount) })
	testAllocs(t, "Stats", func() { sinkBool = tab.Stats().Entries > 0 })
	testAllocs(t, "Usage", func() { sinkBool = tab.Usage().Entries > 0 })
}
