package heapwatch

import (
	"syscall"
	"testing"
)

// Memory mapped outside the Go heap and touched shows in RSS and not in the
// runtime's figures: what OffHeap growth looks like. (Go heap memory is a
// poorer probe: the runtime may reuse pages that are already resident.)
func TestRead_RSS(t *testing.T) {
	const size = 32 << 20
	before := Read()
	if !before.RSSKnown {
		t.Fatal("RSS unknown on Linux")
	}
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	for i := 0; i < size; i += 4096 {
		mem[i] = 1
	}
	after := Read()
	if after.RSS <= before.RSS+size*3/4 {
		t.Errorf("RSS %d after touching 32 MiB, was %d", after.RSS, before.RSS)
	}
	if after.Retained() >= before.Retained()+size/4 {
		t.Errorf("retained %d after an mmap outside the heap, was %d", after.Retained(), before.Retained())
	}
}
