package ingest

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

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
