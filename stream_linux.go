package ingest

import (
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// drainSupported: a stopping Server reads what the kernel holds for each
// connection, and counts what is left in Stats.BytesUnread.
const drainSupported = true

// drainConn is an accepted connection that, once the Server stops, reads
// what the kernel holds for it without waiting, through its RawConn: the
// read deadline that woke the connection stays in the past, and
// RawConn.Control does not look at it. A TLS connection reads through it,
// so what it drains is decrypted as usual.
type drainConn struct {
	net.Conn
	rc     syscall.RawConn // nil when the connection has no descriptor
	budget int             // bytes still to drain; -1 until draining
	// The arguments and results of rawRead, bound once so that reading
	// allocates nothing.
	b      []byte
	n      int
	errno  error
	readFn func(fd uintptr)
}

func newDrainConn(nc net.Conn) *drainConn {
	d := &drainConn{Conn: nc, budget: -1}
	if sc, ok := nc.(syscall.Conn); ok {
		d.rc, _ = sc.SyscallConn()
	}
	d.readFn = d.rawRead
	return d
}

func (d *drainConn) rawRead(fd uintptr) {
	for {
		d.n, d.errno = unix.Read(int(fd), d.b)
		if d.errno != unix.EINTR {
			return
		}
	}
}

// Read reads from the connection, or, once draining, what is left of the
// budget, without waiting: errDrained when it is spent or nothing is
// queued.
func (d *drainConn) Read(b []byte) (int, error) {
	if d.budget < 0 {
		return d.Conn.Read(b)
	}
	if d.budget == 0 || len(b) == 0 {
		return 0, errDrained
	}
	d.b = b[:min(len(b), d.budget)]
	err := d.rc.Control(d.readFn)
	n, e := d.n, d.errno
	d.b = nil
	switch {
	case err != nil:
		return 0, err
	case e == unix.EAGAIN:
		return 0, errDrained
	case e != nil:
		return 0, e
	case n == 0:
		return 0, io.EOF
	}
	d.budget -= n
	return n, nil
}

// startDrain makes Read drain what the kernel holds for the connection now
// and no more, and reports whether it can.
func (d *drainConn) startDrain() bool {
	n, ok := d.unread()
	if !ok {
		return false
	}
	d.budget = n
	return true
}

// unread returns the bytes the kernel holds for the connection, not yet
// read (SIOCINQ), and whether it could tell.
func (d *drainConn) unread() (int, bool) {
	if d.rc == nil {
		return 0, false
	}
	var n int
	var e error
	if err := d.rc.Control(func(fd uintptr) { n, e = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || e != nil {
		return 0, false
	}
	return n, true
}
