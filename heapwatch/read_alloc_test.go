//go:build !race

package heapwatch

import "testing"

// Read reuses its metrics.Sample array; only the RSS path costs an
// allocation (the path string given to the open system call).
func TestRead_Allocs(t *testing.T) {
	Read()
	if got := testing.AllocsPerRun(100, func() { sinkSample = Read() }); got > 1 {
		t.Errorf("Read: %v allocations, want at most 1", got)
	}
}

// Monitor.Read adds one allocation, the budgets' slice, to Read's.
func TestMonitorRead_Allocs(t *testing.T) {
	m := New(Config{})
	var n int64
	for _, name := range []string{"interner", "paths"} {
		if err := m.Track(name, func() Usage { return Usage{Bytes: n, LimitBytes: 1 << 20} }); err != nil {
			t.Fatal(err)
		}
	}
	m.Read()
	if got := testing.AllocsPerRun(100, func() { sinkSample = m.Read() }); got > 2 {
		t.Errorf("Monitor.Read: %v allocations, want at most 2", got)
	}
	if len(sinkSample.Budgets) != 2 {
		t.Errorf("%d budgets read, want 2", len(sinkSample.Budgets))
	}
}
