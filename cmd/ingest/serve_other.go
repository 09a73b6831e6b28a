//go:build !linux

package main

import (
	"time"
)

// reusePortSupported: --reuse-port needs Linux's load-balancing
// SO_REUSEPORT.
const reusePortSupported = false

// processCPU is not implemented here: process_cpu_seconds_total is left
// out.
func processCPU() (time.Duration, bool) { return 0, false }
