package sizeclass

import (
	"reflect"
	"runtime"
	"testing"
)

// TestClasses checks Of against the runtime: append rounds the capacity
// of a new slice up to the size the allocator gives it.
func TestClasses(t *testing.T) {
	check := func(n int) {
		t.Helper()
		if got := cap(append([]byte(nil), make([]byte, n)...)); Of(n) != got {
			t.Fatalf("Of(%d) = %d, the runtime allocates %d", n, Of(n), got)
		}
	}
	for n := 1; n <= 2048; n++ {
		check(n)
	}
	// Above, each class's edges, and the pages of large objects.
	for _, c := range classes {
		check(int(c) - 1)
		check(int(c))
		check(int(c) + 1)
	}
	for n := MaxSmall; n <= MaxSmall+3*pageSize; n += pageSize / 2 {
		check(n)
		check(n + 1)
	}
	if Of(0) != 0 || Of(-1) != 0 {
		t.Fatalf("Of(0), Of(-1) = %d, %d; want 0, 0", Of(0), Of(-1))
	}
}

func TestWithPointers(t *testing.T) {
	for _, c := range []struct{ n, want int }{{24, 24}, {512, 512}, {513, 576}, {568, 576}, {569, 640}, {MaxSmall, MaxSmall}} {
		if got := WithPointers(c.n); got != c.want {
			t.Errorf("WithPointers(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

// TestWithPointersRuntime measures what the runtime allocates for objects
// holding pointers, from runtime.MemStats.TotalAlloc.
func TestWithPointersRuntime(t *testing.T) {
	ptr := reflect.TypeFor[*byte]()
	for _, words := range []int{3, 64, 65, 71, 72, 100, 1000, 4095} {
		typ := reflect.ArrayOf(words, ptr)
		const count = 1000
		var before, after runtime.MemStats
		keep := make([]reflect.Value, 0, count)
		runtime.ReadMemStats(&before)
		for range count {
			keep = append(keep, reflect.New(typ))
		}
		runtime.ReadMemStats(&after)
		// A few bytes of other allocations (reflect's, the runtime's) may
		// land in the same interval.
		per := int(after.TotalAlloc-before.TotalAlloc) / count
		if n := words * 8; per < WithPointers(n) || per >= WithPointers(n)+16 {
			t.Errorf("%d bytes with pointers: the runtime allocates %d, WithPointers says %d", n, per, WithPointers(n))
		}
		runtime.KeepAlive(keep)
	}
}
