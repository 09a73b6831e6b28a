package ingest

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// detachedConn is a datagram socket that the Go runtime's poller does not
// watch. The runtime's poller is woken by every datagram that arrives on a
// socket it watches, whether or not a goroutine waits to read it: with
// Config.BatchDelay, that wake-up per datagram would cost more than reading
// and handling the datagram.
//
// Each reader waits instead with a waiter of its own: an epoll instance,
// itself an os.File in the runtime's poller, that watches the socket with
// EPOLLONESHOT and a timerfd. For traffic, the reader arms the socket's
// entry when it has found the queue empty: the first datagram wakes it,
// and later ones wake nobody until it is armed again. For a pause, the
// reader arms the timer: it sleeps in the runtime's poller, with no
// runtime timer (whose expiry also wakes the runtime's monitor thread
// and a second thread to look for work). The read deadline is set on
// every waiter, so that it wakes the readers when the Server stops.
//
// It serves the Server's own sockets: the readers use SyscallConn, and
// ReadFrom and WriteTo are there for net.PacketConn.
type detachedConn struct {
	fd    int // the socket, non-blocking
	laddr net.Addr

	// mu: every use of fd and of the waiters holds it for reading, Close
	// for writing, so that no use sees a descriptor closed and reused.
	mu     sync.RWMutex
	closed atomic.Bool
	// dlMu orders the changes of the read deadline, the waiters'
	// registration and Close.
	dlMu      sync.Mutex
	rdeadline atomic.Int64 // UnixNano; 0: none
	waiters   []*waiter
}

// waiter is how one reader waits; see detachedConn.
type waiter struct {
	ep     *os.File // the epoll instance
	epfd   uintptr  // ep's descriptor (ep.Fd would make it blocking)
	eprc   syscall.RawConn
	tfd    int
	evs    [2]unix.EpollEvent
	takeFn func(uintptr) bool // w.take, bound once
}

// rawDetached is a detachedConn's syscall.RawConn. Each SyscallConn call
// returns one of its own, which makes its waiter on first use.
type rawDetached struct {
	c *detachedConn
	w *waiter
}

var (
	_ net.PacketConn  = (*detachedConn)(nil)
	_ syscall.Conn    = (*detachedConn)(nil)
	_ syscall.RawConn = (*rawDetached)(nil)
	_ pauser          = (*rawDetached)(nil)
)

// detachConn returns a detachedConn holding conn's socket, and closes conn:
// that takes the socket out of the runtime's poller, while the duplicate
// descriptor keeps it open and bound. It returns conn unchanged, and
// false, when conn has no descriptor or the duplicate cannot be made.
func detachConn(conn net.PacketConn) (net.PacketConn, bool) {
	rc := rawConn(conn)
	if rc == nil {
		return conn, false
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil || derr != nil {
		return conn, false
	}
	c := &detachedConn{fd: fd, laddr: conn.LocalAddr()}
	// The duplicate shares the socket's flags: it stays non-blocking.
	conn.Close()
	return c, true
}

func (c *detachedConn) acquire() error {
	c.mu.RLock()
	if c.closed.Load() {
		c.mu.RUnlock()
		return net.ErrClosed
	}
	return nil
}

func (c *detachedConn) release() { c.mu.RUnlock() }

// newWaiter makes a waiter and registers it. c.mu is held for reading.
func (c *detachedConn) newWaiter() (*waiter, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	w := &waiter{epfd: uintptr(epfd), tfd: tfd}
	w.takeFn = w.take
	fail := func(err error) (*waiter, error) {
		unix.Close(tfd)
		if w.ep != nil {
			w.ep.Close()
		} else {
			unix.Close(epfd)
		}
		return nil, err
	}
	// The socket's entry is disarmed until a wait for traffic arms it.
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, c.fd, &unix.EpollEvent{Events: unix.EPOLLONESHOT, Fd: int32(c.fd)}); err != nil {
		return fail(err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, tfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(tfd)}); err != nil {
		return fail(err)
	}
	// Non-blocking, os.NewFile puts it in the runtime's poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		return fail(err)
	}
	w.ep = os.NewFile(uintptr(epfd), "ingest-wait")
	if w.eprc, err = w.ep.SyscallConn(); err != nil {
		return fail(err)
	}
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if c.closed.Load() {
		return fail(net.ErrClosed)
	}
	if d := c.rdeadline.Load(); d != 0 {
		w.ep.SetReadDeadline(time.Unix(0, d))
	}
	c.waiters = append(c.waiters, w)
	return w, nil
}

// LocalAddr returns the address the socket was bound to.
func (c *detachedConn) LocalAddr() net.Addr { return c.laddr }

// SyscallConn returns a RawConn of its own: one per reader.
func (c *detachedConn) SyscallConn() (syscall.RawConn, error) {
	if c.closed.Load() {
		return nil, net.ErrClosed
	}
	return &rawDetached{c: c}, nil
}

// Close wakes the waiting readers, waits until no call uses the socket or
// the waiters, and closes them.
func (c *detachedConn) Close() error {
	c.dlMu.Lock()
	if c.closed.Swap(true) {
		c.dlMu.Unlock()
		return net.ErrClosed
	}
	for _, w := range c.waiters {
		w.ep.SetReadDeadline(time.Unix(1, 0))
	}
	c.dlMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.waiters {
		w.ep.Close()
		unix.Close(w.tfd)
	}
	c.waiters = nil
	return unix.Close(c.fd)
}

// SetDeadline sets the read deadline; see SetReadDeadline.
func (c *detachedConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline sets the read deadline. Reads, and the readers waiting
// for traffic or in a pause, fail with os.ErrDeadlineExceeded once it has
// passed.
func (c *detachedConn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if c.closed.Load() {
		return net.ErrClosed
	}
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.rdeadline.Store(ns)
	for _, w := range c.waiters {
		w.ep.SetReadDeadline(t)
	}
	return nil
}

// SetWriteDeadline does nothing: WriteTo never waits.
func (c *detachedConn) SetWriteDeadline(time.Time) error { return nil }

func (r *rawDetached) Control(f func(fd uintptr)) error {
	c := r.c
	if err := c.acquire(); err != nil {
		return err
	}
	defer c.release()
	f(uintptr(c.fd))
	return nil
}

// waiter returns r's waiter, made on first use. c.mu is held for reading.
func (r *rawDetached) waiter() (*waiter, error) {
	if r.w == nil {
		w, err := r.c.newWaiter()
		if err != nil {
			return nil, err
		}
		r.w = w
	}
	return r.w, nil
}

// Read calls f until it returns true, waiting for a datagram in between.
func (r *rawDetached) Read(f func(fd uintptr) bool) error {
	c := r.c
	if err := c.acquire(); err != nil {
		return err
	}
	defer c.release()
	for {
		if d := c.rdeadline.Load(); d != 0 && d <= time.Now().UnixNano() {
			return os.ErrDeadlineExceeded
		}
		if f(uintptr(c.fd)) {
			return nil
		}
		w, err := r.waiter()
		if err == nil {
			err = w.readable(c.fd)
		}
		if err != nil {
			if c.closed.Load() {
				return net.ErrClosed
			}
			return err
		}
	}
}

// Write calls f once, and fails with EAGAIN when f asks to wait: the
// socket is not watched for room to write.
func (r *rawDetached) Write(f func(fd uintptr) bool) error {
	done := true
	if err := r.Control(func(fd uintptr) { done = f(fd) }); err != nil {
		return err
	}
	if !done {
		return syscall.EAGAIN
	}
	return nil
}

// pause sleeps for d, or until the read deadline passes (an error then),
// without a runtime timer.
func (r *rawDetached) pause(d time.Duration) error {
	c := r.c
	if err := c.acquire(); err != nil {
		return err
	}
	defer c.release()
	w, err := r.waiter()
	if err != nil {
		return err
	}
	return w.sleep(d)
}

// readable arms the socket's entry and waits in the runtime's poller until
// the epoll instance reports an event, or the read deadline passes. Armed
// while a datagram is queued, the entry reports it at once: no datagram
// that arrived since the caller looked is missed.
func (w *waiter) readable(fd int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(fd)}
	if _, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, w.epfd, unix.EPOLL_CTL_MOD, uintptr(fd),
		uintptr(unsafe.Pointer(&ev)), 0, 0); e != 0 {
		return e
	}
	return w.eprc.Read(w.takeFn)
}

// sleep arms the timer for d and waits in the runtime's poller until it
// expires (or the socket's entry, if armed, reports a datagram), or the
// read deadline passes.
func (w *waiter) sleep(d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(int64(d), 1))}
	if _, _, e := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(w.tfd), 0,
		uintptr(unsafe.Pointer(&spec)), 0, 0, 0); e != 0 {
		return e
	}
	err := w.eprc.Read(w.takeFn)
	if err != nil {
		// Disarmed, so that it cannot wake a later wait.
		spec = unix.ItimerSpec{}
		unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(w.tfd), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	}
	return err
}

// take takes the pending events from the epoll instance epfd without
// waiting, and clears an expired timer: true when there was an event (or
// an error, which the caller's next step meets again).
func (w *waiter) take(epfd uintptr) bool {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, epfd, uintptr(unsafe.Pointer(&w.evs[0])), uintptr(len(w.evs)), 0, 0, 0)
	if e != 0 {
		return e != unix.EAGAIN && e != unix.EINTR
	}
	for i := range int(n) {
		if w.evs[i].Fd == int32(w.tfd) {
			var b [8]byte
			unix.RawSyscall(unix.SYS_READ, uintptr(w.tfd), uintptr(unsafe.Pointer(&b[0])), 8)
		}
	}
	return n > 0
}

// ReadFrom reads one datagram.
func (c *detachedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	var n int
	var from unix.Sockaddr
	var rerr error
	rc := &rawDetached{c: c}
	err := rc.Read(func(fd uintptr) bool {
		n, from, rerr = unix.Recvfrom(int(fd), b, unix.MSG_DONTWAIT)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, nil, &net.OpError{Op: "read", Net: c.laddr.Network(), Addr: c.laddr, Err: err}
	}
	return n, sockaddrToAddr(from), nil
}

// WriteTo sends b to addr, a *net.UDPAddr, without waiting: when the
// socket's send buffer is full it fails with EAGAIN.
func (c *detachedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, &net.OpError{Op: "write", Net: c.laddr.Network(), Addr: addr, Err: syscall.EINVAL}
	}
	var sa unix.Sockaddr
	if ip4 := ua.IP.To4(); ip4 != nil {
		sa4 := &unix.SockaddrInet4{Port: ua.Port}
		copy(sa4.Addr[:], ip4)
		sa = sa4
	} else {
		sa6 := &unix.SockaddrInet6{Port: ua.Port}
		copy(sa6.Addr[:], ua.IP.To16())
		sa = sa6
	}
	var werr error
	if err := (&rawDetached{c: c}).Control(func(fd uintptr) { werr = unix.Sendto(int(fd), b, unix.MSG_DONTWAIT, sa) }); err != nil {
		werr = err
	}
	if werr != nil {
		return 0, &net.OpError{Op: "write", Net: c.laddr.Network(), Addr: addr, Err: werr}
	}
	return len(b), nil
}

func sockaddrToAddr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.UDPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		return &net.UDPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unixgram"}
	}
	return nil
}

// detach replaces the sockets ListenAndServe opened by detachedConns when
// Config.BatchDelay is set; see detachedConn.
func (s *Server) detach(conns []net.PacketConn) []net.PacketConn {
	if s.cfg.BatchDelay <= 0 {
		return conns
	}
	for i, c := range conns {
		d, ok := detachConn(c)
		if !ok {
			s.log.Warn("ingest: socket left in the runtime's poller, which wakes for every datagram during a BatchDelay",
				"addr", c.LocalAddr().String())
		}
		conns[i] = d
	}
	return conns
}
