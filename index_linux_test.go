package ingest

import (
	"syscall"
	"testing"
)

// guardedPage returns a readable page followed by one that cannot be read.
func guardedPage(t *testing.T) []byte {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	return mem[:page:page]
}

// TestQuoteMasksPageEnd runs the vector quoteMasks over lines that end
// where readable memory does.
func TestQuoteMasksPageEnd(t *testing.T) {
	page := guardedPage(t)
	for i := range page {
		page[i] = "ab\"?"[i%4]
	}
	for n := 0; n <= 300; n++ {
		b := page[len(page)-n:]
		var want lineMasks
		quoteMasksGeneric(b, &want)
		for _, v := range quoteMasksVariants() {
			if n < v.minLen {
				continue
			}
			var got lineMasks
			v.fn(b, &got)
			if got != want {
				t.Fatalf("%s over %d bytes at a page end differs from quoteMasksGeneric", v.name, n)
			}
		}
	}
}

// TestIndexEitherPageEnd puts b at the very end of a readable page followed
// by one that cannot be read: a search that loads a byte past b faults.
func TestIndexEitherPageEnd(t *testing.T) {
	mem := guardedPage(t)
	page := len(mem)
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
