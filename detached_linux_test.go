package ingest

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// detachedPair returns a detachedConn on a loopback port and a socket
// connected to it.
func detachedPair(t *testing.T) (*detachedConn, *net.UDPConn) {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	pc, ok := detachConn(conn)
	if !ok {
		conn.Close()
		t.Fatal("detachConn failed")
	}
	d := pc.(*detachedConn)
	t.Cleanup(func() { d.Close() })
	if _, _, err := conn.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the original conn is not closed: ReadFrom = %v", err)
	}
	if d.LocalAddr().String() != conn.LocalAddr().String() {
		t.Errorf("LocalAddr %v, want %v", d.LocalAddr(), conn.LocalAddr())
	}
	return d, dial(t, d.LocalAddr().(*net.UDPAddr))
}

// readAsync reads one datagram from d on another goroutine.
func readAsync(d *detachedConn) chan error {
	errc := make(chan error, 1)
	go func() {
		b := make([]byte, 64)
		n, from, err := d.ReadFrom(b)
		if err == nil && (string(b[:n]) != "ping" || from == nil) {
			err = errors.New("read " + string(b[:n]))
		}
		errc <- err
	}()
	return errc
}

func waitErr(t *testing.T, errc chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(waitTimeout):
		t.Fatal("the read was not woken")
		return nil
	}
}

// TestDetachedConn: the socket keeps working once out of the runtime's
// poller; a waiting read wakes for a datagram, a past deadline and Close.
func TestDetachedConn(t *testing.T) {
	checkLeaks(t)
	d, c := detachedPair(t)

	errc := readAsync(d)
	time.Sleep(10 * time.Millisecond) // most likely waiting by now; either way it must read
	send(t, c, "ping")
	if err := waitErr(t, errc); err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}

	// The reply goes back to the sender.
	if _, err := d.WriteTo([]byte("pong"), c.LocalAddr()); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	b := make([]byte, 8)
	if n, err := c.Read(b); err != nil || string(b[:n]) != "pong" {
		t.Errorf("the sender read %q, %v", b[:n], err)
	}

	errc = readAsync(d)
	time.Sleep(10 * time.Millisecond)
	if err := d.SetReadDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, errc); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("ReadFrom after a past deadline = %v", err)
	}
	if err := d.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	send(t, c, "ping")
	if err := waitErr(t, readAsync(d)); err != nil {
		t.Errorf("ReadFrom with the deadline cleared: %v", err)
	}

	errc = readAsync(d)
	time.Sleep(10 * time.Millisecond)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, errc); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrom woken by Close = %v", err)
	}
	if _, err := d.SyscallConn(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("SyscallConn after Close = %v", err)
	}
	if err := (&rawDetached{c: d}).Control(func(uintptr) { t.Error("Control ran after Close") }); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Control after Close = %v", err)
	}
	if err := d.SetReadDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("SetReadDeadline after Close = %v", err)
	}
	if err := d.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
}

// TestDetachedConnOneShot: once a wait for traffic has returned, datagrams
// that arrive do not make the waiter's epoll instance ready (so nothing
// wakes the runtime's poller for them) until the reader waits again; a
// wait armed while datagrams are queued returns at once.
func TestDetachedConnOneShot(t *testing.T) {
	checkLeaks(t)
	d, c := detachedPair(t)
	r := &rawDetached{c: d}
	if err := d.acquire(); err != nil {
		t.Fatal(err)
	}
	defer d.release()
	w, err := r.waiter()
	if err != nil {
		t.Fatal(err)
	}
	if w.take(w.epfd) {
		t.Fatal("ready before any datagram")
	}
	send(t, c, "ping")
	if err := w.readable(d.fd); err != nil { // queued before it was armed
		t.Fatal(err)
	}
	one := queuedMemory(t, r)
	send(t, c, "ping", "ping", "ping")
	waitFor(t, "the datagrams queued", func() bool { return queuedMemory(t, r) >= 4*one })
	if w.take(w.epfd) {
		t.Error("ready for datagrams that arrived after the wait returned")
	}
	if err := w.readable(d.fd); err != nil {
		t.Fatal(err)
	}
}

// TestDetachedConnPause: a pause lasts its time, whatever arrives on the
// socket meanwhile, and ends at once when the read deadline passes.
func TestDetachedConnPause(t *testing.T) {
	checkLeaks(t)
	d, c := detachedPair(t)
	r := &rawDetached{c: d}
	const pause = 100 * time.Millisecond
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- r.pause(pause) }()
	for range 5 {
		send(t, c, "ping")
		time.Sleep(pause / 10)
	}
	if err := waitErr(t, done); err != nil {
		t.Fatalf("pause: %v", err)
	}
	if took := time.Since(start); took < pause {
		t.Errorf("a pause of %v ended after %v", pause, took)
	}

	go func() { done <- r.pause(time.Hour) }()
	time.Sleep(10 * time.Millisecond)
	if err := d.SetReadDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, done); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("pause after a past deadline = %v", err)
	}
	// A reader that pauses after the deadline passed returns at once.
	if err := r.pause(time.Hour); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("pause with a past deadline = %v", err)
	}
}
