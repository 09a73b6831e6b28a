package ingest

import (
	"syscall"
	"testing"
)

// TestIndexEitherPageEnd puts b at the very end of a readable page followed
// by one that cannot be read: a search that loads a byte past b faults.
func TestIndexEitherPageEnd(t *testing.T) {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	for i := range page {
		mem[i] = 'a'
	}
	for n := 0; n <= 200; n++ {
		b := mem[page-n : page]
		for _, at := range []int{-1, n / 2, n - 1} {
			if at >= n {
				continue
			}
			if at >= 0 {
				b[at] = '?'
			}
			want := indexEitherSlow(b, '"', '?')
			for _, v := range indexEitherVariants() {
				if got := v.fn(b, '"', '?'); got != want {
					t.Fatalf("%s over %d bytes at a page end = %d, want %d", v.name, n, got, want)
				}
			}
			if at >= 0 {
				b[at] = 'a'
			}
		}
	}
}
