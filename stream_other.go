//go:build !linux

package ingest

import "net"

// drainSupported: a stopping Server reads only what it has in its buffers.
const drainSupported = false

// drainConn is an accepted connection. Here a stopping Server reads only
// what it has already read into its buffer: the kernel's queue is neither
// read nor counted.
type drainConn struct{ net.Conn }

func newDrainConn(nc net.Conn) *drainConn { return &drainConn{Conn: nc} }

func (d *drainConn) startDrain() bool { return false }

func (d *drainConn) unread() (int, bool) { return 0, false }
