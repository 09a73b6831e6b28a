// Package lab holds investigation benchmarks of the receiving side: they
// measure ways to read a socket, not contracts of the library, so they live
// outside its module. Compare variants only from runs interleaved in the same
// time window, for example 8 runs of
//
//	go test -run '^$' -bench '^BenchmarkRecvSyscalls$/path2k' -count 1 -benchtime 200000x .
package lab

import (
	"bytes"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The library's defaults, which the variants mirror.
const (
	maxDatagram   = 65527
	receiveBuffer = 8 << 20
	oobSize       = 64
)

// readFixture returns the first line of the library's testdata/<name>.log.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile("../../testdata/" + name + ".log")
	if err != nil {
		tb.Fatal(err)
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return b
}

func listenLoopback(tb testing.TB) *net.UDPConn {
	tb.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	return conn
}

func dial(tb testing.TB, addr *net.UDPAddr) *net.UDPConn {
	tb.Helper()
	c, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// setReceiveBuffer sets SO_RCVBUF, as far as the kernel's limit allows.
func setReceiveBuffer(conn *net.UDPConn, size int) (int, error) {
	return size, conn.SetReadBuffer(size)
}

// cpuTime returns the CPU time (user + system) the process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// roundSizes caches roundSize by datagram length.
var roundSizes sync.Map

// roundSize returns how many datagrams of len(dgram) bytes a round queues
// before reading them: half of what a socket with the library's default
// receive buffer holds, at most 8192.
func roundSize(b *testing.B, dgram []byte) int {
	if v, ok := roundSizes.Load(len(dgram)); ok {
		return v.(int)
	}
	conn := listenLoopback(b)
	defer conn.Close()
	if _, err := setReceiveBuffer(conn, receiveBuffer); err != nil {
		b.Fatal(err)
	}
	c := dial(b, conn.LocalAddr().(*net.UDPAddr))
	const flood = 40000
	for range flood {
		if _, err := c.Write(dgram); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, maxDatagram+1)
	held := 0
	for {
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := conn.Read(buf); err != nil {
			break
		}
		held++
	}
	k := min(held/2, 8192)
	if k < 1 {
		b.Fatalf("a socket held %d datagrams of %d bytes", held, len(dgram))
	}
	roundSizes.Store(len(dgram), k)
	return k
}

// benchRounds runs b.N datagrams through rounds of at most k: each round
// writes its datagrams while nothing reads, then times the drain function
// prepare returns. It returns the process's CPU time over the timed parts.
func benchRounds(b *testing.B, c *net.UDPConn, dgram []byte, k int, prepare func(done, n int) (drain func())) time.Duration {
	b.ReportAllocs()
	b.SetBytes(int64(len(dgram)))
	b.ResetTimer()
	b.StopTimer()
	var cpu time.Duration
	for done := 0; done < b.N; {
		n := min(k, b.N-done)
		for range n {
			if _, err := c.Write(dgram); err != nil {
				b.Fatal(err)
			}
		}
		drain := prepare(done, n)
		cpu0 := cpuTime(b)
		b.StartTimer()
		drain()
		b.StopTimer()
		cpu += cpuTime(b) - cpu0
		done += n
	}
	return cpu
}

// reportRounds reports datagrams/s and CPU per datagram.
func reportRounds(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/dgram")
}

// rawRecv describes one way to receive.
type rawRecv struct {
	name     string
	call     string // "read", "recvmsg", "recvmmsg"
	batch    int    // recvmmsg only
	addr     bool   // ask for the sender's address
	ctrl     bool   // pass a control buffer
	ovfl     bool   // turn SO_RXQ_OVFL on
	dropped  bool   // make the socket drop first, so every datagram carries the drop count
	lastCtrl bool   // a control buffer on the batch's last message only
	touch    bool   // scan each datagram for '\n' after the call, as framing does
	slots    int    // distinct receive buffers (1: every message into the same one)
	slotSize int
}

// BenchmarkRecvSyscalls drains a pre-filled loopback socket with raw
// receive system calls, one way per sub-benchmark.
func BenchmarkRecvSyscalls(b *testing.B) {
	const big = maxDatagram + 1
	variants := []rawRecv{
		{name: "read", call: "read", slots: 1, slotSize: big},
		{name: "read/touch", call: "read", touch: true, slots: 1, slotSize: big},
		{name: "recvmsg", call: "recvmsg", slots: 1, slotSize: big},
		{name: "recvmsg/addr", call: "recvmsg", addr: true, slots: 1, slotSize: big},
		{name: "recvmsg/ovfl", call: "recvmsg", ovfl: true, slots: 1, slotSize: big},
		{name: "recvmsg/ovfl+ctrl", call: "recvmsg", ctrl: true, ovfl: true, slots: 1, slotSize: big},
		{name: "recvmsg/ovfl+ctrl/dropped", call: "recvmsg", ctrl: true, ovfl: true, dropped: true, slots: 1, slotSize: big},
		{name: "recvmsg/addr+ovfl+ctrl", call: "recvmsg", addr: true, ctrl: true, ovfl: true, slots: 1, slotSize: big},
		{name: "mmsg16/1x64k", call: "recvmmsg", batch: 16, slots: 1, slotSize: big},
		{name: "mmsg16/16x64k", call: "recvmmsg", batch: 16, slots: 16, slotSize: big},
		{name: "mmsg16/addr/16x64k", call: "recvmmsg", batch: 16, addr: true, slots: 16, slotSize: big},
		{name: "mmsg16/ovfl/16x64k", call: "recvmmsg", batch: 16, ovfl: true, slots: 16, slotSize: big},
		{name: "mmsg16/ovfl+ctrl/16x64k", call: "recvmmsg", batch: 16, ctrl: true, ovfl: true, slots: 16, slotSize: big},
		{name: "mmsg16/addr+ovfl+ctrl/1x64k", call: "recvmmsg", batch: 16, addr: true, ctrl: true, ovfl: true, slots: 1, slotSize: big},
		{name: "mmsg16/addr+ovfl+ctrl/16x64k", call: "recvmmsg", batch: 16, addr: true, ctrl: true, ovfl: true, slots: 16, slotSize: big},
		{name: "mmsg16/addr+ovfl+ctrl/16x4k", call: "recvmmsg", batch: 16, addr: true, ctrl: true, ovfl: true, slots: 16, slotSize: 4096},
		{name: "mmsg16/addr+ovfl+ctrl/16x64k/touch", call: "recvmmsg", batch: 16, addr: true, ctrl: true, ovfl: true, touch: true, slots: 16, slotSize: big},
		{name: "mmsg16/addr+ovfl+ctrl/16x4k/touch", call: "recvmmsg", batch: 16, addr: true, ctrl: true, ovfl: true, touch: true, slots: 16, slotSize: 4096},
		{name: "mmsg16/addr+ovfl+ctrl/dropped/16x64k", call: "recvmmsg", batch: 16, addr: true, ctrl: true, ovfl: true, dropped: true, slots: 16, slotSize: big},
		{name: "mmsg16/addr+ovfl+lastctrl/dropped/16x64k", call: "recvmmsg", batch: 16, addr: true, ctrl: true, lastCtrl: true, ovfl: true, dropped: true, slots: 16, slotSize: big},
		{name: "mmsg64/addr+ovfl+ctrl/64x64k", call: "recvmmsg", batch: 64, addr: true, ctrl: true, ovfl: true, slots: 64, slotSize: big},
	}
	for _, fixture := range []string{"path2k", "short"} {
		dgram := readFixture(b, fixture)
		for _, v := range variants {
			b.Run(fixture+"/"+v.name, func(b *testing.B) { benchRawRecv(b, dgram, v) })
		}
	}
}

func benchRawRecv(b *testing.B, dgram []byte, v rawRecv) {
	k := roundSize(b, dgram)
	conn := listenLoopback(b)
	defer conn.Close()
	raw, err := conn.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var fd int
	raw.Control(func(f uintptr) { fd = int(f) })
	if v.ovfl {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
			b.Fatal(err)
		}
	}
	c := dial(b, conn.LocalAddr().(*net.UDPAddr))
	if v.dropped {
		// A tiny buffer and a flood: the kernel drops, and its drop count,
		// now non-zero, comes with every later datagram.
		if _, err := setReceiveBuffer(conn, 1); err != nil {
			b.Fatal(err)
		}
		for range 200 {
			c.Write(dgram)
		}
		buf := make([]byte, 65536)
		for {
			if _, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT); err != nil {
				break
			}
		}
	}
	if _, err := setReceiveBuffer(conn, receiveBuffer); err != nil {
		b.Fatal(err)
	}

	batch := max(v.batch, 1)
	slab := make([]byte, v.slots*v.slotSize)
	hdrs := make([]unix.Mmsghdr, batch)
	iovs := make([]unix.Iovec, batch)
	names := make([]unix.RawSockaddrInet6, batch)
	oob := make([]byte, batch*oobSize)
	for i := range hdrs {
		s := i % v.slots
		iovs[i].Base = &slab[s*v.slotSize]
		iovs[i].SetLen(v.slotSize)
		h := &hdrs[i].Hdr
		h.Iov = &iovs[i]
		h.SetIovlen(1)
		if v.addr {
			h.Name = (*byte)(unsafe.Pointer(&names[i]))
		}
		if v.ctrl && (!v.lastCtrl || i == batch-1) {
			h.Control = &oob[i*oobSize]
		}
	}
	reset := func(k int) {
		for i := range k {
			h := &hdrs[i]
			if v.addr {
				h.Hdr.Namelen = unix.SizeofSockaddrInet6
			}
			if h.Hdr.Control != nil {
				h.Hdr.SetControllen(oobSize)
			}
			h.Hdr.Flags = 0
			h.Len = 0
		}
	}
	reset(batch)
	var spins, withCtrl, ctrunc int
	// recv returns how many datagrams one call read.
	recv := func(want int) int {
		for {
			var n uintptr
			var e unix.Errno
			switch v.call {
			case "read":
				n, _, e = unix.Syscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&slab[0])), uintptr(v.slotSize))
				n = min(n, 1)
			case "recvmsg":
				reset(1)
				n, _, e = unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0].Hdr)), unix.MSG_DONTWAIT)
				n = min(n, 1)
			case "recvmmsg":
				n, _, e = unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])),
					uintptr(min(batch, want)), unix.MSG_DONTWAIT, 0, 0)
				if e == 0 {
					for i := range int(n) {
						if hdrs[i].Hdr.Controllen > 0 {
							withCtrl++
						}
						if hdrs[i].Hdr.Flags&unix.MSG_CTRUNC != 0 {
							ctrunc++
						}
					}
					reset(int(n))
				}
			}
			switch e {
			case 0:
				if v.touch {
					for i := range int(n) {
						l := int(hdrs[i].Len)
						if v.call == "read" {
							l = len(dgram)
						}
						s := (i % v.slots) * v.slotSize
						if bytes.IndexByte(slab[s:s+l], '\n') >= 0 {
							b.Fatal("newline")
						}
					}
				}
				return int(n)
			case unix.EAGAIN, unix.EINTR:
				spins++
				continue
			}
			b.Fatal(e)
		}
	}

	cpu := benchRounds(b, c, dgram, k, func(_, n int) func() {
		return func() {
			for got := 0; got < n; {
				got += recv(n - got)
			}
		}
	})
	reportRounds(b, cpu)
	if spins > 0 {
		b.ReportMetric(float64(spins)/float64(b.N), "eagain/dgram")
	}
	if v.call == "recvmmsg" {
		// After a drop, every datagram carries the drop count: a message
		// with control space gets it, one without gets MSG_CTRUNC instead.
		b.ReportMetric(float64(withCtrl)/float64(b.N), "ctrl/dgram")
		b.ReportMetric(float64(ctrunc)/float64(b.N), "ctrunc/dgram")
		if v.dropped && withCtrl+ctrunc != b.N {
			b.Fatalf("after drops, %d datagrams: %d with control data, %d with MSG_CTRUNC", b.N, withCtrl, ctrunc)
		}
	}
}
