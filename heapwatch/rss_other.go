//go:build !linux

package heapwatch

// readRSS reports RSS as unknown: there is no /proc/self/statm here.
func readRSS() (uint64, bool) { return 0, false }
