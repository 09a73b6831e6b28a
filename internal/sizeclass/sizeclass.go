// Package sizeclass tells how many heap bytes an allocation takes: the Go
// runtime rounds every small allocation up to one of its size classes, and
// a large one up to whole pages. The bounded structures of the module use
// it to charge their budgets with what the heap really holds, not with the
// lengths they asked for.
package sizeclass

// classes are the runtime's small object size classes, 8 bytes to 32 KiB
// (runtime/sizeclasses.go, unchanged since Go 1.13). TestClasses checks
// them against what the running runtime allocates.
var classes = [...]uint16{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
	2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
	10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// MaxSmall is the largest small object; larger ones take whole pages.
const MaxSmall = 32 << 10

// pageSize is the runtime's page, the unit of large objects.
const pageSize = 8 << 10

// Of returns the heap bytes an allocation of n bytes with no pointers
// takes: its size class, or whole 8 KiB pages above MaxSmall. It returns
// 0 for n <= 0.
func Of(n int) int {
	if n <= 0 {
		return 0
	}
	if n > MaxSmall {
		return (n + pageSize - 1) &^ (pageSize - 1)
	}
	// A binary search over 67 classes: 7 steps.
	lo, hi := 0, len(classes)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if int(classes[mid]) < n {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return int(classes[lo])
}

// mallocHeaderMin is the size above which an object that holds pointers
// carries an 8-byte header of its own (Go 1.22 and later).
const mallocHeaderMin = 512

// WithPointers returns the heap bytes of an allocation of n bytes that
// holds pointers: as Of, with the 8-byte header the runtime puts before
// such objects larger than 512 bytes.
func WithPointers(n int) int {
	if n > mallocHeaderMin && n <= MaxSmall-8 {
		return Of(n + 8)
	}
	return Of(n)
}
