//go:build unix && !linux

package tail

import "syscall"

// mtimeOf returns 0, unknown: the field's name differs among these systems,
// and without it every change is checked in full.
func mtimeOf(*syscall.Stat_t) int64 { return 0 }
