package ingest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
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
// of the socket (see socketDrops). It returns errNoIntakeControl when conn
// has no file descriptor, and the kernel's error when the filter cannot be
// attached (EPERM when the socket's owner locked its filter with
// SO_LOCK_FILTER).
func closeIntake(conn net.PacketConn) error {
	rc := rawConn(conn)
	if rc == nil {
		return errNoIntakeControl
	}
	if _, ok := conn.(*net.UnixConn); ok {
		// A filter would drop datagrams unseen by sender and Server.
		if !shutdownRead(rc) {
			return errors.New("shutdown(SHUT_RD) failed")
		}
		return nil
	}
	none := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	prog := unix.SockFprog{Len: uint16(len(none)), Filter: &none[0]}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog)
	}); err != nil {
		return err
	}
	if serr != nil {
		return os.NewSyscallError("setsockopt SO_ATTACH_FILTER", serr)
	}
	return nil
}

// memInfo reads conn's SO_MEMINFO counters, and reports false when they
// cannot be read.
func memInfo(conn net.PacketConn) (mem [unix.SK_MEMINFO_VARS]uint32, ok bool) {
	rc := rawConn(conn)
	if rc == nil {
		return mem, false
	}
	var e syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		n := uint32(unsafe.Sizeof(mem))
		_, _, e = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&n)), 0)
		if e == 0 && n < uint32(unsafe.Sizeof(mem)) {
			e = unix.EINVAL // a kernel without the drop count
		}
	}); err != nil || e != 0 {
		return mem, false
	}
	return mem, true
}

// socketDrops returns the kernel's cumulative count of datagrams dropped on
// conn's socket (the count SO_RXQ_OVFL reports, read with SO_MEMINFO), and
// false when it cannot be read.
func socketDrops(conn net.PacketConn) (uint32, bool) {
	mem, ok := memInfo(conn)
	return mem[unix.SK_MEMINFO_DROPS], ok
}

// socketQueued returns the memory the datagrams queued on conn's socket
// take, in the kernel's count (0 when the queue is empty), and false when
// it cannot be read.
func socketQueued(conn net.PacketConn) (int, bool) {
	mem, ok := memInfo(conn)
	return int(mem[unix.SK_MEMINFO_RMEM_ALLOC]), ok
}

// leaveGroup takes conn's socket out of its SO_REUSEPORT group when another
// socket, not one of ours, is bound to the same address and port, so that
// from now on the kernel gives that socket the datagrams it would have
// given this one, instead of this one refusing them once its intake is
// closed. It connects the socket to its own address (to the loopback
// address when it is bound to a wildcard one): a connected socket is not
// picked for datagrams from other senders, and nothing sends from that
// address; what is queued stays readable. It reports whether the socket
// left. Without another socket in the group, it leaves the socket as it
// is: leaving would make the kernel answer senders with ICMP port
// unreachable and count them nowhere the Server sees.
func leaveGroup(conn net.PacketConn, ours []net.PacketConn) (bool, error) {
	rc := rawConn(conn)
	if rc == nil {
		return false, nil
	}
	var reuse int
	var sa unix.Sockaddr
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if reuse, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT); serr != nil || reuse == 0 {
			return
		}
		sa, serr = unix.Getsockname(int(fd))
	}); err != nil {
		return false, err
	}
	if serr != nil || reuse == 0 {
		return false, serr
	}
	var inodes []uint64
	for _, c := range ours {
		if ino, ok := socketInode(c); ok {
			inodes = append(inodes, ino)
		}
	}
	var table, local string
	var peer unix.Sockaddr
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		table, local = "/proc/net/udp", procAddr(a.Addr[:], a.Port)
		p := *a
		if p.Addr == [4]byte{} {
			p.Addr = [4]byte{127, 0, 0, 1}
		}
		peer = &p
	case *unix.SockaddrInet6:
		table, local = "/proc/net/udp6", procAddr(a.Addr[:], a.Port)
		p := *a
		if p.Addr == [16]byte{} {
			p.Addr = [16]byte{15: 1}
		}
		peer = &p
	default:
		return false, nil
	}
	shared, err := otherSocketBound(table, local, inodes)
	if err != nil || !shared {
		return false, err
	}
	if err := rc.Control(func(fd uintptr) { serr = unix.Connect(int(fd), peer) }); err != nil {
		return false, err
	}
	if serr != nil {
		return false, os.NewSyscallError("connect", serr)
	}
	return true, nil
}

// socketInode returns the inode number of conn's socket, which /proc/net
// lists it under.
func socketInode(conn net.PacketConn) (uint64, bool) {
	rc := rawConn(conn)
	if rc == nil {
		return 0, false
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil || serr != nil {
		return 0, false
	}
	return st.Ino, true
}

// procAddr formats an address and port as /proc/net/udp and udp6 show a
// socket's local address: each 32-bit word of the address as the machine
// stores it, in hex, then the port.
func procAddr(addr []byte, port int) string {
	b := make([]byte, 0, 8*len(addr)/4+5)
	for i := 0; i < len(addr); i += 4 {
		b = fmt.Appendf(b, "%08X", binary.NativeEndian.Uint32(addr[i:i+4]))
	}
	return string(fmt.Appendf(b, ":%04X", port))
}

// otherSocketBound reports whether the /proc/net table lists an
// unconnected socket bound to local whose inode is not in ours.
func otherSocketBound(table, local string, ours []uint64) (bool, error) {
	f, err := os.Open(table)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[1] != local || fields[3] != "07" {
			continue
		}
		ino, err := strconv.ParseUint(fields[9], 10, 64)
		if err == nil && !slices.Contains(ours, ino) {
			return true, nil
		}
	}
	return false, sc.Err()
}
