package loadgen

import (
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newSender returns a sendmmsg sender for batches of more than one
// datagram, and one write per datagram otherwise.
func newSender(conn *net.UDPConn, batch int) (datagramSender, error) {
	if batch <= 1 {
		return &writeSender{conn: conn}, nil
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	return newMmsgSender(rc, batch), nil
}

// mmsgSender sends batches with sendmmsg(2) through the socket's
// syscall.RawConn, so the runtime's poller does the waiting when the
// socket buffer is full. The socket is connected: the headers carry no
// address. Its headers are allocated once; send does not allocate.
type mmsgSender struct {
	rc      syscall.RawConn
	hdrs    []unix.Mmsghdr
	iovs    []unix.Iovec
	failed  []bool // the caller's, during send
	off, n  int    // the next datagram to send, and the batch size
	errno   syscall.Errno
	ncalls  int64
	writeFn func(fd uintptr) bool // s.write, bound once so that send does not allocate
}

func newMmsgSender(rc syscall.RawConn, batch int) *mmsgSender {
	s := &mmsgSender{
		rc:   rc,
		hdrs: make([]unix.Mmsghdr, batch),
		iovs: make([]unix.Iovec, batch),
	}
	for i := range s.hdrs {
		s.hdrs[i].Hdr.Iov = &s.iovs[i]
		s.hdrs[i].Hdr.SetIovlen(1)
	}
	s.writeFn = s.write
	return s
}

func (s *mmsgSender) send(dgs [][]byte, failed []bool) (int, error) {
	for i, d := range dgs {
		if len(d) == 0 {
			s.iovs[i].Base = nil
		} else {
			s.iovs[i].Base = &d[0]
		}
		s.iovs[i].SetLen(len(d))
		s.hdrs[i].Len = 0
	}
	s.off, s.n, s.failed = 0, len(dgs), failed
	err := s.rc.Write(s.writeFn)
	done := s.off
	s.failed = nil
	if err != nil {
		return done, err
	}
	if e := s.errno; e != 0 {
		s.errno = 0
		return done, os.NewSyscallError("sendmmsg", e)
	}
	return done, nil
}

// write is the RawConn.Write callback: sendmmsg until the batch is sent.
// A partial send goes on from the first datagram not sent. A counted error
// (countedErrno) is the kernel refusing the datagram at s.off: it is marked
// and skipped. write returns false to make the poller wait when the socket
// buffer is full.
func (s *mmsgSender) write(fd uintptr) bool {
	for s.off < s.n {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.hdrs[s.off])),
			uintptr(s.n-s.off), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case e == 0 && n > 0:
			s.ncalls++
			s.off += int(n)
		case e == 0: // no datagram sent and no error: never expected
			s.errno = unix.EIO
			return true
		case e == unix.EINTR:
		case e == unix.EAGAIN:
			return false
		case countedErrno(e):
			s.ncalls++
			s.failed[s.off] = true
			s.off++
		default:
			s.errno = e
			return true
		}
	}
	return true
}

func (s *mmsgSender) calls() int64 { return s.ncalls }
