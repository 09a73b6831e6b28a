package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// checkLeaks fails t when goroutines started during the test outlive it.
// Call it first, so that its check runs after every other cleanup.
func checkLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// waitTimeout bounds every wait for the Server to catch up. Waits end as
// soon as their condition holds; the bound only matters when it never does.
const waitTimeout = 20 * time.Second

// waitFor polls cond until it holds, and fails t after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// logRecorder is a slog.Handler that keeps the records it gets.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// find returns the records whose message contains msg.
func (l *logRecorder) find(msg string) []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Record
	for _, r := range l.records {
		if strings.Contains(r.Message, msg) {
			out = append(out, r)
		}
	}
	return out
}

func attr(r slog.Record, key string) slog.Value {
	var v slog.Value
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value
			return false
		}
		return true
	})
	return v
}

// recorder is a Handler that keeps a copy of what it is given.
type recorder struct {
	mu      sync.Mutex
	paths   []string
	sources []netip.AddrPort
	n       atomic.Int64
}

func (rec *recorder) ServeLine(r *Request) {
	rec.mu.Lock()
	rec.paths = append(rec.paths, string(r.Path)) // a copy: r dies with the call
	rec.sources = append(rec.sources, r.Source)
	rec.mu.Unlock()
	rec.n.Add(1)
}

func (rec *recorder) got() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.paths)
}

// testServer is a Server serving a loopback socket the test made.
type testServer struct {
	*Server
	addr *net.UDPAddr
	logs *logRecorder
	errc chan error
	once sync.Once
	err  error
}

// startServer serves a new 127.0.0.1 socket with c (and a recording logger
// when c has none) and closes the Server when the test ends.
func startServer(t *testing.T, c Config) *testServer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return serveConn(t, c, conn)
}

func serveConn(t *testing.T, c Config, conn net.PacketConn) *testServer {
	t.Helper()
	ts := &testServer{addr: conn.LocalAddr().(*net.UDPAddr), logs: &logRecorder{}, errc: make(chan error, 1)}
	if c.Logger == nil {
		c.Logger = slog.New(ts.logs)
	}
	srv, err := NewServer(c)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	ts.Server = srv
	go func() { ts.errc <- srv.Serve(context.Background(), conn) }()
	t.Cleanup(func() {
		srv.Close()
		ts.wait()
	})
	return ts
}

// wait returns what Serve returned, waiting for it.
func (ts *testServer) wait() error {
	ts.once.Do(func() {
		select {
		case ts.err = <-ts.errc:
		case <-time.After(waitTimeout):
			ts.err = errors.New("Serve did not return")
		}
	})
	return ts.err
}

// waitStats polls Stats until cond holds.
func (ts *testServer) waitStats(t *testing.T, what string, cond func(Stats) bool) Stats {
	t.Helper()
	var st Stats
	waitFor(t, what, func() bool { st = ts.Stats(); return cond(st) })
	return st
}

// dial returns a socket connected to addr, closed when the test ends.
func dial(t testing.TB, addr *net.UDPAddr) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t testing.TB, c *net.UDPConn, datagrams ...string) {
	t.Helper()
	for _, d := range datagrams {
		if _, err := c.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
}

// line returns a valid combined line whose path is p.
func line(p string) string {
	return `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET ` + p + ` HTTP/1.1" 200 1534 "-" "curl/8.5.0"`
}

// badLines are lines that fail, with the ErrorReason of each.
var badLines = []struct{ line, reason string }{
	{`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 2000 1 "-" "-"`, "status"},
	{`203.0.113.7 - - [10/Oct/2026:25:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`, "time"},
	{`garbage`, "not_access_line"},
	{`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000]`, "missing_field"},
	{"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", "not_access_line"},
	{`<999>Oct 10 13:55:36 web01 nginx: ` + line("/x"), "syslog_header"},
	{`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 12x "-" "-"`, "bytes"},
}

// TestServerAccounting sends good and bad lines in bursts and checks that
// every line sent was either handed to the handler or counted as a parse
// error, by reason, with nothing else lost.
func TestServerAccounting(t *testing.T) {
	checkLeaks(t)
	rec := &recorder{}
	ts := startServer(t, Config{Handler: rec})
	c := dial(t, ts.addr)

	const bursts, perBurst = 20, 50
	var want []string
	wantErrs := map[string]uint64{}
	var lines, bytesSent uint64
	for b := range bursts {
		for i := range perBurst {
			// One to three lines per datagram; every seventh line is bad.
			var d []string
			for j := range 1 + (b+i)%3 {
				if k := int(lines) + j; k%7 == 0 {
					bl := badLines[(k/7)%len(badLines)]
					d = append(d, bl.line)
					wantErrs[bl.reason]++
					continue
				}
				p := fmt.Sprintf("/b%d/d%d/l%d", b, i, j)
				d = append(d, line(p))
				want = append(want, p)
			}
			lines += uint64(len(d))
			dg := strings.Join(d, "\n")
			bytesSent += uint64(len(dg))
			send(t, c, dg)
		}
		// Let the reader catch up before the next burst.
		sent := uint64((b + 1) * perBurst)
		ts.waitStats(t, "a burst to be read", func(s Stats) bool { return s.Datagrams >= sent })
	}
	st := ts.waitStats(t, "every line", func(s Stats) bool { return s.Lines >= lines })
	var errs uint64
	for _, n := range wantErrs {
		errs += n
	}
	if st.Datagrams != bursts*perBurst || st.Bytes != bytesSent || st.Lines != lines ||
		st.Parsed != uint64(len(want)) || st.ParseErrors != errs || st.Parsed+st.ParseErrors != lines {
		t.Errorf("stats %+v; sent %d datagrams, %d bytes, %d lines: %d good, %d bad",
			st, bursts*perBurst, bytesSent, lines, len(want), errs)
	}
	if st.Truncated+st.DroppedKernel+st.DroppedQueueFull+st.DroppedSource+st.DroppedClosed+st.HandlerPanics != 0 {
		t.Errorf("unexpected drops or panics: %+v", st)
	}
	for reason, n := range wantErrs {
		if got := st.ParseErrorsFor(reason); got != n {
			t.Errorf("ParseErrorsFor(%q) = %d, want %d", reason, got, n)
		}
	}
	var sum uint64
	for _, n := range st.ParseErrorsByReason() {
		sum += n
	}
	if sum != st.ParseErrors {
		t.Errorf("ParseErrorsByReason sums to %d, ParseErrors = %d", sum, st.ParseErrors)
	}
	// Every good line reached the handler exactly once, in order (one
	// reader, one sender, loopback), from the sender's address.
	if got := rec.got(); !slices.Equal(got, want) {
		t.Errorf("handler got %d paths, want %d (first difference at %d)", len(got), len(want), firstDiff(got, want))
	}
	from := c.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, src := range rec.sources {
		if src != from {
			t.Fatalf("Request.Source = %v, want %v", src, from)
		}
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestServerMultiLine checks the framing of datagrams into lines.
func TestServerMultiLine(t *testing.T) {
	checkLeaks(t)
	rec := &recorder{}
	ts := startServer(t, Config{Handler: rec})
	c := dial(t, ts.addr)
	datagrams := []struct {
		d             string
		parsed, lines uint64
		paths         []string
	}{
		{line("/a1") + "\n" + line("/a2") + "\n", 2, 2, []string{"/a1", "/a2"}},
		{line("/b1") + "\r\n" + line("/b2") + "\r\n", 2, 2, []string{"/b1", "/b2"}},
		{"\n\n" + line("/c1") + "\n\r\n\n" + line("/c2"), 2, 2, []string{"/c1", "/c2"}},
		{line("/d1"), 1, 1, []string{"/d1"}},
		{"\n", 0, 0, nil},
		{"\r\n\r\n", 0, 0, nil},
		{"", 0, 0, nil},
		{line("/e1") + "\ngarbage\n" + line("/e2"), 2, 3, []string{"/e1", "/e2"}},
		{"<190>Oct 10 13:55:36 web01 nginx: " + line("/f1") + "\n<190>1 2026-10-10T13:55:36Z web01 nginx - - - " + line("/f2"), 2, 2, []string{"/f1", "/f2"}},
	}
	var want []string
	var parsed, lines uint64
	for _, d := range datagrams {
		send(t, c, d.d)
		want = append(want, d.paths...)
		parsed += d.parsed
		lines += d.lines
	}
	n := uint64(len(datagrams))
	st := ts.waitStats(t, "every datagram", func(s Stats) bool { return s.Datagrams == n })
	if st.Lines != lines || st.Parsed != parsed || st.ParseErrors != lines-parsed {
		t.Errorf("lines %d, parsed %d, errors %d; want %d, %d, %d", st.Lines, st.Parsed, st.ParseErrors, lines, parsed, lines-parsed)
	}
	if got := rec.got(); !slices.Equal(got, want) {
		t.Errorf("handler got %q, want %q", got, want)
	}
}

// TestServerTruncated checks that a datagram longer than MaxDatagram is
// counted and not parsed, not even its first lines.
func TestServerTruncated(t *testing.T) {
	checkLeaks(t)
	const max = 600
	rec := &recorder{}
	ts := startServer(t, Config{Handler: rec, MaxDatagram: max})
	c := dial(t, ts.addr)
	short := line("/short")
	exact := short + strings.Repeat("\n", max-len(short))
	datagrams := []string{
		short,        // fits
		exact,        // exactly MaxDatagram bytes: fits
		exact + "\n", // MaxDatagram+1: truncated
		short + "\n" + line("/"+strings.Repeat("x", 2048)), // first line fits, datagram does not
		string(readFixture(t, "path2k")),
		short,
	}
	if len(exact) != max {
		t.Fatal("bad test")
	}
	send(t, c, datagrams...)
	st := ts.waitStats(t, "every datagram", func(s Stats) bool { return s.Datagrams == uint64(len(datagrams)) })
	if st.Truncated != 3 || st.Parsed != 3 || st.Lines != 3 || st.ParseErrors != 0 {
		t.Errorf("truncated %d, parsed %d, lines %d, errors %d; want 3, 3, 3, 0", st.Truncated, st.Parsed, st.Lines, st.ParseErrors)
	}
	if got := rec.got(); !slices.Equal(got, []string{"/short", "/short", "/short"}) {
		t.Errorf("handler got %q", got)
	}
	// Bytes counts what was sent, truncated datagrams included, where the
	// kernel tells their length; elsewhere a truncated datagram counts
	// MaxDatagram+1.
	var want uint64
	for _, d := range datagrams {
		if len(d) > max && !truncatedLengthKnown {
			want += max + 1
		} else {
			want += uint64(len(d))
		}
	}
	if st.Bytes != want {
		t.Errorf("Bytes = %d, want %d", st.Bytes, want)
	}
}

// gate is a handler that blocks in ServeLine until released, so a test
// can hold a reader or worker.
type gate struct {
	entered chan struct{} // one value per call, buffered
	release chan struct{} // closed to let calls through
	hold    atomic.Bool   // calls wait for release while set
	n       atomic.Int64
}

func newGate() *gate {
	g := &gate{entered: make(chan struct{}, 1024), release: make(chan struct{})}
	g.hold.Store(true)
	return g
}

func (g *gate) ServeLine(*Request) {
	g.entered <- struct{}{}
	if g.hold.Load() {
		<-g.release
	}
	g.n.Add(1)
}

func (g *gate) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(waitTimeout):
		t.Fatal("handler not called")
	}
}

func (g *gate) open() {
	g.hold.Store(false)
	close(g.release)
}

// TestServerQueueFullDrops: with a stuck handler and a queue of one, the
// reader keeps reading and counts what it cannot queue.
func TestServerQueueFullDrops(t *testing.T) {
	checkLeaks(t)
	g := newGate()
	ts := startServer(t, Config{Handler: g, QueueLength: 1, Workers: 1})
	c := dial(t, ts.addr)
	send(t, c, line("/1"))
	g.waitEntered(t) // the worker holds datagram 1
	const n = 20
	for i := 2; i <= n; i++ {
		send(t, c, line(fmt.Sprint("/", i)))
	}
	// The reader is not blocked by the stuck handler: it reads all of them.
	st := ts.waitStats(t, "the reader to read everything", func(s Stats) bool { return s.Datagrams == n })
	if st.DroppedQueueFull != n-2 {
		t.Errorf("DroppedQueueFull = %d, want %d (one in the handler, one queued)", st.DroppedQueueFull, n-2)
	}
	g.open()
	st = ts.waitStats(t, "the queued datagram", func(s Stats) bool { return s.Parsed == 2 })
	if g.n.Load() != 2 || st.Lines != 2 || st.DroppedQueueFull != n-2 {
		t.Errorf("handled %d; stats %+v", g.n.Load(), st)
	}
}

// TestServerQueueBlock: with BlockWhenQueueFull nothing is dropped while the
// handler is slow, and Close frees a reader waiting for room.
func TestServerQueueBlock(t *testing.T) {
	checkLeaks(t)
	g := newGate()
	ts := startServer(t, Config{Handler: g, QueueLength: 1, Workers: 1, BlockWhenQueueFull: true})
	c := dial(t, ts.addr)
	send(t, c, line("/1"))
	g.waitEntered(t)
	for i := 2; i <= 10; i++ {
		send(t, c, line(fmt.Sprint("/", i)))
	}
	// 1 in the handler, 1 queued, 1 held by the blocked reader.
	ts.waitStats(t, "the reader to block", func(s Stats) bool { return s.Datagrams >= 3 })
	g.open()
	// A worker may count a datagram's line before its reader has
	// published the datagram, at the end of its batch: wait for both.
	st := ts.waitStats(t, "every line", func(s Stats) bool { return s.Parsed == 10 && s.Datagrams == 10 })
	if st.DroppedQueueFull != 0 {
		t.Errorf("stats %+v", st)
	}

	// Now hold the handler again, fill the queue, and Close.
	g2 := newGate()
	ts2 := startServer(t, Config{Handler: g2, QueueLength: 1, Workers: 1, BlockWhenQueueFull: true})
	c2 := dial(t, ts2.addr)
	send(t, c2, line("/1"))
	g2.waitEntered(t)
	send(t, c2, line("/2"), line("/3"), line("/4"), line("/5"))
	ts2.waitStats(t, "the reader to block", func(s Stats) bool { return s.Datagrams >= 3 })
	closed := make(chan error, 1)
	go func() { closed <- ts2.Close() }()
	// Close drops what the reader holds and then waits for the handler.
	ts2.waitStats(t, "Close to discard", func(s Stats) bool { return s.DroppedClosed >= 1 })
	g2.open()
	select {
	case err := <-closed:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return")
	}
	st = ts2.Stats()
	if g2.n.Load() != 1 || st.Parsed != 1 || st.Datagrams != st.Parsed+st.DroppedClosed {
		t.Errorf("handled %d; stats %+v", g2.n.Load(), st)
	}
	if err := ts2.wait(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
}

// TestServerShutdownDeliversQueued: Shutdown waits for the queue to drain,
// and a Shutdown whose context ends first says so.
func TestServerShutdownDeliversQueued(t *testing.T) {
	checkLeaks(t)
	const n, workers = 50, 2
	// queueHeld starts a Server whose workers are held in the handler with
	// the rest of n datagrams queued behind them.
	queueHeld := func() (*testServer, *gate) {
		g := newGate()
		ts := startServer(t, Config{Handler: g, QueueLength: 100, Workers: workers})
		c := dial(t, ts.addr)
		for i := range n {
			send(t, c, line(fmt.Sprint("/", i)))
		}
		ts.waitStats(t, "everything to be queued", func(s Stats) bool { return s.Datagrams == n })
		return ts, g
	}

	// With time enough, Shutdown delivers everything queued.
	ts, g := queueHeld()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	g.open()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	st := ts.Stats()
	if g.n.Load() != n || st.Parsed != n || st.DroppedClosed != 0 || st.DroppedQueueFull != 0 {
		t.Errorf("handled %d of %d; stats %+v", g.n.Load(), n, st)
	}
	if err := ts.wait(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}

	// When its context is done first, Shutdown returns and what was not
	// delivered is counted as discarded.
	ts, g = queueHeld()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with a stuck handler and a done context = %v", err)
	}
	g.open()
	if err := ts.wait(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	st = ts.Stats()
	if st.Parsed > workers || st.Parsed+st.DroppedClosed != n {
		t.Errorf("after a Shutdown past its deadline: stats %+v, want at most %d parsed and the rest of %d discarded", st, workers, n)
	}
}

// TestServerCloseTwice: Close and Shutdown in any order and number, before or
// after serving.
func TestServerCloseTwice(t *testing.T) {
	checkLeaks(t)
	ts := startServer(t, Config{Handler: &recorder{}})
	c := dial(t, ts.addr)
	send(t, c, line("/"))
	ts.waitStats(t, "a line", func(s Stats) bool { return s.Parsed == 1 })
	for range 2 {
		if err := ts.Close(); err != nil {
			t.Error(err)
		}
	}
	if err := ts.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	if err := ts.wait(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	// A stopped Server does not serve again, and closes what it is given.
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Serve(context.Background(), conn); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close = %v", err)
	}
	if _, err := conn.WriteTo([]byte("x"), ts.addr); !errors.Is(err, net.ErrClosed) {
		t.Errorf("conn not closed by Serve: %v", err)
	}
	if err := ts.ListenAndServe(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Errorf("ListenAndServe after Close = %v", err)
	}

	// Closing a Server that never served.
	srv, err := NewServer(Config{Handler: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Error(err)
	}
	if err := srv.Close(); err != nil {
		t.Error(err)
	}
	if srv.LocalAddr() != nil {
		t.Error("LocalAddr of a closed Server")
	}
}

// TestServerServeTwice: a Server serves one socket at a time.
func TestServerServeTwice(t *testing.T) {
	checkLeaks(t)
	ts := startServer(t, Config{Handler: &recorder{}})
	waitFor(t, "Serve to start", func() bool { return ts.LocalAddr() != nil })
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Serve(context.Background(), conn); err == nil || errors.Is(err, ErrServerClosed) {
		t.Errorf("second Serve = %v", err)
	}
}

// TestServerListenAndServe: ListenAndServe with several readers stops when its
// context ends, after delivering everything read.
func TestServerListenAndServe(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("ReusePort=%v", reuse), func(t *testing.T) { testListenAndServe(t, reuse) })
	}
}

func testListenAndServe(t *testing.T, reuse bool) {
	checkLeaks(t)
	rec := &recorder{}
	const readers = 2
	srv, errc, cancel := listenServe(t, Config{Handler: rec, Addr: "127.0.0.1:0", Readers: readers, ReusePort: reuse})
	addr := srv.LocalAddr().(*net.UDPAddr)

	// Several senders: with ReusePort the kernel spreads them over the
	// sockets by address and port.
	const senders, each = 8, 20
	for i := range senders {
		c := dial(t, addr)
		for j := range each {
			send(t, c, line(fmt.Sprintf("/s%d/%d", i, j)))
		}
	}
	waitFor(t, "every line", func() bool { return srv.Stats().Parsed == senders*each })
	st := srv.Stats()
	wantSockets := 1
	if reuse && reusePortSupported {
		wantSockets = readers
	}
	if st.Sockets != wantSockets {
		t.Errorf("Sockets = %d, want %d", st.Sockets, wantSockets)
	}
	if got := len(rec.got()); got != senders*each {
		t.Errorf("handler got %d lines", got)
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ListenAndServe returned %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("ListenAndServe did not return")
	}
}

// listenServe runs c's ListenAndServe until the test ends and waits until
// it listens. It fails the test when ListenAndServe returns first.
func listenServe(t *testing.T, c Config) (*Server, chan error, context.CancelFunc) {
	t.Helper()
	if c.Logger == nil {
		c.Logger = slog.New(&logRecorder{})
	}
	srv, err := NewServer(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(ctx) }()
	t.Cleanup(func() {
		cancel()
		srv.Close()
	})
	waitFor(t, "ListenAndServe to listen", func() bool {
		select {
		case err := <-errc:
			t.Fatalf("ListenAndServe: %v", err)
		default:
		}
		return srv.LocalAddr() != nil
	})
	return srv, errc, cancel
}

// TestServerReusePort: a port is shared with another Server only when both
// ask for it, whatever the number of readers; otherwise binding fails with
// EADDRINUSE.
func TestServerReusePort(t *testing.T) {
	if !reusePortSupported {
		t.Skip("SO_REUSEPORT sharing is Linux only")
	}
	checkLeaks(t)
	h := HandlerFunc(func(*Request) {})
	first, _, _ := listenServe(t, Config{Handler: h, Addr: "127.0.0.1:0", Readers: 2})
	addr := first.LocalAddr().String()
	for _, reuse := range []bool{false, true} {
		second, err := NewServer(Config{Handler: h, Addr: addr, Readers: 2, ReusePort: reuse, Logger: slog.New(&logRecorder{})})
		if err != nil {
			t.Fatal(err)
		}
		// Before it shared the port, ListenAndServe would serve until the
		// deadline.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = second.ListenAndServe(ctx)
		cancel()
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("ReusePort=%v, beside a Server without it: ListenAndServe returned %v, want EADDRINUSE", reuse, err)
		}
	}

	shared, _, _ := listenServe(t, Config{Handler: h, Addr: "127.0.0.1:0", Readers: 2, ReusePort: true})
	addr = shared.LocalAddr().String()
	plain, err := NewServer(Config{Handler: h, Addr: addr, Logger: slog.New(&logRecorder{})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := plain.ListenAndServe(ctx); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("without ReusePort, beside a Server with it: ListenAndServe returned %v, want EADDRINUSE", err)
	}
	other, _, _ := listenServe(t, Config{Handler: h, Addr: addr, ReusePort: true})
	if got := other.LocalAddr().String(); got != addr {
		t.Errorf("the second Server with ReusePort listens on %s, want %s", got, addr)
	}
}

// TestServerAllowedSources: datagrams from elsewhere are counted and not
// parsed.
func TestServerAllowedSources(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct {
		name    string
		allowed []netip.Prefix
		ok      bool
	}{
		{"other", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}, false},
		{"loopback", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}, true},
		{"mapped prefix", []netip.Prefix{netip.MustParsePrefix("::ffff:127.0.0.0/104")}, true},
		{"all", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			ts := startServer(t, Config{Handler: rec, AllowedSources: tc.allowed})
			c := dial(t, ts.addr)
			const n = 5
			for range n {
				send(t, c, line("/"))
			}
			st := ts.waitStats(t, "every datagram", func(s Stats) bool { return s.Datagrams == n })
			wantParsed, wantDropped := uint64(n), uint64(0)
			if !tc.ok {
				wantParsed, wantDropped = 0, n
			}
			if st.Parsed != wantParsed || st.DroppedSource != wantDropped || st.Lines != wantParsed {
				t.Errorf("parsed %d, dropped %d; want %d, %d", st.Parsed, st.DroppedSource, wantParsed, wantDropped)
			}
			if rec.n.Load() != int64(wantParsed) {
				t.Errorf("handler called %d times", rec.n.Load())
			}
		})
	}
	t.Run("ipv6", func(t *testing.T) {
		conn, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
		if err != nil {
			t.Skip("no IPv6 loopback:", err)
		}
		rec := &recorder{}
		ts := serveConn(t, Config{Handler: rec, AllowedSources: []netip.Prefix{netip.MustParsePrefix("::1/128")}}, conn)
		c := dial(t, ts.addr)
		send(t, c, line("/v6"))
		st := ts.waitStats(t, "the datagram", func(s Stats) bool { return s.Datagrams == 1 })
		from := c.LocalAddr().(*net.UDPAddr).AddrPort()
		if st.Parsed != 1 || len(rec.sources) != 1 || rec.sources[0] != from {
			t.Errorf("parsed %d from %v, want 1 from %v", st.Parsed, rec.sources, from)
		}
	})
	if _, err := NewServer(Config{Handler: &recorder{}, AllowedSources: []netip.Prefix{{}}}); err == nil {
		t.Error("invalid prefix accepted")
	}
}

// TestServerReceiveBuffer: the granted buffer is reported, and a warning
// with the granted size is logged exactly when it is less than asked.
func TestServerReceiveBuffer(t *testing.T) {
	checkLeaks(t)
	for _, ask := range []int{0, 1 << 20, 64 << 20, 1 << 30} {
		t.Run(fmt.Sprint(ask), func(t *testing.T) {
			ts := startServer(t, Config{Handler: &recorder{}, ReceiveBuffer: ask})
			waitFor(t, "Serve to start", func() bool { return ts.Stats().Sockets == 1 })
			if ask == 0 {
				ask = defaultReceiveBuffer
			}
			got := ts.Stats().ReceiveBuffer
			warnings := ts.logs.find("receive buffer smaller")
			t.Logf("asked %d, granted %d, %d warnings", ask, got, len(warnings))
			if runtime.GOOS != "linux" {
				return // not read back
			}
			if got <= 0 {
				t.Fatalf("ReceiveBuffer = %d", got)
			}
			switch {
			case got < ask && len(warnings) != 1:
				t.Errorf("granted %d < asked %d, but %d warnings", got, ask, len(warnings))
			case got < ask && attr(warnings[0], "granted").Int64() != int64(got):
				t.Errorf("warning says granted=%v, Stats say %d", attr(warnings[0], "granted"), got)
			case got >= ask && len(warnings) != 0:
				t.Errorf("granted %d >= asked %d, but warned", got, ask)
			}
		})
	}
	// Negative: the socket keeps its buffer, which is still reported.
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	before, err := receiveBuffer(conn)
	if err != nil {
		t.Fatal(err)
	}
	ts := serveConn(t, Config{Handler: &recorder{}, ReceiveBuffer: -1}, conn)
	waitFor(t, "Serve to start", func() bool { return ts.Stats().Sockets == 1 })
	if got := ts.Stats().ReceiveBuffer; got != before {
		t.Errorf("ReceiveBuffer = %d, want the socket's own %d", got, before)
	}
}

// TestServerKernelDrops: with a tiny receive buffer and a stuck reader, the
// kernel drops datagrams, and every datagram sent is then either read or
// counted as a kernel drop.
func TestServerKernelDrops(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SO_RXQ_OVFL is Linux only")
	}
	checkLeaks(t)
	g := newGate()
	ts := startServer(t, Config{Handler: g, ReceiveBuffer: 1}) // the kernel's minimum
	c := dial(t, ts.addr)
	send(t, c, line("/first"))
	g.waitEntered(t) // the only reader is stuck in the handler
	const flood = 200
	for range flood {
		send(t, c, line("/flood"))
	}
	g.open()
	// A marker sent after the flood carries the drop count. It may be
	// dropped itself while the reader catches up: send more until one
	// arrives, a bounded number of times.
	sent := uint64(1 + flood)
	var st Stats
	for try := 0; ; try++ {
		if try == 100 {
			t.Fatalf("no marker arrived; stats %+v", st)
		}
		send(t, c, line("/marker"))
		sent++
		deadline := time.Now().Add(200 * time.Millisecond)
		for time.Now().Before(deadline) && st.Datagrams+st.DroppedKernel < sent {
			time.Sleep(time.Millisecond)
			st = ts.Stats()
		}
		if st.Datagrams+st.DroppedKernel == sent {
			break
		}
	}
	t.Logf("sent %d: read %d, kernel drops %d (receive buffer %d)", sent, st.Datagrams, st.DroppedKernel, st.ReceiveBuffer)
	if st.DroppedKernel == 0 {
		t.Errorf("no kernel drops counted with a %d-byte buffer: %+v", st.ReceiveBuffer, st)
	}
	if st.Parsed != st.Datagrams {
		t.Errorf("parsed %d of %d", st.Parsed, st.Datagrams)
	}
}

// TestServerHandlerPanic: a panicking handler is recovered, counted and
// logged, and the reader (or worker) goes on.
func TestServerHandlerPanic(t *testing.T) {
	for _, queue := range []int{0, 4} {
		t.Run(fmt.Sprint("queue=", queue), func(t *testing.T) {
			checkLeaks(t)
			var calls atomic.Int64
			h := HandlerFunc(func(r *Request) {
				calls.Add(1)
				if bytes.Equal(r.Path, []byte("/panic")) {
					panic("boom")
				}
			})
			start := time.Now()
			ts := startServer(t, Config{Handler: h, QueueLength: queue})
			c := dial(t, ts.addr)
			const panics = 20
			send(t, c, line("/a"), line("/panic"), line("/b")+"\n"+line("/panic")+"\n"+line("/c"),
				strings.Repeat(line("/panic")+"\n", panics-2)+line("/d"))
			const lines = 4 + panics
			st := ts.waitStats(t, "every line", func(s Stats) bool { return s.Lines == lines })
			if st.HandlerPanics != panics || st.Parsed != lines || calls.Load() != lines {
				t.Errorf("panics %d, parsed %d, calls %d; want %d, %d, %d",
					st.HandlerPanics, st.Parsed, calls.Load(), panics, lines, lines)
			}
			// At most one log a second, the first one at once.
			logged := ts.logs.find("handler panicked")
			if limit := 1 + int(time.Since(start)/time.Second); len(logged) < 1 || len(logged) > limit {
				t.Errorf("%d panic logs for %d panics, want 1 to %d", len(logged), panics, limit)
			} else if v := attr(logged[0], "panic"); v.String() != "boom" {
				t.Errorf("logged panic %v", v)
			}
		})
	}
}

// TestServerOnBadLine: the callback gets a sample of the failing lines,
// with the sender and the error.
func TestServerOnBadLine(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct {
		interval time.Duration
		want     int
	}{
		{time.Hour, 1}, // the first one only
		{-1, len(badLines)},
	} {
		t.Run(tc.interval.String(), func(t *testing.T) {
			type bad struct {
				line   string
				from   netip.AddrPort
				reason string
			}
			var mu sync.Mutex
			var got []bad
			cfg := Config{Handler: &recorder{}, BadLineInterval: tc.interval,
				OnBadLine: func(line []byte, from netip.AddrPort, err error) {
					mu.Lock()
					got = append(got, bad{string(line), from, ErrorReason(err)})
					mu.Unlock()
				}}
			ts := startServer(t, cfg)
			c := dial(t, ts.addr)
			for _, bl := range badLines {
				send(t, c, line("/ok")+"\r\n"+bl.line+"\r\n")
			}
			n := uint64(len(badLines))
			ts.waitStats(t, "every line", func(s Stats) bool { return s.Parsed == n && s.ParseErrors == n })
			mu.Lock()
			defer mu.Unlock()
			if len(got) != tc.want {
				t.Fatalf("OnBadLine called %d times, want %d", len(got), tc.want)
			}
			from := c.LocalAddr().(*net.UDPAddr).AddrPort()
			for i, b := range got {
				if b.line != badLines[i].line || b.reason != badLines[i].reason || b.from != from {
					t.Errorf("call %d: %+v, want line %q reason %q from %v", i, b, badLines[i].line, badLines[i].reason, from)
				}
			}
		})
	}
}

// TestServerOtherPacketConn: Serve works on a net.PacketConn that is not a
// *net.UDPConn, through the portable reader.
func TestServerOtherPacketConn(t *testing.T) {
	checkLeaks(t)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	ts := serveConn(t, Config{Handler: rec, MaxDatagram: 300}, wrappedConn{conn})
	c := dial(t, ts.addr)
	send(t, c, line("/a")+"\n"+line("/b"), "garbage", string(readFixture(t, "path2k")))
	st := ts.waitStats(t, "every datagram", func(s Stats) bool { return s.Datagrams == 3 })
	if st.Parsed != 2 || st.ParseErrors != 1 || st.Truncated != 1 {
		t.Errorf("stats %+v", st)
	}
	from := c.LocalAddr().(*net.UDPAddr).AddrPort()
	if got := rec.got(); !slices.Equal(got, []string{"/a", "/b"}) || rec.sources[0] != from {
		t.Errorf("handler got %q from %v", got, rec.sources)
	}
}

// wrappedConn hides everything but net.PacketConn.
type wrappedConn struct{ net.PacketConn }

func TestNewServerConfig(t *testing.T) {
	h := &recorder{}
	for _, c := range []Config{
		{},
		{Handler: h, Readers: -1},
		{Handler: h, Readers: maxReaders + 1},
		{Handler: h, MaxDatagram: maxMaxDatagram + 1},
		{Handler: h, BatchSize: -3},
		{Handler: h, QueueLength: -1},
		{Handler: h, Workers: 2},
		{Handler: h, BlockWhenQueueFull: true},
	} {
		if _, err := NewServer(c); err == nil {
			t.Errorf("NewServer(%+v) accepted", c)
		}
	}
	s, err := NewServer(Config{Handler: h, QueueLength: 8})
	if err != nil {
		t.Fatal(err)
	}
	c := s.cfg
	if c.Addr != defaultAddr || c.Readers != 1 || c.MaxDatagram != defaultMaxDatagram || c.BatchSize != defaultBatchSize ||
		c.ReceiveBuffer != defaultReceiveBuffer || c.Workers != 1 || c.BadLineInterval != time.Second {
		t.Errorf("defaults: %+v", c)
	}
}

// TestReasonLabels: every reason Parse reports has its own counter.
func TestReasonLabels(t *testing.T) {
	lines := [][]byte{
		nil,
		bytes.Repeat([]byte("x"), MaxLineLength+1),
		[]byte("<190>Oct 10 13:55:36 web01 nginx:"),
		[]byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /`),
	}
	for _, bl := range badLines {
		lines = append(lines, []byte(bl.line))
	}
	var p Parser
	var r Request
	seen := map[string]bool{}
	for _, l := range lines {
		err := p.Parse(&r, l)
		if err == nil {
			t.Fatalf("%q parsed", l)
		}
		i := errorReason(err)
		if i == reasonOther || reasonLabels[i] != ErrorReason(err) {
			t.Errorf("%q: reason %q has no counter of its own", l, ErrorReason(err))
		}
		seen[ErrorReason(err)] = true
	}
	if errorReason(errors.New("x")) != reasonOther {
		t.Error("a foreign error is not counted as other")
	}
	t.Logf("reasons exercised: %d of %d", len(seen), numReasons-1)
}

// TestDropCounter: the kernel's cumulative count becomes drops, only when
// it grows, across the uint32 wrap.
func TestDropCounter(t *testing.T) {
	var d dropCounter
	for _, v := range []uint32{0, 5, 5, 3, 9, 1 << 31, 1<<32 - 2, 1} {
		d.observe(v)
	}
	// 0→5: 5; 5→9: 4; 9→2^31: 2^31-9; →2^32-2: 2^31-2; wrap to 1: 3.
	if got, want := d.drops.Load(), uint64(5+4+(1<<31-9)+(1<<31-2)+3); got != want {
		t.Errorf("drops = %d, want %d", got, want)
	}
}

// TestServerBufferStats: Stats reports the readers' fixed buffers and what
// waits in the queue, against its limit.
func TestServerBufferStats(t *testing.T) {
	checkLeaks(t)
	g := newGate()
	const max, batch, queue = 1000, 4, 8
	ts := startServer(t, Config{Handler: g, MaxDatagram: max, BatchSize: batch, QueueLength: queue, Workers: 1})
	c := dial(t, ts.addr)
	send(t, c, line("/held"))
	g.waitEntered(t)
	waiting := []string{line("/a"), line("/bb"), line("/ccc")}
	send(t, c, waiting...)
	st := ts.waitStats(t, "the queue to fill", func(s Stats) bool { return s.QueueDatagrams == len(waiting) })
	wantBytes := 0
	for _, d := range waiting {
		wantBytes += len(d)
	}
	if st.QueueBytes != wantBytes || st.QueueMaxBytes != (queue+1)*(max+1) {
		t.Errorf("QueueBytes %d, QueueMaxBytes %d; want %d, %d", st.QueueBytes, st.QueueMaxBytes, wantBytes, (queue+1)*(max+1))
	}
	if truncatedLengthKnown { // recvmmsg: a batch of buffers and their control buffers
		if lo, hi := batch*(max+1), batch*(max+1+256); st.ReadBufferBytes < lo || st.ReadBufferBytes > hi {
			t.Errorf("ReadBufferBytes %d, want %d to %d", st.ReadBufferBytes, lo, hi)
		}
	} else if st.ReadBufferBytes != max+1 {
		t.Errorf("ReadBufferBytes %d, want %d", st.ReadBufferBytes, max+1)
	}
	g.open()
	st = ts.waitStats(t, "every line", func(s Stats) bool { return s.Parsed == 4 })
	if st.QueueDatagrams != 0 || st.QueueBytes != 0 {
		t.Errorf("after the queue drained: %d datagrams, %d bytes", st.QueueDatagrams, st.QueueBytes)
	}

	plain := startServer(t, Config{Handler: HandlerFunc(func(*Request) {})})
	if st := plain.waitStats(t, "serving", func(s Stats) bool { return s.Sockets == 1 }); st.QueueMaxBytes != 0 || st.QueueBytes != 0 || st.ReadBufferBytes == 0 {
		t.Errorf("without a queue: %+v", st)
	}
}

// TestServerStopAccounting floods a Server and stops it in the middle of
// the flood, with datagrams held in the kernel's queue: on Linux every
// datagram sent is counted, as delivered, discarded by Close, or dropped
// by the kernel (buffer full, or refused once stopping began).
func TestServerStopAccounting(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the sockets' queues are drained on Linux only")
	}
	for _, how := range []string{"Shutdown", "Close"} {
		t.Run(how, func(t *testing.T) { testStopAccounting(t, how) })
	}
}

func testStopAccounting(t *testing.T, how string) {
	checkLeaks(t)
	var held atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	var handled atomic.Uint64
	h := HandlerFunc(func(*Request) {
		if held.CompareAndSwap(true, false) {
			close(entered)
			<-release
		}
		handled.Add(1)
	})
	// A small receive buffer, so that the flood also overflows it.
	ts := startServer(t, Config{Handler: h, ReceiveBuffer: 64 << 10})
	ts.waitStats(t, "serving", func(s Stats) bool { return s.Sockets == 1 })
	c := dial(t, ts.addr)
	const flood = 20000
	dgram := []byte(line("/flood"))
	sent := make(chan int, 1)
	go func() {
		n := 0
		// Once sendDelivered returns, every datagram is in the socket's
		// queue or counted as dropped by the kernel.
		if err := sendDelivered(func() {
			for range flood {
				if _, err := c.Write(dgram); err == nil {
					n++
				}
			}
		}); err != nil {
			n = -1
		}
		sent <- n
	}()
	ts.waitStats(t, "the flood to arrive", func(s Stats) bool { return s.Parsed >= 500 })

	// Hold the handler, so that the reader stops in the middle of the
	// flood and the socket's queue fills, and stop the Server. It cannot
	// finish while the handler is held, so the socket stays open until the
	// sender is done.
	held.Store(true)
	select {
	case <-entered:
	case <-time.After(waitTimeout):
		t.Fatal("the handler was not called again")
	}
	stopped := make(chan error, 1)
	go func() {
		if how == "Close" {
			stopped <- ts.Close()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		stopped <- ts.Shutdown(ctx)
	}()
	n := <-sent
	close(release)
	if n < 0 {
		t.Fatal("the flood's delivery could not be confirmed")
	}
	if err := <-stopped; err != nil {
		t.Fatalf("%s: %v", how, err)
	}
	if err := ts.wait(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	st := ts.Stats()
	t.Logf("sent %d: %+v", n, st)
	if uint64(n) != st.Datagrams+st.DroppedKernel {
		t.Errorf("sent %d, but Datagrams %d + DroppedKernel %d = %d", n, st.Datagrams, st.DroppedKernel, st.Datagrams+st.DroppedKernel)
	}
	if st.Datagrams != st.Parsed+st.DroppedClosed || st.Parsed != handled.Load() {
		t.Errorf("Datagrams %d, Parsed %d, DroppedClosed %d, handled %d", st.Datagrams, st.Parsed, st.DroppedClosed, handled.Load())
	}
	if how == "Shutdown" && st.DroppedClosed != 0 {
		t.Errorf("Shutdown discarded %d datagrams", st.DroppedClosed)
	}
}
