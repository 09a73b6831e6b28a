package ingest

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newBatchReader returns a recvmmsg reader when conn exposes its file
// descriptor, and the portable reader otherwise.
func newBatchReader(conn net.PacketConn, drops *dropCounter, maxDatagram, batch int) batchReader {
	if rc := rawConn(conn); rc != nil {
		return newMmsgReader(rc, drops, maxDatagram, batch)
	}
	return newPortableReader(conn, maxDatagram)
}

// oobSize is the control buffer per datagram: room for the SO_RXQ_OVFL
// message (24 bytes) and a few others the socket's owner may have turned
// on. Messages that do not fit are cut (MSG_CTRUNC) and ignored.
const oobSize = 64

// mmsgReader reads batches of datagrams with recvmmsg(2) through the
// socket's syscall.RawConn, so the runtime's poller does the waiting. It
// owns every buffer the kernel writes into, allocated once: nothing is
// allocated per read or per datagram.
type mmsgReader struct {
	rc     syscall.RawConn
	drops  *dropCounter
	max    int // MaxDatagram
	slot   int // MaxDatagram+1, one buffer
	hdrs   []unix.Mmsghdr
	iovs   []unix.Iovec
	names  []unix.RawSockaddrInet6 // big enough for IPv4 too
	oob    []byte                  // len(hdrs) slots of oobSize
	bufs   []byte                  // len(hdrs) slots of MaxDatagram+1
	n      int                     // datagrams from the last read
	waited bool                    // the last read found the queue empty
	errno  syscall.Errno
	recvFn func(fd uintptr) bool // m.recv, bound once so that read does not allocate
	nowFn  func(fd uintptr)      // m.recv for RawConn.Control, for readNow
}

func newMmsgReader(rc syscall.RawConn, drops *dropCounter, maxDatagram, batch int) *mmsgReader {
	m := &mmsgReader{
		rc:    rc,
		drops: drops,
		max:   maxDatagram,
		slot:  maxDatagram + 1,
		hdrs:  make([]unix.Mmsghdr, batch),
		iovs:  make([]unix.Iovec, batch),
		names: make([]unix.RawSockaddrInet6, batch),
		oob:   make([]byte, batch*oobSize),
	}
	m.bufs = make([]byte, batch*m.slot)
	for i := range m.hdrs {
		m.iovs[i].Base = &m.bufs[i*m.slot]
		m.iovs[i].SetLen(m.slot)
		h := &m.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&m.names[i]))
		h.Iov = &m.iovs[i]
		h.SetIovlen(1)
		h.Control = &m.oob[i*oobSize]
	}
	m.reset(batch)
	m.recvFn = m.recv
	m.nowFn = func(fd uintptr) { m.recv(fd) }
	return m
}

// reset restores the in-out fields the kernel overwrote in the first k
// headers.
func (m *mmsgReader) reset(k int) {
	for i := range k {
		h := &m.hdrs[i]
		h.Hdr.Namelen = unix.SizeofSockaddrInet6
		h.Hdr.SetControllen(oobSize)
		h.Hdr.Flags = 0
		h.Len = 0
	}
}

// recv is the RawConn.Read callback: one non-blocking recvmmsg. It returns
// false to make the poller wait when nothing is queued.
func (m *mmsgReader) recv(fd uintptr) bool {
	for {
		// Raw: a call with MSG_DONTWAIT never blocks, and the runtime's
		// bookkeeping for a system call that might (entersyscall) would
		// wake its monitor thread when it sleeps: measurably more CPU
		// per read at low rates.
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.hdrs[0])),
			uintptr(len(m.hdrs)), unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
		switch e {
		case 0:
			m.n = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			m.waited = true
			return false
		}
		m.errno = e
		return true
	}
}

func (m *mmsgReader) read() (int, error) {
	m.waited = false
	m.reset(m.n)
	m.n = 0
	if err := m.rc.Read(m.recvFn); err != nil {
		return 0, err
	}
	if e := m.errno; e != 0 {
		m.errno = 0
		return 0, e
	}
	m.afterRead()
	return m.n, nil
}

// readNow is read without waiting: one recvmmsg call through
// RawConn.Control, which ignores the read deadline that wakes the readers
// when the Server stops. It returns 0 and no error when nothing is queued,
// and the error of Control (net.ErrClosed once the socket is closed) or of
// recvmmsg otherwise.
func (m *mmsgReader) readNow() (int, error) {
	m.reset(m.n)
	m.n = 0
	if err := m.rc.Control(m.nowFn); err != nil {
		return 0, err
	}
	if e := m.errno; e != 0 {
		m.errno = 0
		return 0, os.NewSyscallError("recvmmsg", e)
	}
	m.afterRead()
	return m.n, nil
}

// afterRead collects the kernel's drop counts from the control messages of
// the datagrams just read.
func (m *mmsgReader) afterRead() {
	for i := range m.n {
		if l := int(m.hdrs[i].Hdr.Controllen); l > 0 {
			m.controlMessages(m.oob[i*oobSize : i*oobSize+min(l, oobSize)])
		}
	}
}

// controlMessages scans one datagram's control messages for SO_RXQ_OVFL.
// unix.ParseOneSocketControlMessage does not allocate, also on a malformed
// message (TestControlMessages).
func (m *mmsgReader) controlMessages(b []byte) {
	for len(b) >= unix.SizeofCmsghdr {
		h, data, rest, err := unix.ParseOneSocketControlMessage(b)
		if err != nil {
			return
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(data) >= 4 {
			m.drops.observe(binary.NativeEndian.Uint32(data))
		}
		b = rest
	}
}

func (m *mmsgReader) bufferBytes() int { return len(m.bufs) + len(m.oob) }

func (m *mmsgReader) batch() int { return len(m.hdrs) }

func (m *mmsgReader) idle() bool { return m.waited }

// pauser returns the socket's pauser, or nil.
func (m *mmsgReader) pauser() pauser {
	if p, ok := m.rc.(pauser); ok {
		return p
	}
	return nil
}

// datagram returns the i-th datagram. recv passes MSG_TRUNC, so the kernel
// reports a datagram's length as sent even when it did not fit its buffer.
func (m *mmsgReader) datagram(i int) ([]byte, netip.AddrPort, int, bool) {
	h := &m.hdrs[i]
	size := int(h.Len)
	n := min(size, m.slot)
	off := i * m.slot
	truncated := size > m.max || h.Hdr.Flags&unix.MSG_TRUNC != 0
	return m.bufs[off : off+n : off+n], sockaddrAddrPort(&m.names[i], h.Hdr.Namelen), size, truncated
}

// sockaddrAddrPort converts the sender's address as the kernel wrote it,
// without allocating. IPv4-mapped IPv6 addresses are unmapped; an IPv6 zone
// (scope ID) is not kept.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6, namelen uint32) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		if namelen < unix.SizeofSockaddrInet4 {
			break
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), networkPort(&sa4.Port))
	case unix.AF_INET6:
		if namelen < unix.SizeofSockaddrInet6 {
			break
		}
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), networkPort(&sa.Port))
	}
	return netip.AddrPort{}
}

// networkPort reads a port stored in network byte order.
func networkPort(p *uint16) uint16 {
	return binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(p))[:])
}
