package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/flatheap/ingest/internal/pathtable"
	"github.com/flatheap/ingest/routemetrics"
)

// Bounds of serve's HTTP side. Whatever the number of clients, the memory
// its responses hold is at most maxHTTPConns connections (net/http's
// buffers and a goroutine each) plus the workspaces of the gates below,
// each of which holds one output buffer and, for /top, one row per kept
// path, for /metrics, a scrape buffer of the route store. Every response
// has a write deadline.
const (
	// maxHTTPConns is the most HTTP connections open at once; more wait in
	// the kernel's accept queue.
	maxHTTPConns = 64
	// heavySlots is the number of responses of one heavy endpoint (/top,
	// /metrics) written at once.
	heavySlots = 2
	// heavyWait is how long a request waits for a slot before it is
	// answered 503 with a Retry-After.
	heavyWait = time.Second
	// retryAfter is the Retry-After of those 503 answers, in seconds.
	retryAfter = "1"
	// outBufferSize is the size of a workspace's output buffer: a response
	// is written in chunks of this size.
	outBufferSize = 32 << 10
	// responseWriteTimeout bounds how long a slow reader can hold a slot
	// of /top or /metrics.
	responseWriteTimeout = 30 * time.Second
	// writeTimeout bounds the writing of every other response; the
	// profiler's have the time they profile for on top.
	writeTimeout = 10 * time.Second
	// maxProfileSeconds bounds the profiler's seconds parameter (CPU
	// profile, trace, delta profiles): a profile holds one of the
	// profiler's slots for that long.
	maxProfileSeconds = 60
)

// workspace is what one heavy response reuses: an output buffer, the row
// copy /top sorts, the bytes of one row, and the route store's scrape
// buffers (64 KiB and 8 bytes a series), so that a /metrics client that
// stops reading holds up its own slot, not the other scrapes.
type workspace struct {
	out    *bufio.Writer
	rows   []pathtable.Row
	line   []byte
	scrape routemetrics.ScrapeBuffer // /metrics' route series
}

// gate lets at most a fixed number of heavy responses run at once, each
// with a workspace of its own, so that their memory is bounded whatever the
// number of clients. A request that finds no free workspace within
// heavyWait gets 503 and a Retry-After.
type gate struct {
	free chan *workspace
	wait time.Duration
	// writeTimeout bounds how long a slow reader can hold a slot; 0 for
	// none.
	writeTimeout time.Duration
}

func newGate(slots int, wait, writeTimeout time.Duration) *gate {
	g := &gate{free: make(chan *workspace, slots), wait: wait, writeTimeout: writeTimeout}
	for range slots {
		g.free <- &workspace{out: bufio.NewWriterSize(io.Discard, outBufferSize)}
	}
	return g
}

// acquire returns a free workspace whose output buffer writes to w, or
// answers 503 itself and returns nil. The caller must call release.
func (g *gate) acquire(w http.ResponseWriter, r *http.Request) *workspace {
	var ws *workspace
	select {
	case ws = <-g.free:
	default:
		t := time.NewTimer(g.wait)
		select {
		case ws = <-g.free:
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	if ws == nil {
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, "busy: too many concurrent requests for "+r.URL.Path+", retry later", http.StatusServiceUnavailable)
		return nil
	}
	if g.writeTimeout > 0 {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(g.writeTimeout))
	}
	ws.out.Reset(w)
	return ws
}

// release flushes ws's output and gives ws back. It drops what ws refers
// to: the response writer and the rows' strings.
func (g *gate) release(ws *workspace) {
	ws.out.Flush()
	ws.out.Reset(io.Discard)
	clear(ws.rows[:cap(ws.rows)]) // Top ranked them all; it returned the first n
	ws.rows = ws.rows[:0]
	g.free <- ws
}

// limitListener accepts at most max connections at once; Accept waits for
// one to close.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newLimitListener(l net.Listener, max int) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, max), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.slots })}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its listener's slot back when closed.
type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// newHTTPServer returns serve's HTTP server with its timeouts: a client
// cannot hold a connection without sending a request, nor keep an idle one
// for long.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}
