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

// drain reads what the socket still holds once the Server is stopping and
// handles it like any other datagram: delivered after Shutdown, counted in
// DroppedClosed after Close. It runs where the reader can read without
// waiting (Linux). When stop closed the socket's intake, the queue it
// empties cannot grow, and it ends when the queue is empty. When the intake
// stayed open, datagrams go on arriving: from drainTimeout after the
// Server began stopping, it counts what it reads in DroppedClosed without
// handling it, and ends once it has read as many datagrams as the
// socket's buffer can hold, that is, everything queued by then. A read
// error ends it too: counted in ReadErrors and Stats.StopErrors, and
// logged.
func (r *reader) drain(t *tally) {
	d, ok := r.br.(drainer)
	if !ok {
		return
	}
	s := r.s
	left := -1 // past the deadline: datagrams still to read
	for left != 0 {
		if left < 0 && !r.sock.intakeClosed && s.now() >= s.drainBy.Load() {
			left = r.sock.capacity()
			s.stopFault(faultDrainDeadline, "ingest: a socket whose intake stayed open was drained for "+s.grace.String()+
				"; what it held then is counted as discarded (dropped_closed), and what arrives until it closes is lost unseen",
				"addr", r.sock.conn.LocalAddr().String())
		}
		n, err := d.readNow()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				r.c.readErrors.Add(1)
				s.stopFault(faultDrainRead, "ingest: read failed while draining a socket at stop; what it holds is left unread",
					"addr", r.sock.conn.LocalAddr().String(), "err", err)
			}
			return
		}
		if n == 0 {
			return
		}
		if left < 0 {
			r.handle(n, t)
		} else {
			r.discard(n, t)
			left = max(left-n, 0)
		}
		r.c.publish(t)
	}
}

// discard counts the n datagrams of the last read as read and discarded
// (DroppedClosed), without looking at them.
func (r *reader) discard(n int, t *tally) {
	for i := range n {
		_, _, size, _ := r.br.datagram(i)
		t.datagrams++
		t.bytes += uint64(size)
		t.droppedClosed++
	}
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

// portableReader reads one datagram per call with the net package: the
// fallback where recvmmsg is not available.
type portableReader struct {
	conn net.PacketConn
	udp  udpAddrPortReader // conn, when it has the allocation-free method
	buf  []byte            // MaxDatagram+1
	max  int
	n    int
	src  netip.AddrPort
}

type udpAddrPortReader interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
}

var _ udpAddrPortReader = (*net.UDPConn)(nil)

func newPortableReader(conn net.PacketConn, maxDatagram int) *portableReader {
	p := &portableReader{conn: conn, buf: make([]byte, maxDatagram+1), max: maxDatagram}
	p.udp, _ = conn.(udpAddrPortReader)
	return p
}

func (p *portableReader) read() (int, error) {
	var err error
	if p.udp != nil {
		p.n, p.src, err = p.udp.ReadFromUDPAddrPort(p.buf)
	} else {
		var a net.Addr
		p.n, a, err = p.conn.ReadFrom(p.buf)
		p.src = netip.AddrPort{}
		if ua, ok := a.(*net.UDPAddr); ok {
			p.src = ua.AddrPort()
		}
	}
	if err != nil {
		if !errors.Is(err, errMessageTooLong) {
			return 0, err
		}
		// Windows fails the read of a datagram longer than the buffer
		// (WSAEMSGSIZE) after filling the buffer, and does not say who
		// sent it: a truncated datagram, not a read error.
		p.n, p.src = len(p.buf), netip.AddrPort{}
		return 1, nil
	}
	p.src = netip.AddrPortFrom(p.src.Addr().Unmap(), p.src.Port())
	return 1, nil
}

func (p *portableReader) bufferBytes() int { return len(p.buf) }

// batch is 1: Config.BatchDelay does not apply to a reader that takes one
// datagram per read.
func (p *portableReader) batch() int { return 1 }

// idle is true: the reader cannot tell.
func (p *portableReader) idle() bool { return true }

func (p *portableReader) datagram(int) ([]byte, netip.AddrPort, int, bool) {
	return p.buf[:p.n:p.n], p.src, p.n, p.n > p.max
}

// datagramOverhead is what a datagram costs a socket's receive buffer beyond
// its length, in the units of Config.ReceiveBuffer (half the kernel's own
// count: Linux sets aside twice what it grants). The kernel charges the
// memory it allocated for the datagram, rounded up, and its metadata: on
// loopback, 640 bytes of ReceiveBuffer for a 249-byte datagram and 2,176
// for a 2,048-byte one.
const datagramOverhead = 512

// firstWaitDivisor: after the reader waited for traffic, its first wait
// lasts BatchDelay/firstWaitDivisor. Traffic that starts from quiet may be
// a burst at any rate: the short wait measures it, and the next waits are
// cut to what the receive buffer holds at that rate.
const firstWaitDivisor = 16

// budgetDivisor: a wait may fill ReceiveBuffer/budgetDivisor; see pacer.
const budgetDivisor = 8

// pauser waits a pause without a runtime timer (see detachedConn). It
// returns an error, at once, when the socket's read deadline has passed
// (the Server is stopping), or when it cannot wait.
type pauser interface {
	pause(d time.Duration) error
}

// pacer makes a reader wait Config.BatchDelay after a short read, so that
// the socket's queue fills and the next recvmmsg returns many datagrams
// for one wake-up. A wait is cut short when, at the rate the reader has
// been reading since its last wait began, the datagrams that arrive during
// it would take more than its budget: an eighth of the socket's receive
// buffer, shared by the socket's readers, each datagram counted as its
// length and datagramOverhead (about a tenth of the kernel's own count),
// so that the rest stays free for what the buffer is there for: stalls.
// And after the reader waited for traffic, its first wait is a
// firstWaitDivisor-th of the delay.
type pacer struct {
	full   int           // datagrams of a full read: it never waits
	delay  time.Duration // Config.BatchDelay
	budget float64       // what a wait may let fill, in ReceiveBuffer's units; 0 when unknown
	since  time.Time     // when the last wait began
	cost   float64       // what the datagrams read since then cost the buffer
	timer  *time.Timer
	sleep  pauser // when the socket has one: used instead of timer
}

// newPacer returns the reader's pacer, or nil when it does not wait: no
// BatchDelay, or a reader that takes one datagram per read.
func (r *reader) newPacer() *pacer {
	s := r.s
	full := r.br.batch()
	if s.cfg.BatchDelay <= 0 || full < 2 {
		return nil
	}
	// serve starts the readers while it holds s.mu: once it is released,
	// every socket is set up.
	s.mu.Lock()
	shared := max(1, s.cfg.Readers/max(1, len(s.socks)))
	granted := r.sock.granted
	first := true // the first reader of its socket: it logs for the socket
	for _, o := range s.readers {
		if o.sock == r.sock {
			first = o == r
			break
		}
	}
	s.mu.Unlock()
	p := &pacer{
		full:   full,
		delay:  s.cfg.BatchDelay,
		budget: float64(granted) / budgetDivisor / float64(shared),
		since:  time.Now(),
		timer:  time.NewTimer(time.Hour),
	}
	p.timer.Stop()
	if pr, ok := r.br.(interface{ pauser() pauser }); ok {
		p.sleep = pr.pauser()
	}
	// A delay is there to collect batches: a buffer that cannot hold one
	// of the largest datagrams cannot hold a delay's worth of them.
	if batch := full * (s.cfg.MaxDatagram + datagramOverhead); first && granted > 0 && granted/shared < batch {
		s.log.Warn("ingest: receive buffer too small for BatchDelay: it holds less than a batch of MaxDatagram-byte datagrams, and waits are cut short to an eighth of it",
			"addr", r.sock.conn.LocalAddr().String(), "granted", granted, "readers", shared,
			"batch_size", full, "max_datagram", s.cfg.MaxDatagram, "batch_delay", p.delay.String(),
			"full_wait_up_to_datagrams_per_second", int(p.budget/float64(s.cfg.MaxDatagram+datagramOverhead)/p.delay.Seconds()))
	}
	return p
}

// read records a read of n datagrams of size bytes in all.
func (p *pacer) read(n, size int) {
	p.cost += float64(size + n*datagramOverhead)
}

// pause returns how long to wait at now, after a short read that did or
// did not wait for traffic first, and starts counting the reads for the
// next one.
func (p *pacer) pause(now time.Time, idle bool) time.Duration {
	d := p.delay
	if idle {
		d /= firstWaitDivisor
	}
	if p.budget > 0 && p.cost > 0 {
		// At the rate since the last wait began, budget/rate fills the
		// budget.
		if c := p.budget / p.cost * float64(now.Sub(p.since)); c < float64(d) {
			d = time.Duration(c)
		}
	}
	p.since, p.cost = now, 0
	return d
}

// wait waits before the next read; see pause. It returns false, at once,
// when stop is closed.
func (p *pacer) wait(stop <-chan struct{}, idle bool) bool {
	d := p.pause(time.Now(), idle)
	if d <= 0 {
		return true
	}
	// Should the pauser fail, the runtime's timer waits instead.
	if p.sleep != nil && p.sleep.pause(d) == nil {
		return true
	}
	p.timer.Reset(d)
	select {
	case <-p.timer.C:
		return true
	case <-stop:
		p.timer.Stop()
		return false
	}
}
