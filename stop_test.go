package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// tooLongConn is a net.PacketConn without a file descriptor whose reads of
// a datagram starting with "LONG" fail as Windows fails the read of a
// datagram longer than the buffer: the buffer filled, no sender, and
// WSAEMSGSIZE (errMessageTooLong).
type tooLongConn struct {
	net.PacketConn
}

func (c tooLongConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(b)
	if err == nil && bytes.HasPrefix(b[:n], []byte("LONG")) {
		return len(b), nil, &net.OpError{Op: "read", Net: "udp", Err: os.NewSyscallError("wsarecvfrom", errMessageTooLong)}
	}
	return n, a, err
}

// TestServerReadTooLong: a read that fails because the datagram was longer
// than the buffer counts a truncated datagram, not a read error, and the
// reader goes on at once.
func TestServerReadTooLong(t *testing.T) {
	checkLeaks(t)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	ts := serveConn(t, Config{Handler: rec, MaxDatagram: 1000}, tooLongConn{conn})
	c := dial(t, ts.addr)
	send(t, c, "LONG datagram", line("/after"))
	st := ts.waitStats(t, "both datagrams", func(s Stats) bool { return s.Datagrams == 2 && s.Parsed == 1 })
	if st.Truncated != 1 || st.ReadErrors != 0 || st.Bytes != 1001+uint64(len(line("/after"))) {
		t.Errorf("Truncated %d, ReadErrors %d, Bytes %d; want 1, 0, %d", st.Truncated, st.ReadErrors, st.Bytes, 1001+len(line("/after")))
	}
	if got := rec.got(); len(got) != 1 || got[0] != "/after" {
		t.Errorf("handled %q", got)
	}
	if recs := ts.logs.find("read failed"); len(recs) != 0 {
		t.Errorf("logged %d read errors", len(recs))
	}
}

// TestServeContextGrace: when Serve's context is done, the Server stops as
// Shutdown does, with a grace period (5 s, shortened here): past it, what is
// not delivered is discarded and counted, and Serve returns once the
// handler call in progress returns.
func TestServeContextGrace(t *testing.T) {
	checkLeaks(t)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	g, open := newHeldGate()
	srv, err := NewServer(Config{Handler: g, QueueLength: 100, Workers: 1, Logger: slog.New(&logRecorder{})})
	if err != nil {
		t.Fatal(err)
	}
	srv.grace = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, conn) }()
	defer srv.Close()
	defer open() // first, should the test fail while the handler is held
	c := dial(t, conn.LocalAddr().(*net.UDPAddr))
	const n = 20
	send(t, c, line("/0"))
	g.waitEntered(t) // the worker holds the first
	for i := 1; i < n; i++ {
		send(t, c, line(fmt.Sprint("/", i)))
	}
	waitFor(t, "everything queued", func() bool { return srv.Stats().QueueDatagrams == n-1 })
	cancel()
	// The handler is still held: past the grace period, the Server
	// discards.
	waitFor(t, "the grace period to end", func() bool { return srv.discarding.Load() })
	select {
	case err := <-errc:
		t.Fatalf("Serve returned %v while a handler call was in progress", err)
	default:
	}
	open()
	waitCanceled(t, "Serve", errc)
	st := srv.Stats()
	if st.Parsed != 1 || st.DroppedClosed != n-1 || st.Datagrams != n {
		t.Errorf("Parsed %d, DroppedClosed %d, Datagrams %d; want 1, %d, %d", st.Parsed, st.DroppedClosed, st.Datagrams, n-1, n)
	}
}

// newHeldGate returns a gate that holds the handler, and a function that
// lets it go, which may be called more than once: a test defers it, so
// that a failure while the handler is held does not leave Close waiting.
func newHeldGate() (*gate, func()) {
	g := newGate()
	var once sync.Once
	return g, func() { once.Do(g.open) }
}

// TestServeListenerContextGrace: ServeListener stops as Serve does when its
// context is done: past the grace period, what is not delivered is
// discarded and counted.
func TestServeListenerContextGrace(t *testing.T) {
	checkLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g, open := newHeldGate()
	srv, err := NewServer(Config{Handler: g, Addr: "tcp://" + ln.Addr().String(), Logger: slog.New(&logRecorder{})})
	if err != nil {
		t.Fatal(err)
	}
	srv.grace = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeListener(ctx, ln) }()
	defer srv.Close()
	defer open()
	c := dialTCP(t, ln.Addr().String())
	write(t, c, octet(line("/first")))
	g.waitEntered(t)
	const queued = 20
	var b strings.Builder
	for i := range queued {
		b.WriteString(octet(line(fmt.Sprint("/q/", i))))
	}
	write(t, c, b.String())
	cancel()
	waitFor(t, "the grace period to end", func() bool { return srv.discarding.Load() })
	open()
	waitCanceled(t, "ServeListener", errc)
	// As after Close: what was read is framed and discarded, what the
	// kernel held is unread.
	st := srv.Stats()
	if st.Parsed != 1 || st.DroppedClosed != st.Frames-1 ||
		drainSupported && st.BytesUnread+st.Bytes != uint64(len(octet(line("/first")))+b.Len()) {
		t.Errorf("Parsed %d, Frames %d, DroppedClosed %d, Bytes %d, BytesUnread %d; want 1 parsed, the other frames discarded, %d bytes in all",
			st.Parsed, st.Frames, st.DroppedClosed, st.Bytes, st.BytesUnread, len(octet(line("/first")))+b.Len())
	}
}

// waitCanceled waits for what (Serve, ServeListener) to return on errc,
// and checks that it returned context.Canceled.
func waitCanceled(t *testing.T, what string, errc <-chan error) {
	t.Helper()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s returned %v, want context.Canceled", what, err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("%s did not return", what)
	}
}
