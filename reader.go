package ingest

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/valyala/bytebufferpool"
)

// queued is a datagram waiting for a worker.
type queued struct {
	buf *bytebufferpool.ByteBuffer
	src netip.AddrPort
}

// batchReader reads datagrams from one socket into buffers it owns.
type batchReader interface {
	// read waits for at least one datagram and returns how many it read.
	// The datagrams stay valid until the next read.
	read() (int, error)
	// datagram returns the i-th datagram of the last read, its sender,
	// its length as sent when known (else len(b)), and whether it was
	// longer than MaxDatagram (b is then cut short).
	datagram(i int) (b []byte, src netip.AddrPort, size int, truncated bool)
	// bufferBytes returns the size of the buffers it owns.
	bufferBytes() int
	// batch returns the most datagrams one read returns.
	batch() int
	// idle reports whether the last read found no datagram queued and
	// waited for one.
	idle() bool
}

// drainer is a batchReader that can read without waiting, to empty a
// socket's queue when the Server stops.
type drainer interface {
	// readNow reads what is queued, up to a batch, without waiting, and
	// returns how many datagrams it read: 0, and no error, when the queue
	// is empty.
	readNow() (int, error)
}

// reader is one reader goroutine's state.
type reader struct {
	c    counters
	s    *Server
	sock *socket
	br   batchReader
	lh   lineHandler // when there is no queue
}

func (r *reader) run() {
	s := r.s
	defer s.readWG.Done()
	var t tally
	var backoff time.Duration
	p := r.newPacer()
	if p != nil {
		defer p.timer.Stop()
	}
	for {
		n, err := r.br.read()
		if err != nil {
			if s.stopping() {
				r.drain(&t)
				return
			}
			if errors.Is(err, net.ErrClosed) {
				s.fail(err)
				return
			}
			r.c.readErrors.Add(1)
			if s.errLog.allow(s.now(), time.Second) {
				s.log.Error("ingest: read failed", "addr", r.sock.conn.LocalAddr().String(), "err", err)
			}
			// Back off on repeated errors so a persistent one cannot spin.
			backoff = min(max(2*backoff, time.Millisecond), time.Second)
			tm := time.NewTimer(backoff)
			select {
			case <-tm.C:
			case <-s.stopCh:
				tm.Stop()
				r.drain(&t)
				return
			}
			continue
		}
		backoff = 0
		size := r.handle(n, &t)
		r.c.publish(&t)
		if p == nil {
			continue
		}
		p.read(n, size)
		// A short read left the socket's queue empty: let it fill before
		// reading again.
		if n < p.full && !p.wait(s.stopCh, r.br.idle()) {
			r.drain(&t)
			return
		}
	}
}

// handle handles the n datagrams of the last read and returns the sum of
// their sizes.
func (r *reader) handle(n int, t *tally) (sum int) {
	s := r.s
	for i := range n {
		b, src, size, truncated := r.br.datagram(i)
		sum += size
		t.datagrams++
		t.bytes += uint64(size)
		switch {
		case s.discarding.Load():
			t.droppedClosed++
		case truncated:
			t.truncated++
			if s.cfg.OnBadLine != nil {
				s.reportBadLine(truncatedHead(b), src, errTruncated, t)
			}
		case !s.allowedSource(src.Addr()):
			t.droppedSource++
		case s.queue != nil:
			r.enqueue(b, src, t)
		default:
			r.lh.datagram(b, src, t)
		}
	}
	return sum
}

func (s *Server) allowedSource(a netip.Addr) bool {
	if len(s.allowed) == 0 {
		return true
	}
	for _, p := range s.allowed {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// enqueue copies b into a pooled buffer sized to it and queues it.
func (r *reader) enqueue(b []byte, src netip.AddrPort, t *tally) {
	s := r.s
	block := s.cfg.BlockWhenQueueFull
	if !block && len(s.queue) == cap(s.queue) {
		t.droppedQueue++ // full: skip the copy
		return
	}
	buf := s.pool.Get()
	buf.B = append(buf.B[:0], b...)
	q := queued{buf: buf, src: src}
	// Counted before the send, so that the worker's subtraction never
	// comes first; taken back when the datagram is not queued.
	s.queueBytes.Add(int64(len(b)))
	select {
	case s.queue <- q:
		return
	default:
	}
	if !block {
		s.queueBytes.Add(-int64(len(b)))
		s.pool.Put(buf)
		t.droppedQueue++
		return
	}
	r.c.publish(t) // Stats stay current while the reader waits
	select {
	case s.queue <- q:
	case <-s.discard:
		s.queueBytes.Add(-int64(len(b)))
		s.pool.Put(buf)
		t.droppedClosed++
	}
}

// worker is one queue worker's state.
type worker struct {
	c  counters
	lh lineHandler
}

// workerPublishEvery bounds how stale a busy worker's counters get.
const workerPublishEvery = 64

func (w *worker) run(s *Server) {
	defer s.workerWG.Done()
	var t tally
	pending := 0
	for q := range s.queue {
		s.queueBytes.Add(-int64(len(q.buf.B)))
		if s.discarding.Load() {
			t.droppedClosed++
		} else {
			w.lh.datagram(q.buf.B, q.src, &t)
		}
		// The pool calibrates on len(q.buf.B) at Put: no Reset before.
		s.pool.Put(q.buf)
		w.lh.r = Request{} // drop the views into the buffer just returned
		if pending++; pending == workerPublishEvery || len(s.queue) == 0 {
			w.c.publish(&t)
			pending = 0
		}
	}
	w.c.publish(&t)
}

// lineHandler frames datagrams into lines, parses them and calls the
// handler. Each reader (or worker) has its own.
type lineHandler struct {
	s *Server
	p Parser
	r Request
}

func (h *lineHandler) init(s *Server) {
	h.s = s
	h.p.Format = s.cfg.Format
}

// datagram handles the lines of one datagram. Lines end with "\n" or
// "\r\n"; the last one may have no ending. Empty lines are skipped: they
// are not errors and are not counted as lines.
//
// A datagram with no line, empty or nothing but line endings, is counted in
// Stats.EmptyDatagrams.
func (h *lineHandler) datagram(b []byte, src netip.AddrPort, t *tally) {
	lines := t.lines
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i:i], b[i+1:]
		} else {
			b = nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[: n-1 : n-1]
		}
		if len(line) == 0 {
			continue
		}
		t.lines++
		if err := h.p.Parse(&h.r, line); err != nil {
			t.errs++
			t.parseErrors[errorReason(err)]++
			if h.s.cfg.OnBadLine != nil {
				h.s.reportBadLine(line, src, err, t)
			}
			continue
		}
		h.r.Source = src
		t.parsed++
		h.serve(t)
	}
	if t.lines == lines {
		t.empty++
	}
}

// serve calls the handler, recovering a panic.
func (h *lineHandler) serve(t *tally) {
	defer func() {
		if v := recover(); v != nil {
			t.panics++
			h.s.logPanic("handler", v)
		}
	}()
	h.s.handler.ServeLine(&h.r)
}

// truncatedHeadLen bounds the bytes of a truncated datagram that
// OnBadLine gets.
const truncatedHeadLen = 256

// truncatedHead returns the first bytes of a truncated datagram for
// OnBadLine: its first line, at most truncatedHeadLen bytes of it.
func truncatedHead(b []byte) []byte {
	b = b[:min(len(b), truncatedHeadLen)]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return b[:len(b):len(b)]
}

// reportBadLine passes a sample of the failing lines, and of the truncated
// datagrams, to Config.OnBadLine.
func (s *Server) reportBadLine(line []byte, src netip.AddrPort, err error, t *tally) {
	if s.cfg.BadLineInterval > 0 && !s.badLine.allow(s.now(), s.cfg.BadLineInterval) {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			t.panics++
			s.logPanic("OnBadLine", v)
		}
	}()
	s.cfg.OnBadLine(line, src, err)
}

func (s *Server) logPanic(what string, v any) {
	if s.panicLog.allow(s.now(), time.Second) {
		s.log.Error("ingest: "+what+" panicked; recovered (logged at most once a second)",
			"panic", v, "stack", string(debug.Stack()))
	}
}
