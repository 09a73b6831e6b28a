package ingest

// Investigation tools, not contracts: where a datagram's time goes on the
// receiving side (see README, "Receiving"). BenchmarkRecvSyscalls drains a
// pre-filled loopback socket with raw receive system calls, one way per
// sub-benchmark; BenchmarkServeStages adds the Server's steps one at a time.
// The machine this was written on is shared: compare variants from runs
// interleaved in the same time window, e.g. 8 runs of
//
//	go test -run '^$' -bench '^BenchmarkRecvSyscalls$/path2k' -count 1 -benchtime 200000x .

import (
	"bytes"
	"net"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

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

func BenchmarkRecvSyscalls(b *testing.B) {
	const big = defaultMaxDatagram + 1
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
	if _, err := setReceiveBuffer(conn, defaultReceiveBuffer); err != nil {
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

// BenchmarkServeStages times the Server's reader one step at a time on
// path2k datagrams, on the same kind of pre-filled socket as BenchmarkServe:
//
//	bare-read    conn.Read, as BenchmarkServe/bare-read
//	raw-read     read(2) called directly
//	raw-mmsg     recvmmsg(2) called directly, asking what the Server asks
//	mmsg         the Server's recvmmsg reader (batches of 16, sender address,
//	             SO_RXQ_OVFL control buffers), datagrams not looked at
//	+frame       and a scan for '\n' over each datagram, as framing does
//	+parse       and Parse of each datagram (no framing)
//	+frame+parse both
//	+lines       and the Server's line handler (framing, Parse, a no-op handler)
//	sync         the whole Server, as BenchmarkServe/path2k/sync
func BenchmarkServeStages(b *testing.B) {
	dgram := readFixture(b, "path2k")
	b.Run("bare-read", func(b *testing.B) { benchBareRead(b, dgram) })
	b.Run("raw-read", func(b *testing.B) {
		benchRawRecv(b, dgram, rawRecv{call: "read", slots: 1, slotSize: defaultMaxDatagram + 1})
	})
	b.Run("raw-mmsg", func(b *testing.B) {
		benchRawRecv(b, dgram, rawRecv{call: "recvmmsg", batch: defaultBatchSize, addr: true, ctrl: true, ovfl: true,
			slots: defaultBatchSize, slotSize: defaultMaxDatagram + 1})
	})
	for _, stage := range []string{"mmsg", "mmsg+frame", "mmsg+parse", "mmsg+frame+parse", "mmsg+lines"} {
		b.Run(stage, func(b *testing.B) { benchReaderStage(b, dgram, stage) })
	}
	b.Run("sync", func(b *testing.B) { benchIngest(b, dgram, Config{}) })
}

func benchReaderStage(b *testing.B, dgram []byte, stage string) {
	k := roundSize(b, dgram)
	conn := listenLoopback(b)
	defer conn.Close()
	if _, err := setReceiveBuffer(conn, defaultReceiveBuffer); err != nil {
		b.Fatal(err)
	}
	if err := enableDropCount(conn); err != nil {
		b.Fatal(err)
	}
	c := dial(b, conn.LocalAddr().(*net.UDPAddr))
	rc, err := conn.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var drops dropCounter
	m := newMmsgReader(rc, &drops, defaultMaxDatagram, defaultBatchSize)
	var p Parser
	var r Request
	var t tally
	srv, err := NewServer(Config{Handler: HandlerFunc(func(*Request) {})})
	if err != nil {
		b.Fatal(err)
	}
	var lh lineHandler
	lh.init(srv)
	frame, parse := stage == "mmsg+frame" || stage == "mmsg+frame+parse", stage == "mmsg+parse" || stage == "mmsg+frame+parse"

	cpu := benchRounds(b, c, dgram, k, func(_, n int) func() {
		return func() {
			for got := 0; got < n; {
				k, err := m.read()
				if err != nil {
					b.Fatal(err)
				}
				for i := range k {
					d, src, _ := m.datagram(i)
					if frame && bytes.IndexByte(d, '\n') >= 0 {
						b.Fatal("a newline in the datagram")
					}
					if parse {
						if err := p.Parse(&r, d); err != nil {
							b.Fatal(err)
						}
						r.Source = src
					}
					if stage == "mmsg+lines" {
						lh.datagram(d, src, &t)
					}
				}
				got += k
			}
		}
	})
	if stage == "mmsg+lines" && t.parsed != uint64(b.N) {
		b.Fatalf("parsed %d of %d", t.parsed, b.N)
	}
	reportRounds(b, cpu)
}
