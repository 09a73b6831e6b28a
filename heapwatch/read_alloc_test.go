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
