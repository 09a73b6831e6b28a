package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sendDelivered calls send on a goroutine whose thread is pinned to one
// CPU, and returns once everything send wrote to loopback has been
// delivered to its sockets' queues or dropped by the kernel. Loopback
// hands a datagram to the backlog of the CPU that sends it, and the
// kernel processes a backlog in order (at once, or later when it is
// busy): a marker sent last, from the same CPU, to a socket of its own,
// arrives after all of them.
func sendDelivered(send func()) error {
	probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer probe.Close()
	marker, err := net.DialUDP("udp4", nil, probe.LocalAddr().(*net.UDPAddr))
	if err != nil {
		return err
	}
	defer marker.Close()
	sent := make(chan error, 1)
	go func() {
		// The thread stays locked: it ends with the goroutine, and its
		// CPU affinity with it.
		runtime.LockOSThread()
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			sent <- err
			return
		}
		cpu := 0
		for !set.IsSet(cpu) {
			cpu++
		}
		set.Zero()
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			sent <- err
			return
		}
		send()
		_, err := marker.Write([]byte("marker"))
		sent <- err
	}()
	if err := <-sent; err != nil {
		return err
	}
	probe.SetReadDeadline(time.Now().Add(waitTimeout))
	var b [16]byte
	_, _, err = probe.ReadFrom(b[:])
	return err
}

// faultConn is a UDP socket that fails in the stop path as asked.
type faultConn struct {
	*net.UDPConn
	deadlineErr error       // what SetReadDeadline returns, when set
	badFD       int         // when >= 0, RawConn.Control passes it once armed
	armed       atomic.Bool // set by SetReadDeadline: the Server is stopping
}

func (c *faultConn) SetReadDeadline(t time.Time) error {
	c.armed.Store(true)
	if c.deadlineErr != nil {
		return c.deadlineErr
	}
	return c.UDPConn.SetReadDeadline(t)
}

func (c *faultConn) SyscallConn() (syscall.RawConn, error) {
	rc, err := c.UDPConn.SyscallConn()
	return &faultRawConn{RawConn: rc, c: c}, err
}

type faultRawConn struct {
	syscall.RawConn
	c *faultConn
}

func (r *faultRawConn) Control(f func(fd uintptr)) error {
	if r.c.badFD >= 0 && r.c.armed.Load() {
		f(uintptr(r.c.badFD))
		return nil
	}
	return r.RawConn.Control(f)
}

// stopHeld serves conn with a handler that holds the first line, sends
// that line and n more, waits until the kernel holds them, and shuts the
// Server down while the handler is held; then it lets the handler go and
// returns the Stats once Serve has returned.
func stopHeld(t *testing.T, conn net.PacketConn, n int) (Stats, *logRecorder) {
	t.Helper()
	g, open := newHeldGate()
	ts := serveConn(t, Config{Handler: g}, conn)
	t.Cleanup(open) // before the Server's cleanup
	c := dial(t, ts.addr)
	send(t, c, line("/held"))
	g.waitEntered(t)
	if err := sendDelivered(func() {
		for i := range n {
			c.Write([]byte(line(fmt.Sprint("/", i))))
		}
	}); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		stopped <- ts.Shutdown(ctx)
	}()
	waitFor(t, "the Server to stop", ts.stopping)
	open()
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := ts.wait(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	st := ts.Stats()
	t.Logf("stats %+v", st)
	return st, ts.logs
}

// listenLockedFilter returns a loopback socket with a filter that accepts
// everything, locked with SO_LOCK_FILTER as its owner may lock it: the
// Server cannot close its intake at stop. It skips the test where the
// filter cannot be locked.
func listenLockedFilter(t *testing.T) *net.UDPConn {
	t.Helper()
	conn := listenLoopback(t)
	all := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff}}
	prog := unix.SockFprog{Len: 1, Filter: &all[0]}
	rc, _ := conn.SyscallConn()
	var serr error
	rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_LOCK_FILTER, 1)
		}
	})
	if serr != nil {
		t.Skipf("cannot lock a socket filter: %v", serr)
	}
	return conn
}

// TestServerStopFilterLocked: a socket whose filter its owner locked keeps
// its intake open at stop. That is logged and counted, and what the socket
// holds is still delivered.
func TestServerStopFilterLocked(t *testing.T) {
	checkLeaks(t)
	conn := listenLockedFilter(t)
	stopDeliversDespite(t, conn, "cannot close a stopping socket's intake")
}

// stopDeliversDespite stops a Server on conn with 100 datagrams queued
// behind a held one (stopHeld) and checks that all of them are delivered
// despite one stop fault, counted once in StopErrors and logged once with
// a message that contains warning.
func stopDeliversDespite(t *testing.T, conn net.PacketConn, warning string) {
	t.Helper()
	const n = 100
	st, logs := stopHeld(t, conn, n)
	if st.Parsed != n+1 || st.Datagrams != n+1 {
		t.Errorf("Parsed %d, Datagrams %d; want %d: the socket's queue is delivered", st.Parsed, st.Datagrams, n+1)
	}
	if st.StopErrors != 1 {
		t.Errorf("StopErrors = %d, want 1", st.StopErrors)
	}
	if recs := logs.find(warning); len(recs) != 1 {
		t.Errorf("logged %d warnings %q, want 1", len(recs), warning)
	}
}

// TestServerStopWakeFails: when a read deadline cannot wake the readers,
// that is logged and counted, the readers read what the socket holds, and
// the socket is closed once its queue is empty, which wakes them.
func TestServerStopWakeFails(t *testing.T) {
	checkLeaks(t)
	conn := &faultConn{UDPConn: listenLoopback(t), deadlineErr: errors.New("no deadlines here"), badFD: -1}
	stopDeliversDespite(t, conn, "cannot wake the readers")
}

// TestServerStopDrainReadError: a read error while draining ends the
// drain, and is counted and logged.
func TestServerStopDrainReadError(t *testing.T) {
	checkLeaks(t)
	null, err := os.Open(os.DevNull) // recvmmsg on it fails: ENOTSOCK
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	conn := &faultConn{UDPConn: listenLoopback(t), badFD: int(null.Fd())}
	st, logs := stopHeld(t, conn, 10)
	if st.ReadErrors != 1 || st.StopErrors < 1 {
		t.Errorf("ReadErrors %d, StopErrors %d; want 1 and at least 1", st.ReadErrors, st.StopErrors)
	}
	recs := logs.find("read failed while draining")
	if len(recs) != 1 {
		t.Fatalf("logged %d drain read errors, want 1", len(recs))
	}
	if err, _ := attr(recs[0], "err").Any().(error); !errors.Is(err, unix.ENOTSOCK) {
		t.Errorf("logged error %v, want ENOTSOCK", err)
	}
}

// TestServerStopOpenIntakeBounded: with the intake open and a flood going
// on, a drain ends at its deadline, and what it reads past it is counted
// as discarded.
func TestServerStopOpenIntakeBounded(t *testing.T) {
	checkLeaks(t)
	conn := listenLockedFilter(t)
	// A slow handler and a small buffer: the flood keeps the queue full.
	h := HandlerFunc(func(*Request) { time.Sleep(100 * time.Microsecond) })
	srv, err := NewServer(Config{Handler: h, ReceiveBuffer: 64 << 10, Logger: slog.New(&logRecorder{})})
	if err != nil {
		t.Fatal(err)
	}
	srv.grace = 200 * time.Millisecond
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(context.Background(), conn) }()
	defer srv.Close()
	c := dial(t, conn.LocalAddr().(*net.UDPAddr))
	stop, flooded := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(flooded)
		dgram := []byte(line("/flood"))
		end := time.Now().Add(waitTimeout)
		for time.Now().Before(end) {
			select {
			case <-stop:
				return
			default:
			}
			c.Write(dgram)
		}
	}()
	defer func() { close(stop); <-flooded }()
	waitFor(t, "the flood to arrive", func() bool { return srv.Stats().Parsed > 100 })
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with the flood going on: %v after %v", err, time.Since(start))
	}
	<-errc
	st := srv.Stats()
	t.Logf("stopped in %v: %+v", time.Since(start), st)
	if st.DroppedClosed == 0 || st.StopErrors < 2 {
		t.Errorf("DroppedClosed %d, StopErrors %d; want the drain cut at its deadline", st.DroppedClosed, st.StopErrors)
	}
	if st.Datagrams != st.Parsed+st.DroppedClosed {
		t.Errorf("Datagrams %d != Parsed %d + DroppedClosed %d", st.Datagrams, st.Parsed, st.DroppedClosed)
	}
}

// TestServerStopLeavesReusePortGroup: a stopping Server whose sockets share
// their SO_REUSEPORT group with another Server's leaves the group, so the
// other one gets every datagram sent from then on, and the stopping one
// refuses none. A Server alone in its group refuses them instead, and
// counts them.
func TestServerStopLeavesReusePortGroup(t *testing.T) {
	checkLeaks(t)
	logs := &logRecorder{}
	ga, openA := newHeldGate()
	a, aErr, _ := listenServe(t, Config{Handler: ga, Addr: "127.0.0.1:0", ReusePort: true, Logger: slog.New(logs)})
	t.Cleanup(openA)
	addr := a.LocalAddr().(*net.UDPAddr)
	b, _, _ := listenServe(t, Config{Handler: HandlerFunc(func(*Request) {}), Addr: addr.String(), ReusePort: true})

	// One datagram from each of many ports: the kernel spreads them over
	// both Servers, until A holds one in its handler.
	sent := 0
	wave := func(k int) {
		t.Helper()
		if err := sendDelivered(func() {
			for range k {
				c, err := net.DialUDP("udp4", nil, addr)
				if err != nil {
					continue
				}
				if _, err := c.Write([]byte(line("/spread"))); err == nil {
					sent++
				}
				c.Close()
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	wave(64)
	ga.waitEntered(t)
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		stopped <- a.Shutdown(ctx)
	}()
	waitFor(t, "A to stop", a.stopping)
	wave(64)
	openA()
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-aErr:
	case <-time.After(waitTimeout):
		t.Fatal("ListenAndServe did not return")
	}
	sa := a.Stats()
	waitFor(t, "B to read the rest", func() bool { return sa.Datagrams+b.Stats().Datagrams >= uint64(sent) })
	sb := b.Stats()
	t.Logf("sent %d; A %+v; B %+v", sent, sa, sb)
	if sa.DroppedKernel != 0 || sa.StopErrors != 0 {
		t.Errorf("A refused %d datagrams, StopErrors %d; want 0: it left the group", sa.DroppedKernel, sa.StopErrors)
	}
	if sa.Datagrams+sb.Datagrams != uint64(sent) || sa.Parsed+sb.Parsed != uint64(sent) || sb.DroppedKernel != 0 {
		t.Errorf("A read %d, B %d, B's kernel drops %d; sent %d", sa.Datagrams, sb.Datagrams, sb.DroppedKernel, sent)
	}
	if len(logs.find("leave their SO_REUSEPORT group")) != 1 {
		t.Errorf("A did not log that it left its group")
	}

	// Alone in its group (two sockets of its own), a stopping Server
	// refuses what is sent and counts it.
	logs = &logRecorder{}
	gc, openC := newHeldGate()
	cs, cErr, _ := listenServe(t, Config{Handler: gc, Addr: "127.0.0.1:0", Readers: 2, ReusePort: true, Logger: slog.New(logs)})
	t.Cleanup(openC)
	addr = cs.LocalAddr().(*net.UDPAddr)
	sent = 0
	wave(64)
	gc.waitEntered(t)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		stopped <- cs.Shutdown(ctx)
	}()
	waitFor(t, "C to stop", cs.stopping)
	before := sent
	wave(64)
	openC()
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-cErr:
	case <-time.After(waitTimeout):
		t.Fatal("ListenAndServe did not return")
	}
	sc := cs.Stats()
	t.Logf("sent %d; C %+v", sent, sc)
	if sc.Datagrams != uint64(before) || sc.DroppedKernel != uint64(sent-before) || sc.StopErrors != 0 {
		t.Errorf("C read %d, refused %d, StopErrors %d; want %d, %d, 0", sc.Datagrams, sc.DroppedKernel, sc.StopErrors, before, sent-before)
	}
	if len(logs.find("leave their SO_REUSEPORT group")) != 0 {
		t.Errorf("C alone in its group left it")
	}
}
