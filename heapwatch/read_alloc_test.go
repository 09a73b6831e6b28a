//go:build !race

package heapwatch

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Read reuses its metrics.Sample array; only the RSS path costs an
// allocation (the path string given to the open system call).
func TestRead_Allocs(t *testing.T) {
	Read()
	got := testing.AllocsPerRun(100, func() { sinkSample = Read() })
	assert.LessOrEqual(t, got, 1.0)
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
	got := testing.AllocsPerRun(100, func() { sinkSample = m.Read() })
	assert.LessOrEqual(t, got, 2.0)
	assert.Len(t, sinkSample.Budgets, 2)
}
