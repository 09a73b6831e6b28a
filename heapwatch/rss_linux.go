package heapwatch

import (
	"os"
	"syscall"
)

var pageSize = uint64(os.Getpagesize())

// readRSS returns the resident set size from the second field of
// /proc/self/statm (resident pages), without the allocations of os.File.
func readRSS() (uint64, bool) {
	fd, err := syscall.Open("/proc/self/statm", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	var buf [128]byte
	n, err := syscall.Read(fd, buf[:])
	syscall.Close(fd)
	if err != nil || n <= 0 {
		return 0, false
	}
	pages, ok := parseStatm(buf[:n])
	if !ok {
		return 0, false
	}
	return pages * pageSize, true
}
