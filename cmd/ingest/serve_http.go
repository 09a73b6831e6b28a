package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/internal/pathtable"
)

func (d *daemon) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", d.serveMetrics)
	mux.HandleFunc("GET /top", d.serveTop)
	mux.HandleFunc("GET /routes", d.serveRoutes)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/debug/pprof/", d.gated(pprof.Index))
	mux.HandleFunc("/debug/pprof/cmdline", d.gated(pprof.Cmdline))
	mux.HandleFunc("/debug/pprof/profile", d.gated(pprof.Profile))
	mux.HandleFunc("/debug/pprof/symbol", d.gated(pprof.Symbol))
	mux.HandleFunc("/debug/pprof/trace", d.gated(pprof.Trace))
	return mux
}

// gated runs h when the profiler's gate has a free slot, and answers 503
// otherwise.
func (d *daemon) gated(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ws := d.pprofGate.acquire(w, r); ws != nil {
			defer d.pprofGate.release(ws)
			h(w, r)
		}
	}
}

// maxTop bounds /top's n.
const maxTop = 10000

func (d *daemon) serveTop(w http.ResponseWriter, r *http.Request) {
	n := 20
	if s := r.URL.Query().Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > maxTop {
			http.Error(w, fmt.Sprintf("n must be a number from 0 to %d", maxTop), http.StatusBadRequest)
			return
		}
		n = v
	}
	ws := d.topGate.acquire(w, r)
	if ws == nil {
		return
	}
	defer d.topGate.release(ws)
	rows, other := d.table.Snapshot(ws.rows)
	ws.rows = rows
	w.Header().Set("Content-Type", "application/json")
	ws.out.WriteString("[\n")
	first := true
	for i := range rows[:min(n, len(rows))] {
		ws.line = appendTopRow(ws.line[:0], rows[i].Path, &rows[i].Stat, first)
		first = false
		if _, err := ws.out.Write(ws.line); err != nil {
			return // the client went away
		}
	}
	if other.Requests > 0 {
		ws.line = appendTopRow(ws.line[:0], pathtable.Other, &other, first)
		ws.out.Write(ws.line)
	}
	ws.out.WriteString("\n]\n")
}

// appendTopRow appends one object of /top's JSON array, preceded by a
// comma and a newline unless it is the first.
func appendTopRow(dst []byte, path string, st *pathtable.Stat, first bool) []byte {
	if !first {
		dst = append(dst, ",\n"...)
	}
	dst = append(dst, `{"path":`...)
	dst = ingest.AppendJSONString(dst, path)
	dst = appendJSONInt(dst, `,"requests":`, st.Requests)
	dst = appendJSONInt(dst, `,"bytes":`, st.Bytes)
	dst = appendJSONInt(dst, `,"status_1xx":`, st.Status[1])
	dst = appendJSONInt(dst, `,"status_2xx":`, st.Status[2])
	dst = appendJSONInt(dst, `,"status_3xx":`, st.Status[3])
	dst = appendJSONInt(dst, `,"status_4xx":`, st.Status[4])
	dst = appendJSONInt(dst, `,"status_5xx":`, st.Status[5])
	dst = appendJSONInt(dst, `,"status_other":`, st.Status[0])
	return append(dst, '}')
}

// appendJSONInt appends key, which holds the JSON punctuation around the
// name, and v.
func appendJSONInt(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(dst, key...), v, 10)
}

func (d *daemon) serveMetrics(w http.ResponseWriter, r *http.Request) {
	ws := d.metricsGate.acquire(w, r)
	if ws == nil {
		return
	}
	defer d.metricsGate.release(ws)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	p := promWriter{w: ws.out, buf: ws.line[:0]}
	d.writeMetrics(&p)
	ws.line = p.buf
	d.store.WritePrometheus(ws.out)
}

// Bounds of serve's HTTP side. Whatever the number of clients, the memory
// its responses hold is at most maxHTTPConns connections (net/http's
// buffers and a goroutine each) plus the workspaces of the gates below,
// each of which holds one output buffer and, for /top, one row per kept
// path.
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
)

// workspace is what one heavy response reuses: an output buffer, the row
// copy /top sorts, and the bytes of one row.
type workspace struct {
	out  *bufio.Writer
	rows []pathtable.Row
	line []byte
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
	clear(ws.rows)
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
