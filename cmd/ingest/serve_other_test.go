//go:build !linux

package main

import (
	"context"
	"errors"
	"net"
)

func listenReusePort(context.Context, string) (net.PacketConn, error) {
	return nil, errors.New("SO_REUSEPORT sharing needs Linux")
}
