package heapwatch

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Memory mapped outside the Go heap and touched shows in RSS and not in the
// runtime's figures: what OffHeap growth looks like. (Go heap memory is a
// poorer probe: the runtime may reuse pages that are already resident.)
func TestRead_RSS(t *testing.T) {
	const size = 32 << 20
	before := Read()
	require.True(t, before.RSSKnown)
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	require.NoError(t, err)
	defer syscall.Munmap(mem)
	for i := 0; i < size; i += 4096 {
		mem[i] = 1
	}
	after := Read()
	assert.Greater(t, after.RSS, before.RSS+size*3/4)
	assert.Less(t, after.Retained(), before.Retained()+size/4)
}
