package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// serveDelayed starts a Server with cfg (BatchDelay set) on a loopback
// port: with ListenAndServe, whose socket is detached from the runtime's
// poller, or with Serve on a socket the test opened, which stays in it.
func serveDelayed(t *testing.T, how string, cfg Config) (*Server, *net.UDPAddr) {
	t.Helper()
	if how == "Serve" {
		ts := startServer(t, cfg)
		return ts.Server, ts.addr
	}
	cfg.Addr = "127.0.0.1:0"
	srv, _, _ := listenServe(t, cfg)
	return srv, srv.LocalAddr().(*net.UDPAddr)
}

// stamps records when the handler saw each line, by path.
type stamps struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (s *stamps) ServeLine(r *Request) {
	now := time.Now()
	s.mu.Lock()
	s.at[string(r.Path)] = now
	s.mu.Unlock()
}

func (s *stamps) get(path string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.at[path]
	return at, ok
}

// TestBatchDelayLatency: with a BatchDelay, lines that trickle in are
// handled in batches, a delay apart (the delay is in effect), and none
// waits much longer than the delay (it is bounded).
func TestBatchDelayLatency(t *testing.T) {
	for _, how := range []string{"ListenAndServe", "Serve"} {
		t.Run(how, func(t *testing.T) { testBatchDelayLatency(t, how) })
	}
}

func testBatchDelayLatency(t *testing.T, how string) {
	checkLeaks(t)
	const delay = 200 * time.Millisecond
	// What a loaded machine may add to the delay before a line is
	// handled: scheduling, timers firing late.
	const margin = 5 * time.Second
	const lines, every = 100, 10 * time.Millisecond
	rec := &stamps{at: map[string]time.Time{}}
	srv, addr := serveDelayed(t, how, Config{Handler: rec, BatchDelay: delay})
	c := dial(t, addr)
	sent := make([]time.Time, lines)
	for i := range lines {
		sent[i] = time.Now()
		send(t, c, line(fmt.Sprintf("/%d", i)))
		time.Sleep(every)
	}
	waitFor(t, "every line", func() bool { return srv.Stats().Parsed == lines })
	var prev time.Time
	var maxGap time.Duration
	for i := range lines {
		at, ok := rec.get(fmt.Sprintf("/%d", i))
		if !ok {
			t.Fatalf("line %d not handled", i)
		}
		if lat := at.Sub(sent[i]); lat > delay+margin {
			t.Errorf("line %d waited %v, more than the delay of %v and a margin of %v", i, lat, delay, margin)
		}
		if i > 0 {
			maxGap = max(maxGap, at.Sub(prev))
		}
		prev = at
	}
	// A line every 10ms without a delay is handled 10ms after the one
	// before. With it, the reader reads what a wait collected: between
	// two waits' lines, the wait's whole length (a timer never fires
	// early). The first wait after quiet is shorter, and a sender that
	// stalls past a wait makes the next one short too: one full wait
	// in a second is enough.
	if maxGap < delay {
		t.Errorf("lines handled at most %v apart: the reader did not wait %v", maxGap, delay)
	}
	if st := srv.Stats(); st.DroppedKernel != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestBatchDelayStop: stopping a Server whose reader is in the middle of a
// wait (an hour long here) or waiting for traffic takes no longer than
// without a delay. Shutdown still delivers the datagrams queued on the
// socket; Close counts them as discarded.
func TestBatchDelayStop(t *testing.T) {
	for _, how := range []string{"ListenAndServe", "Serve"} {
		for _, stop := range []string{"Shutdown", "Close"} {
			for _, state := range []string{"waiting a delay", "waiting for traffic"} {
				t.Run(how+"/"+stop+"/"+state, func(t *testing.T) { testBatchDelayStop(t, how, stop, state) })
			}
		}
	}
}

func testBatchDelayStop(t *testing.T, how, stop, state string) {
	checkLeaks(t)
	var handled atomic.Uint64
	cfg := Config{Handler: HandlerFunc(func(*Request) { handled.Add(1) }), Logger: slog.New(&logRecorder{})}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Longer than NewServer allows: no wait may be what ends the test.
	srv.cfg.BatchDelay = time.Hour
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	if how == "Serve" {
		go func() { errc <- srv.Serve(context.Background(), conn) }()
	} else {
		srv.cfg.Addr = conn.LocalAddr().String()
		conn.Close()
		go func() { errc <- srv.ListenAndServe(context.Background()) }()
	}
	defer srv.Close()
	waitFor(t, "serving", func() bool { return srv.Stats().Sockets == 1 })
	c := dial(t, srv.LocalAddr().(*net.UDPAddr))
	var want uint64
	if state == "waiting a delay" {
		// A wait is cut short when, at the rate since the reader started,
		// it would fill an eighth of the receive buffer. A second of
		// quiet first makes that rate one datagram a second: the wait
		// lasts half a minute at least, even with the 208 KiB buffer of
		// a kernel's defaults.
		time.Sleep(time.Second)
		send(t, c, line("/first"))
		waitFor(t, "the first line", func() bool { return handled.Load() == 1 })
		// The reader now waits an hour: this one stays in the socket's
		// queue until the Server stops.
		send(t, c, line("/queued"))
		waitFor(t, "the datagram queued", func() bool { return queuedDatagrams(t, srv) > 0 })
		want = 1
	}
	start := time.Now()
	switch stop {
	case "Shutdown":
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v (after %v)", err, time.Since(start))
		}
	case "Close":
		srv.Close()
	}
	took := time.Since(start)
	t.Logf("%s returned after %v", stop, took)
	// Without a delay it takes well under a second; a wait that stop
	// did not interrupt takes minutes.
	if took > waitTimeout/2 {
		t.Errorf("%s took %v", stop, took)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrServerClosed) {
			t.Errorf("%s returned %v", how, err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("%s did not return", how)
	}
	st := srv.Stats()
	switch {
	case stop == "Shutdown" && (st.Parsed != 2*want || st.DroppedClosed != 0):
		t.Errorf("after Shutdown: %+v, want the queued datagram delivered", st)
	case stop == "Close" && (st.Parsed != want || st.DroppedClosed != want):
		t.Errorf("after Close: %+v, want the queued datagram discarded", st)
	}
}

// queuedDatagrams returns the memory of the datagrams queued on srv's
// first socket.
func queuedDatagrams(t *testing.T, srv *Server) int {
	t.Helper()
	srv.mu.Lock()
	conn := srv.socks[0].conn
	srv.mu.Unlock()
	return queuedMemory(t, rawConn(conn))
}

// queuedMemory returns the memory of the datagrams queued on rc's socket,
// as SO_MEMINFO counts it.
func queuedMemory(t *testing.T, rc syscall.RawConn) int {
	t.Helper()
	var mem [unix.SK_MEMINFO_VARS]uint32
	var e syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		n := uint32(unsafe.Sizeof(mem))
		_, _, e = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&n)), 0)
	}); err != nil || e != 0 {
		t.Fatalf("SO_MEMINFO: %v %v", err, e)
	}
	return int(mem[unix.SK_MEMINFO_RMEM_ALLOC])
}

// TestBatchDelayReaders: several readers, sharing one socket or with one
// each, deliver every line with a delay, and the stop accounts for every
// datagram sent.
func TestBatchDelayReaders(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("ReusePort=%v", reuse), func(t *testing.T) {
			checkLeaks(t)
			var handled atomic.Uint64
			cfg := Config{Handler: HandlerFunc(func(*Request) { handled.Add(1) }), Addr: "127.0.0.1:0",
				Readers: 3, ReusePort: reuse, BatchDelay: 5 * time.Millisecond}
			srv, errc, _ := listenServe(t, cfg)
			addr := srv.LocalAddr().(*net.UDPAddr)
			const senders, each = 8, 300
			var wg sync.WaitGroup
			for i := range senders {
				c := dial(t, addr)
				wg.Go(func() {
					for j := range each {
						if _, err := c.Write([]byte(line(fmt.Sprintf("/s%d/%d", i, j)))); err != nil {
							t.Error(err)
							return
						}
						if j%50 == 0 {
							time.Sleep(time.Millisecond)
						}
					}
				})
			}
			wg.Wait()
			waitFor(t, "every line", func() bool { return srv.Stats().Parsed == senders*each })
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; !errors.Is(err, ErrServerClosed) {
				t.Errorf("ListenAndServe returned %v", err)
			}
			st := srv.Stats()
			if st.Datagrams != senders*each || st.DroppedKernel != 0 || handled.Load() != senders*each {
				t.Errorf("stats %+v, handled %d", st, handled.Load())
			}
		})
	}
}

// TestBatchDelayBufferWarning: a Server warns, once per socket, when the
// receive buffer (shared by the socket's readers) holds less than a batch
// of MaxDatagram datagrams.
func TestBatchDelayBufferWarning(t *testing.T) {
	const msg = "receive buffer too small for BatchDelay"
	for _, tc := range []struct {
		name        string
		maxDatagram int
		reuse       bool
		want        int
	}{
		{"large datagrams", 0, false, 1},
		{"large datagrams, a socket per reader", 0, true, 2},
		{"small datagrams", 256, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			logs := &logRecorder{}
			// 128 KiB shared by 2 readers: 64 KiB a reader, which holds
			// 16 datagrams of 256+512 bytes, and not 16 of 65,527.
			cfg := Config{Handler: HandlerFunc(func(*Request) {}), Addr: "127.0.0.1:0", Readers: 2, ReusePort: tc.reuse,
				ReceiveBuffer: 128 << 10, MaxDatagram: tc.maxDatagram, BatchDelay: 10 * time.Millisecond, Logger: slog.New(logs)}
			if tc.reuse {
				cfg.ReceiveBuffer = 64 << 10 // a socket each: 64 KiB a reader too
			}
			srv, errc, _ := listenServe(t, cfg)
			// Every reader decides at its start: once they have all
			// returned, the count is final.
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			granted := srv.Stats().ReceiveBuffer
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			<-errc
			recs := logs.find(msg)
			if len(recs) != tc.want {
				t.Fatalf("%d warnings %q, want %d (granted %d)", len(recs), msg, tc.want, granted)
			}
			for _, r := range recs {
				if attr(r, "granted").Int64() == 0 || attr(r, "full_wait_up_to_datagrams_per_second").Kind() != slog.KindInt64 {
					t.Errorf("warning without the figures: %v", r)
				}
			}
		})
	}
}
