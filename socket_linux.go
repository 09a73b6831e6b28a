package ingest

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reusePortSupported: Config.ReusePort takes effect (SO_REUSEPORT, one
// socket per reader).
const reusePortSupported = true

// truncatedLengthKnown: the reader learns a truncated datagram's length as
// sent (recvmmsg with MSG_TRUNC), and Stats.Bytes counts it.
const truncatedLengthKnown = true

func listenConfig(reusePort bool) net.ListenConfig {
	if !reusePort {
		return net.ListenConfig{}
	}
	return net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		return setSocketOption(c, unix.SO_REUSEPORT, 1)
	}}
}

// setSocketOption sets the SOL_SOCKET option opt to v on rc's socket.
func setSocketOption(rc syscall.RawConn, opt, v int) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, v)
	}); err != nil {
		return err
	}
	return serr
}

// rawConn returns conn's syscall.RawConn, or nil when it has none.
func rawConn(conn net.PacketConn) syscall.RawConn {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// setReceiveBuffer sets the socket's receive buffer to size bytes with
// SO_RCVBUF, then with SO_RCVBUFFORCE when the kernel's limit cut it (that
// needs CAP_NET_ADMIN; without it the first result stands), and returns
// what the kernel granted, in the same units as size.
func setReceiveBuffer(conn net.PacketConn, size int) (int, error) {
	rc := rawConn(conn)
	if rc == nil {
		return 0, nil
	}
	var granted int
	var serr error
	err := rc.Control(func(fd uintptr) {
		s := int(fd)
		if serr = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, size); serr != nil {
			return
		}
		if granted, serr = getReceiveBuffer(s); serr != nil || granted >= size {
			return
		}
		if unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) == nil {
			granted, serr = getReceiveBuffer(s)
		}
	})
	if err != nil {
		return 0, err
	}
	return granted, serr
}

// receiveBuffer returns the socket's receive buffer size, in the units
// SO_RCVBUF is set in.
func receiveBuffer(conn net.PacketConn) (int, error) {
	rc := rawConn(conn)
	if rc == nil {
		return 0, nil
	}
	var granted int
	var serr error
	if err := rc.Control(func(fd uintptr) { granted, serr = getReceiveBuffer(int(fd)) }); err != nil {
		return 0, err
	}
	return granted, serr
}

// getReceiveBuffer reads SO_RCVBUF back. Linux doubles the value it is
// given, to allow for its bookkeeping, and reports the doubled value;
// halving it gives the number to compare with what was asked.
func getReceiveBuffer(fd int) (int, error) {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	return v / 2, err
}

// enableDropCount turns on SO_RXQ_OVFL: the kernel then attaches its
// cumulative count of datagrams dropped on this socket to every datagram.
func enableDropCount(conn net.PacketConn) error {
	rc := rawConn(conn)
	if rc == nil {
		return nil
	}
	return setSocketOption(rc, unix.SO_RXQ_OVFL, 1)
}

// closeIntake makes conn's socket refuse every datagram that arrives from
// now on, with a socket filter that accepts nothing, while what is already
// queued stays readable. The kernel counts the refused datagrams as drops
// of the socket (see socketDrops). It reports whether the filter is on.
func closeIntake(conn net.PacketConn) bool {
	rc := rawConn(conn)
	if rc == nil {
		return false
	}
	if _, ok := conn.(*net.UnixConn); ok {
		return shutdownRead(rc) // a filter would drop datagrams unseen by sender and Server
	}
	none := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	prog := unix.SockFprog{Len: uint16(len(none)), Filter: &none[0]}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog)
	}); err != nil {
		return false
	}
	return serr == nil
}

// socketDrops returns the kernel's cumulative count of datagrams dropped on
// conn's socket (the count SO_RXQ_OVFL reports, read with SO_MEMINFO), and
// false when it cannot be read.
func socketDrops(conn net.PacketConn) (uint32, bool) {
	rc := rawConn(conn)
	if rc == nil {
		return 0, false
	}
	var mem [unix.SK_MEMINFO_VARS]uint32
	var e syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		n := uint32(unsafe.Sizeof(mem))
		_, _, e = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&n)), 0)
		if e == 0 && n < uint32(unsafe.Sizeof(mem)) {
			e = unix.EINVAL // a kernel without the drop count
		}
	}); err != nil || e != 0 {
		return 0, false
	}
	return mem[unix.SK_MEMINFO_DROPS], true
}
