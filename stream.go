package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Syslog over TCP and TLS: a Server serving a listener accepts connections
// and gives each a goroutine of its own, which reads the stream into a
// fixed buffer, splits it into frames (frame.go), and hands each frame to
// the same line framing, Parser and Handler as a datagram.

var _ io.Reader = (*drainConn)(nil)

// errDrained ends a connection's reads once it has read what it held when
// the Server began stopping.
var errDrained = errors.New("ingest: connection drained")

// ListenAndServe for "tcp://" and "tls://" addresses.
func (s *Server) listenAndServeStream(ctx context.Context) error {
	if err := s.checkIdle(); err != nil {
		return err
	}
	lc := net.ListenConfig{} // keep-alive probes on accepted connections: Go's default, 15 s
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return err
	}
	return s.serveStream(ctx, ln)
}

// ServeListener serves the connections ln accepts, with TLS when the
// Config has TLS settings (TLSCertFile and TLSKeyFile, or TLSConfig),
// until ctx is done or Shutdown or Close is called, and then closes ln. It
// returns as Serve does. Each connection is read by a goroutine of its own
// into a buffer of Config.MaxFrame+16 bytes, and carries syslog frames
// with octet counting ("123 <190>...") or LF framing ("<190>...\n"),
// detected frame by frame (RFC 6587).
//
// At most Config.MaxConnections connections are served at once; more are
// closed as soon as they are accepted, and counted in
// Stats.ConnectionsRefused. With Config.AllowedSources, a connection from
// elsewhere, or without an IP address (ln a unix stream listener), is
// closed at once and counted in Stats.DroppedSource.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	return s.serveStream(ctx, ln)
}

// streamServer is the state of a Server that serves connections.
type streamServer struct {
	s       *Server
	ln      net.Listener
	tlsConf *tls.Config // nil without TLS
	bufs    sync.Pool   // *[]byte of bufSize bytes
	bufSize int
	connWG  sync.WaitGroup

	// Under s.mu:
	conns    map[*streamConn]struct{}
	stopped  bool     // no more connections are taken on
	retired  counters // the counts of the connections that have ended
	accepted net.Addr // ln.Addr(), for LocalAddr

	opened, closed, refused, idle, handshakeErrs atomic.Uint64
	deniedSource, acceptErrs, unread             atomic.Uint64
	handshakeLog                                 limiter
}

func (s *Server) serveStream(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if err := s.checkIdleLocked(); err != nil {
		s.mu.Unlock()
		ln.Close()
		return err
	}
	s.state = stateServing
	ss := &streamServer{
		s:        s,
		ln:       ln,
		bufSize:  s.cfg.MaxFrame + frameSlack,
		conns:    make(map[*streamConn]struct{}),
		accepted: ln.Addr(),
	}
	if s.tls != nil {
		ss.tlsConf = s.tls.server
		if s.tls.watching() && s.cfg.TLSReloadInterval > 0 {
			s.readWG.Add(1)
			go func() {
				defer s.readWG.Done()
				s.tls.watch(s.cfg.TLSReloadInterval, s.stopCh, s.log)
			}()
		}
	}
	s.stream = ss
	s.readWG.Add(1)
	go ss.acceptLoop()
	s.mu.Unlock()

	endGrace, err := s.awaitStop(ctx)
	defer endGrace()
	ss.stopAccepting()
	s.readWG.Wait()
	ss.connWG.Wait()
	return s.served(err)
}

// stopAccepting closes the listener and wakes every connection, which then
// reads what it holds without waiting (see streamConn.run) and ends.
func (ss *streamServer) stopAccepting() {
	ss.ln.Close()
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.stopped = true
	for c := range ss.conns {
		// A read deadline in the past wakes a read in progress; a
		// connection that sets its idle deadline after this sees
		// stopCh closed before it reads.
		c.nc.SetReadDeadline(time.Now())
	}
}

func (ss *streamServer) acceptLoop() {
	s := ss.s
	defer s.readWG.Done()
	var backoff time.Duration
	for {
		nc, err := ss.ln.Accept()
		if err != nil {
			if s.stopping() {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				s.fail(err)
				return
			}
			// Out of file descriptors, say: wait, so as not to spin.
			ss.acceptErrs.Add(1)
			if s.errLog.allow(s.now(), time.Second) {
				s.log.Error("ingest: accept failed", "addr", ss.accepted.String(), "err", err)
			}
			backoff = min(max(2*backoff, time.Millisecond), time.Second)
			tm := time.NewTimer(backoff)
			select {
			case <-tm.C:
			case <-s.stopCh:
				tm.Stop()
				return
			}
			continue
		}
		backoff = 0
		ss.take(nc)
	}
}

// take starts serving nc, or closes it when it is not allowed or there are
// MaxConnections already.
func (ss *streamServer) take(nc net.Conn) {
	s := ss.s
	src := remoteAddrPort(nc)
	if !s.allowedSource(src.Addr()) {
		ss.deniedSource.Add(1)
		refuse(nc)
		return
	}
	s.mu.Lock()
	if ss.stopped || len(ss.conns) >= s.cfg.MaxConnections {
		s.mu.Unlock()
		ss.refused.Add(1)
		refuse(nc)
		return
	}
	c := &streamConn{ss: ss, nc: nc, dc: newDrainConn(nc), src: src}
	ss.conns[c] = struct{}{}
	ss.opened.Add(1)
	ss.connWG.Add(1)
	s.mu.Unlock()
	go c.run()
}

// refuse closes nc with a reset, so that its peer learns at once, at its
// next write at the latest, that nothing it sends is read.
func refuse(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	nc.Close()
}

// remoteAddrPort returns nc's peer address, unmapped, or the zero value
// when it is not an IP address.
func remoteAddrPort(nc net.Conn) netip.AddrPort {
	var ap netip.AddrPort
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// streamConn is one connection being served, and its goroutine's state.
type streamConn struct {
	c   counters // published at the end of each read's frames
	ss  *streamServer
	nc  net.Conn   // as accepted
	dc  *drainConn // nc, read without waiting once the Server stops
	rd  io.Reader  // dc, or a *tls.Conn over it
	src netip.AddrPort
	fb  frameBuffer
	lh  lineHandler
}

func (c *streamConn) run() {
	ss, s := c.ss, c.ss.s
	defer ss.connWG.Done()
	c.rd = c.dc
	closer := io.Closer(c.nc)
	if ss.tlsConf != nil {
		tc := tls.Server(c.dc, ss.tlsConf)
		c.rd, closer = tc, tc
		if !c.handshake(tc) {
			c.end(closer)
			return
		}
	}
	buf := ss.getBuf()
	defer ss.putBuf(buf)
	c.fb = frameBuffer{buf: *buf, fr: framer{max: s.cfg.MaxFrame}}
	c.lh.init(s)
	defer func() { c.lh.r = Request{} }() // no views into a pooled buffer
	c.serve()
	c.end(closer)
}

// handshake runs the TLS handshake within Config.HandshakeTimeout.
func (c *streamConn) handshake(tc *tls.Conn) bool {
	s := c.ss.s
	if d := s.cfg.HandshakeTimeout; d > 0 {
		tc.SetDeadline(time.Now().Add(d))
	}
	if s.stopping() {
		return false
	}
	err := tc.Handshake()
	if err == nil {
		tc.SetDeadline(time.Time{})
		return true
	}
	if !s.stopping() {
		c.ss.handshakeErrs.Add(1)
		if c.ss.handshakeLog.allow(s.now(), time.Second) {
			s.log.Warn("ingest: TLS handshake failed (logged at most once a second)",
				"addr", c.ss.accepted.String(), "peer", c.src.String(), "err", err)
		}
	}
	return false
}

// serve reads and handles frames until the connection ends, the idle
// timeout passes, or the Server stops: then it reads what the connection
// holds without waiting, and handles it (after Shutdown) or counts it
// (after Close).
func (c *streamConn) serve() {
	s := c.ss.s
	idle := s.cfg.IdleTimeout
	var t tally
	var deadline time.Time // the idle deadline set last
	draining := false
	for {
		if !draining && idle > 0 {
			// Moving the deadline costs a timer update: do it when an
			// eighth of the timeout has passed, not on every read. It is
			// set before stopping is checked, so that it never overrides
			// the deadline that stopAccepting sets to wake the read.
			if now := time.Now(); deadline.Sub(now) < idle-idle/8 {
				deadline = now.Add(idle)
				c.nc.SetReadDeadline(deadline)
			}
		}
		if s.stopping() && (!draining || s.discarding.Load()) {
			if draining || !c.startDrain() {
				break
			}
			draining = true
		}
		n, err := c.fb.fill(c.rd)
		t.bytes += uint64(n)
		c.frames(&t)
		c.c.publish(&t)
		if err == nil {
			continue
		}
		if !draining && isTimeout(err) && s.stopping() {
			continue // woken to drain
		}
		switch {
		case err == io.EOF, errors.Is(err, errDrained), errors.Is(err, net.ErrClosed):
		case isTimeout(err) && !draining:
			c.ss.idle.Add(1)
		default:
			c.c.readErrors.Add(1)
		}
		break
	}
	if c.fb.cut() {
		t.stream.cut++
	}
	c.c.publish(&t)
}

// startDrain switches the connection to reading without waiting, up to
// what the kernel holds for it now. It reports false when that is not
// possible here (then what the kernel holds stays unread, and is counted
// in Stats.BytesUnread where it can be).
func (c *streamConn) startDrain() bool {
	if c.ss.s.discarding.Load() {
		return false
	}
	return c.dc.startDrain()
}

// frames handles the frames in the buffer.
func (c *streamConn) frames(t *tally) {
	s := c.ss.s
	for {
		ev, frame := c.fb.next()
		switch ev {
		case frameMore:
			return
		case frameWhole:
			t.stream.frames++
			if s.discarding.Load() {
				t.droppedClosed++
				continue
			}
			c.lh.datagram(frame, c.src, t)
		case frameTooLong:
			t.stream.tooLong++
		case frameBadCount:
			t.stream.badCount++
		}
	}
}

// end closes the connection, counts what its kernel queue still held and
// moves its counts to the Server's.
func (c *streamConn) end(closer io.Closer) {
	ss, s := c.ss, c.ss.s
	if n, ok := c.dc.unread(); ok && n > 0 {
		ss.unread.Add(uint64(n))
	}
	closer.Close() // TLS: close_notify, sent within 5 s (crypto/tls's bound)
	s.mu.Lock()
	var t tally
	c.c.load(&t) // whole: only this goroutine publishes, and it is here
	ss.retired.publish(&t)
	ss.retired.readErrors.Add(c.c.readErrors.Load())
	delete(ss.conns, c)
	ss.closed.Add(1)
	s.mu.Unlock()
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
