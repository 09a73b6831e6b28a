//go:build amd64 || arm64

package admission

// prefetch asks the CPU to bring the cache line at addr into its caches,
// without waiting for it: unlike a load, the instruction retires at once,
// so the work after it goes on whether the line comes from memory or not.
// addr need not be valid; it is only a hint.
//
//go:noescape
func prefetch(addr uintptr)
