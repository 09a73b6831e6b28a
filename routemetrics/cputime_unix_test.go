//go:build unix

package routemetrics

import "syscall"

// cpuTime returns the process's user and system CPU time in nanoseconds,
// or 0 when it cannot be read.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
