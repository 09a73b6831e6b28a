//go:build !race

package main

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/internal/pathtable"
)

// The heap accounting of the ingest receiver's budgets once its Interner
// evicts: half a second of work, which the race detector stretches to half
// a minute on the 2-vCPU VM while checking no concurrency.

// TestTrackedEstimates_Evicted checks the ingest receiver's budgets once
// the Interner has evicted paths that the path table still keeps as keys:
// those keys stay alive through the table alone, and the paths budget must
// count them, or the heap they hold grows outside every declared budget.
func TestTrackedEstimates_Evicted(t *testing.T) {
	live := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	path := func(set byte, i int) []byte {
		// One slash, 600 bytes: shortened to the Interner's MaxLen, 495
		// bytes of prefix and a checksum.
		p := fmt.Appendf(nil, "/%c%016x-", set, i)
		for len(p) < 600 {
			p = append(p, 'a'+byte(len(p)%26))
		}
		return p
	}
	within := func(what string, grown, est int64) {
		t.Helper()
		if rel := math.Abs(float64(est-grown)) / float64(grown); rel > 0.15 {
			t.Errorf("%s: grew %d, tracked %d, %.1f%% off; want within 15%%", what, grown, est, 100*rel)
		} else {
			t.Logf("%s: grew %d, tracked %d, %.1f%% off", what, grown, est, 100*rel)
		}
	}
	const n = 4000
	in := ingest.NewInterner(soakInterner)
	ir := &ingestReceiver{paths: in, table: pathtable.New(in, n)}
	m := heapwatch.New(heapwatch.Config{})
	if err := ir.track(m); err != nil {
		t.Fatal(err)
	}
	tracked := func() int64 {
		var sum int64
		for _, b := range m.Budgets() {
			sum += b.Bytes
		}
		return sum
	}

	before, trackedBefore := live(), tracked()
	var r ingest.Request
	for i := range n {
		r.Path = path('a', i)
		ir.table.ServeLine(&r) // a first sighting, counted under <other>
		ir.table.ServeLine(&r) // stored now, and given its entry
	}
	keys, evictedBytes := ir.table.Usage()
	if keys != n || evictedBytes != 0 {
		t.Fatalf("before eviction: Usage() = %d, %d; want %d, 0", keys, evictedBytes, n)
	}
	within("before eviction", live()-before, tracked()-trackedBefore)

	// Other paths fill the Interner past its byte budget, so that it
	// evicts most of the table's keys.
	for i := range 20000 {
		b := path('b', i)
		for range 4 { // seen more often than the table's paths: the Interner prefers them
			in.Intern(b)
		}
	}
	grown, est := live()-before, tracked()-trackedBefore
	keys, evictedBytes = ir.table.Usage()
	t.Logf("%d bytes of keys only the table holds; interner %+v", evictedBytes, in.Stats())
	if keys != n {
		t.Fatalf("keys = %d, want %d", keys, n)
	}
	if evictedBytes <= n/2*int64(soakInterner.MaxLen) {
		t.Fatalf("the Interner evicted most of the table's keys of %d bytes: evictedBytes = %d, want > %d",
			soakInterner.MaxLen, evictedBytes, n/2*soakInterner.MaxLen)
	}
	within("after eviction", grown, est)
	runtime.KeepAlive(ir)
}
