package ingest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// streamServer is a Server listening on a loopback TCP (or TLS) port.
type testStream struct {
	*Server
	addr string // host:port
	logs *logRecorder
	errc chan error
	once sync.Once
	err  error
}

// startStream starts a Server on cfg.Addr (default tcp://127.0.0.1:0),
// with a recording logger when cfg has none, and closes it when the test
// ends.
func startStream(t testing.TB, cfg Config) *testStream {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "tcp://127.0.0.1:0"
	}
	ts := &testStream{logs: &logRecorder{}, errc: make(chan error, 1)}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(ts.logs)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = srv
	go func() { ts.errc <- srv.ListenAndServe(context.Background()) }()
	waitFor(t, "the listener", func() bool {
		select {
		case err := <-ts.errc:
			t.Fatalf("ListenAndServe: %v", err)
		default:
		}
		return srv.LocalAddr() != nil
	})
	ts.addr = srv.LocalAddr().String()
	t.Cleanup(func() {
		srv.Close()
		ts.wait()
	})
	return ts
}

func (ts *testStream) wait() error {
	ts.once.Do(func() {
		select {
		case ts.err = <-ts.errc:
		case <-time.After(waitTimeout):
			ts.err = errors.New("ListenAndServe did not return")
		}
	})
	return ts.err
}

func (ts *testStream) waitStats(t testing.TB, what string, cond func(Stats) bool) Stats {
	t.Helper()
	var st Stats
	waitFor(t, what, func() bool { st = ts.Stats(); return cond(st) })
	return st
}

// dialTCP connects to addr and closes the connection when the test ends.
func dialTCP(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

func write(t testing.TB, c io.Writer, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// octet frames s with its octet count.
func octet(s string) string { return strconv.Itoa(len(s)) + " " + s }

func TestStreamFraming(t *testing.T) {
	checkLeaks(t)
	rec := &recorder{}
	ts := startStream(t, Config{Handler: rec})
	c := dialTCP(t, ts.addr)
	hdr := "<190>Nov  5 21:22:09 web01 nginx: "
	stream := octet(hdr+line("/a")) + // octet counting
		hdr + line("/b") + "\n" + // LF
		hdr + line("/c") + "\r\n" + // CRLF
		"\n\r\n" + // empty lines: no frame
		octet(hdr+line("/d")+"\n") + // a count that includes the LF (syslog-ng)
		line("/e") + "\n" + // bare, starting with digits that are no count
		octet(line("/f")+"\n"+line("/g")) + // one message, two lines
		octet("garbage") + // fails to parse
		"0 " + // no frame has length 0
		"<190>1 2026-11-25T21:22:09Z web01 nginx - - - " + line("/h") + "\n"
	// Split the stream at every byte boundary over a few writes.
	for i := 0; i < len(stream); i += 7 {
		write(t, c, stream[i:min(i+7, len(stream))])
	}
	st := ts.waitStats(t, "8 lines parsed", func(s Stats) bool { return s.Parsed == 8 && s.ParseErrors == 1 })
	if got, want := strings.Join(rec.got(), " "), "/a /b /c /d /e /f /g /h"; got != want {
		t.Errorf("paths %q, want %q", got, want)
	}
	if st.Frames != 8 || st.Lines != 9 || st.FramingErrors != 1 || st.Bytes != uint64(len(stream)) ||
		st.Transport != "tcp" || st.Connections != 1 || st.ConnectionsOpened != 1 || st.Datagrams != 0 {
		t.Errorf("stats %+v", st)
	}
	for _, src := range rec.sources {
		if src.Addr() != netip.MustParseAddr("127.0.0.1") || src.Port() == 0 {
			t.Errorf("source %v", src)
		}
	}
	c.Close()
	st = ts.waitStats(t, "the connection closed", func(s Stats) bool { return s.ConnectionsClosed == 1 })
	if st.Connections != 0 || st.FramesCut != 0 || st.Parsed != 8 || st.ReadErrors != 0 {
		t.Errorf("after close: stats %+v", st)
	}
}

// TestStreamBounds: a frame too long, by octet count or without its LF,
// is counted and skipped, not buffered; a frame cut by the connection's
// end is counted; a peer sending 10 MB without a frame end holds no more
// than its buffer while the listener serves another connection.
func TestStreamBounds(t *testing.T) {
	checkLeaks(t)
	rec := &recorder{}
	const maxFrame = 1024
	ts := startStream(t, Config{Handler: rec, MaxFrame: maxFrame})
	good := line("/ok")

	c := dialTCP(t, ts.addr)
	write(t, c, "5000 "+strings.Repeat("x", 5000)+octet(good)) // too long by its count
	write(t, c, strings.Repeat("y", 3000)+"\n"+good+"\n")      // too long to its LF
	write(t, c, octet(good)[:50])                              // cut
	ts.waitStats(t, "bytes", func(s Stats) bool { return s.Bytes == uint64(5005+len(octet(good))+3001+len(good)+1+50) })
	c.Close()
	st := ts.waitStats(t, "the close", func(s Stats) bool { return s.ConnectionsClosed == 1 })
	if st.FramesTooLong != 2 || st.FramesCut != 1 || st.Frames != 2 || st.Parsed != 2 {
		t.Errorf("stats %+v", st)
	}

	// A last line without its LF is cut, not parsed.
	c = dialTCP(t, ts.addr)
	write(t, c, good+"\n"+good)
	c.Close()
	st = ts.waitStats(t, "the close", func(s Stats) bool { return s.ConnectionsClosed == 2 })
	if st.FramesCut != 2 || st.Parsed != 3 {
		t.Errorf("stats %+v", st)
	}

	// 10 MB without a frame end, while another connection is served.
	flood := dialTCP(t, ts.addr)
	other := dialTCP(t, ts.addr)
	chunk := bytes.Repeat([]byte("z"), 64<<10)
	errc := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < 160 && err == nil; i++ {
			_, err = flood.Write(chunk)
		}
		errc <- err
	}()
	for i := range 100 {
		write(t, other, octet(line(fmt.Sprintf("/other/%d", i))))
		if i == 50 {
			ts.waitStats(t, "the flood underway", func(s Stats) bool { return s.FramesTooLong == 3 })
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	st = ts.waitStats(t, "the flood read", func(s Stats) bool { return s.Parsed == 103 && s.Bytes >= 160*64<<10 })
	if st.ReadBufferBytes != 2*(maxFrame+frameSlack) || st.FramesTooLong != 3 {
		t.Errorf("stats %+v", st)
	}
	flood.Close()
	st = ts.waitStats(t, "the flood's end", func(s Stats) bool { return s.ConnectionsClosed == 3 })
	if st.FramesCut != 2 || st.FramesTooLong != 3 {
		t.Errorf("a frame already counted too long is not cut too: %+v", st)
	}
}

func TestStreamMaxConnections(t *testing.T) {
	checkLeaks(t)
	rec := &recorder{}
	ts := startStream(t, Config{Handler: rec, MaxConnections: 2})
	a, b := dialTCP(t, ts.addr), dialTCP(t, ts.addr)
	ts.waitStats(t, "2 connections", func(s Stats) bool { return s.Connections == 2 })
	// The refused connection is reset: the dial or the first read fails.
	if c, err := net.Dial("tcp", ts.addr); err == nil {
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("refused connection read: %v", err)
		}
	}
	ts.waitStats(t, "the third refused", func(s Stats) bool { return s.ConnectionsRefused == 1 })
	write(t, a, octet(line("/a")))
	write(t, b, octet(line("/b")))
	a.Close()
	ts.waitStats(t, "a closed", func(s Stats) bool { return s.ConnectionsClosed == 1 })
	d := dialTCP(t, ts.addr)
	write(t, d, octet(line("/d")))
	st := ts.waitStats(t, "3 lines", func(s Stats) bool { return s.Parsed == 3 })
	if st.ConnectionsOpened != 3 || st.ConnectionsRefused != 1 || st.Connections != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestStreamIdleTimeout(t *testing.T) {
	checkLeaks(t)
	ts := startStream(t, Config{Handler: &recorder{}, IdleTimeout: 100 * time.Millisecond})
	c := dialTCP(t, ts.addr)
	write(t, c, octet(line("/a"))+octet(line("/b"))[:20])
	st := ts.waitStats(t, "the idle close", func(s Stats) bool { return s.ConnectionsClosed == 1 })
	if st.ConnectionsIdle != 1 || st.Parsed != 1 || st.FramesCut != 1 || st.ReadErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestStreamAllowedSources(t *testing.T) {
	checkLeaks(t)
	ts := startStream(t, Config{Handler: &recorder{}, AllowedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	c, err := net.Dial("tcp", ts.addr)
	if err == nil { // else reset already
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("a connection from outside AllowedSources stays open")
		}
	}
	st := ts.waitStats(t, "the refusal", func(s Stats) bool { return s.DroppedSource == 1 })
	if st.ConnectionsOpened != 0 || st.ConnectionsRefused != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestStreamHandlerPanic: a panic is counted, and the connection goes on.
func TestStreamHandlerPanic(t *testing.T) {
	checkLeaks(t)
	var bad []string
	var mu sync.Mutex
	ts := startStream(t, Config{
		Handler: HandlerFunc(func(r *Request) {
			if string(r.Path) == "/panic" {
				panic("boom")
			}
		}),
		OnBadLine: func(line []byte, _ netip.AddrPort, err error) {
			mu.Lock()
			bad = append(bad, ErrorReason(err))
			mu.Unlock()
		},
		BadLineInterval: -1,
	})
	c := dialTCP(t, ts.addr)
	write(t, c, octet(line("/panic"))+octet(line("/ok"))+octet(badLines[0].line))
	st := ts.waitStats(t, "3 lines", func(s Stats) bool { return s.Lines == 3 })
	mu.Lock()
	defer mu.Unlock()
	if st.HandlerPanics != 1 || st.Parsed != 2 || st.ParseErrors != 1 || len(bad) != 1 || bad[0] != badLines[0].reason {
		t.Errorf("stats %+v, bad lines %q", st, bad)
	}
	if len(ts.logs.find("handler panicked")) != 1 {
		t.Error("the panic is not logged")
	}
}

// TestStreamShutdown: Shutdown stops accepting, and the connections
// deliver what they had received; what comes after is counted.
func TestStreamShutdown(t *testing.T) {
	checkLeaks(t)
	var hold sync.Mutex
	var n atomic.Int64
	entered := make(chan struct{}, 1)
	ts := startStream(t, Config{Handler: HandlerFunc(func(r *Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		hold.Lock()
		hold.Unlock()
		n.Add(1)
	})})
	c := dialTCP(t, ts.addr)
	hold.Lock()
	write(t, c, octet(line("/first")))
	<-entered
	// The handler holds the connection's goroutine: these wait in the
	// kernel's queue.
	const queued = 100
	var b strings.Builder
	for i := range queued {
		b.WriteString(octet(line(fmt.Sprintf("/q/%d", i))))
	}
	write(t, c, b.String())
	waitFor(t, "the bytes in the kernel's queue", func() bool {
		n, ok := queuedBytes(t, ts)
		return !ok || n == b.Len()
	})
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(context.Background()) }()
	waitFor(t, "the listener closed", ts.stoppedAccepting)
	hold.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := ts.wait(); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("ListenAndServe returned %v", err)
	}
	st := ts.Stats()
	want := int64(1 + queued)
	if !drainSupported {
		want = int64(st.Frames) // what was in the buffer
	}
	if n.Load() != want || st.Parsed != uint64(want) || st.ConnectionsClosed != 1 || st.FramesCut != 0 {
		t.Errorf("delivered %d, want %d; stats %+v", n.Load(), want, st)
	}
}

// stoppedAccepting reports whether the Server has closed its listener.
func (ts *testStream) stoppedAccepting() bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.stream != nil && ts.stream.stopped
}

// queuedBytes returns the bytes the kernel holds for the Server's only
// connection, when it can tell.
func queuedBytes(t testing.TB, ts *testStream) (int, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for c := range ts.stream.conns {
		if c.dc == nil {
			return 0, false
		}
		return c.dc.unread()
	}
	return 0, false
}

// TestStreamClose: Close discards what the connections hold, counted.
func TestStreamClose(t *testing.T) {
	checkLeaks(t)
	var hold sync.Mutex
	entered := make(chan struct{}, 1)
	ts := startStream(t, Config{Handler: HandlerFunc(func(r *Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		hold.Lock()
		hold.Unlock()
	})})
	c := dialTCP(t, ts.addr)
	hold.Lock()
	write(t, c, octet(line("/first")))
	<-entered
	var b strings.Builder
	for i := range 100 {
		b.WriteString(octet(line(fmt.Sprintf("/q/%d", i))))
	}
	write(t, c, b.String())
	done := make(chan error, 1)
	go func() { done <- ts.Close() }()
	waitFor(t, "Close discarding", func() bool { return ts.discarding.Load() })
	hold.Unlock()
	<-done
	st := ts.Stats()
	// What was read into the buffer is framed and discarded; what the
	// kernel held is unread.
	if st.Parsed != 1 || st.DroppedClosed != st.Frames-1 ||
		drainSupported && st.BytesUnread+st.Bytes != uint64(len(octet(line("/first")))+b.Len()) {
		t.Errorf("stats %+v", st)
	}
}

func TestStreamConfig(t *testing.T) {
	h := &recorder{}
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Addr: "sctp://127.0.0.1:1"}, "Addr"},
		{Config{Addr: "tcp://127.0.0.1"}, "Addr"},
		{Config{Addr: "unix:"}, "Addr"},
		{Config{Addr: "tls://127.0.0.1:0"}, "Addr"},
		{Config{Addr: "tcp://127.0.0.1:0", TLSCertFile: "c.pem", TLSKeyFile: "k.pem"}, "Addr"},
		{Config{Addr: "unix:/tmp/x.sock", AllowedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, "AllowedSources"},
		{Config{Addr: "unix:/tmp/x.sock", SocketMode: 0o4777}, "SocketMode"},
		{Config{Addr: "tcp://127.0.0.1:0", MaxFrame: 10}, "MaxFrame"},
		{Config{Addr: "tcp://127.0.0.1:0", MaxFrame: 2 << 20}, "MaxFrame"},
		{Config{Addr: "tcp://127.0.0.1:0", MaxConnections: -1}, "MaxConnections"},
		{Config{Addr: "tcp://127.0.0.1:0", QueueLength: 10}, "QueueLength"},
		{Config{Addr: "tls://127.0.0.1:0", TLSCertFile: "/nonexistent/c.pem", TLSKeyFile: "/nonexistent/k.pem"}, "TLSCertFile"},
		{Config{Addr: "tls://127.0.0.1:0", TLSCertFile: "c.pem"}, "TLSKeyFile"},
		{Config{Addr: "tls://127.0.0.1:0", TLSConfig: &tls.Config{MinVersion: tls.VersionTLS11}}, "TLSConfig.MinVersion"},
		{Config{Addr: "tls://127.0.0.1:0", TLSConfig: &tls.Config{}}, "TLSCertFile"},
	} {
		tc.cfg.Handler = h
		_, err := NewServer(tc.cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: error %v, want one for %s", tc.cfg, err, tc.field)
		}
	}
}
