//go:build !linux

package main

import (
	"context"
	"errors"
	"net"
)

// reusePortSupported: --reuse-port needs Linux's load-balancing
// SO_REUSEPORT.
const reusePortSupported = false

func listenReusePort(context.Context, string) (net.PacketConn, error) {
	return nil, errors.New("--reuse-port needs Linux")
}
