//go:build !race

package admission

import (
	"testing"
	"time"
)

var sinkInt int

func testAllocs(t *testing.T, name string, fn func()) {
	t.Helper()
	if n := testing.AllocsPerRun(1000, fn); n != 0 {
		t.Errorf("%s: %v allocs per run, want 0", name, n)
	}
}

func TestNoAllocs(t *testing.T) {
	f := mustNew(t, Config{})
	key := []byte("/wp-admin/qzkfjxbw.php")
	seen := f.Hash(key)
	f.Record(seen)
	h := uint64(1)
	t0 := time.Now()
	var c Count
	c.Start(f, 2, 1)
	total := uint64(1)
	testAllocs(t, "Hash", func() { sinkInt = int(f.Hash(key)) })
	testAllocs(t, "Record, first sighting", func() { h += 0x9e3779b97f4a7c15; sinkInt = f.Record(h) })
	testAllocs(t, "Record, later sighting", func() { sinkInt = f.Record(seen) })
	testAllocs(t, "Touch and RecordMixed", func() { h += 0x9e3779b97f4a7c15; sinkInt = f.RecordMixed(f.Touch(h)) })
	testAllocs(t, "Estimate", func() { sinkInt = f.Estimate(seen) })
	testAllocs(t, "Admit", func() {
		if f.Admit(HotEstimate, MaxEstimate) {
			sinkInt++
		}
	})
	testAllocs(t, "Tick", func() { t0 = t0.Add(time.Second); f.Tick(t0) })
	testAllocs(t, "Halve", func() { f.Halve() })
	testAllocs(t, "Count.Value", func() { total++; sinkInt = c.Value(f, total) })
}
