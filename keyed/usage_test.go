//go:build !race

package keyed

import (
	"fmt"
	"math"
	"runtime"
	"testing"
)

// TestUsageMatchesHeap fills tables with keys of a few lengths, up to
// their budgets, and compares the heap they grew by with what Usage
// reports: the fixed tables, each entry's value and key. The race
// detector changes allocation sizes: not under it.
func TestUsageMatchesHeap(t *testing.T) {
	live := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	for _, c := range []struct {
		keyLen, entries, bytes int
	}{
		{40, 10000, 0},         // the entry budget binds
		{200, 10000, 0},        // so does it
		{2048, 10000, 4 << 20}, // the byte budget binds
		{3000, 2000, 0},        // keys of 3000 bytes in 3072-byte objects
	} {
		t.Run(fmt.Sprint(c.keyLen), func(t *testing.T) {
			before := live()
			tab := newCounts(t, Config[count]{MaxEntries: c.entries, MaxBytes: c.bytes})
			key := benchKey(c.keyLen, 0)
			for i := range 3 * c.entries {
				setKey(key, uint64(i))
				tab.Update(key, inc)
			}
			grown := live() - before
			u := tab.Usage()
			if rel := math.Abs(float64(u.Bytes-grown)) / float64(grown); rel > 0.02 {
				t.Errorf("grew %d, Usage().Bytes %d, %.1f%% off; want within 2%%", grown, u.Bytes, 100*rel)
			} else {
				t.Logf("%d entries: grew %d, Usage().Bytes %d (limit %d), %.1f%% off", u.Entries, grown, u.Bytes, u.LimitBytes, 100*rel)
			}
			if u.Bytes > u.LimitBytes || u.Entries > u.LimitEntries {
				t.Errorf("over budget: %+v", u)
			}
			runtime.KeepAlive(tab)
		})
	}
}
