//go:build !linux

package main

import (
	"context"
	"errors"
	"net"
	"time"
)

// reusePortSupported: --reuse-port needs Linux's load-balancing
// SO_REUSEPORT.
const reusePortSupported = false

func listenReusePort(context.Context, string) (net.PacketConn, error) {
	return nil, errors.New("--reuse-port needs Linux")
}

// processCPU is not implemented here: process_cpu_seconds_total is left
// out.
func processCPU() (time.Duration, bool) { return 0, false }
