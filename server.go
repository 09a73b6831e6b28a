package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close, and by later calls.
var ErrServerClosed = errors.New("ingest: server closed")

var errServing = errors.New("ingest: server already serving")

// Server receives access-log lines over UDP. Create it with NewServer,
// start it with ListenAndServe or Serve, stop it with Shutdown or Close.
// A Server serves once: after it stopped, make a new one.
type Server struct {
	cfg     Config
	handler Handler
	allowed []netip.Prefix
	log     *slog.Logger
	epoch   time.Time
	pool    bytebufferpool.Pool // queue mode: buffers sized to datagrams
	tr      transport           // what Config.Addr names
	addr    string              // Config.Addr without its scheme
	tls     *tlsSource          // with TLS settings
	stream  *streamServer       // serving connections
	// afterClose, when set, runs once the sockets are closed.
	afterClose func()
	// grace is drainTimeout; tests shorten it.
	grace time.Duration

	badLine, panicLog, errLog limiter
	discarding                atomic.Bool  // set by Close: drop instead of handle
	queueBytes                atomic.Int64 // bytes of the datagrams in the queue
	drainBy                   atomic.Int64 // s.now() when a drain of an open intake ends; set by stop
	stopErrors                atomic.Uint64
	stopLogged                [numStopFaults]atomic.Bool
	leftLogged                atomic.Bool

	mu       sync.Mutex
	state    serverState
	socks    []*socket
	readers  []*reader
	workers  []*worker
	queue    chan queued
	failErr  error
	stopCh   chan struct{} // closed when the Server starts stopping
	discard  chan struct{} // closed by Close
	done     chan struct{} // closed when every goroutine has returned
	readWG   sync.WaitGroup
	workerWG sync.WaitGroup
}

type serverState uint8

const (
	stateIdle serverState = iota
	stateServing
	stateStopping // Shutdown, Close or ctx: goroutines finishing
	stateClosed   // stopped without ever serving
)

// socket is one socket being read and what is known about it.
type socket struct {
	conn    net.PacketConn
	granted int
	drops   dropCounter
	// intakeClosed is set when the Server starts stopping, before stopCh
	// is closed, if the socket then refuses new datagrams (or left its
	// SO_REUSEPORT group): its readers read what it holds before they
	// return.
	intakeClosed bool
	// unwoken is set by stop when a read deadline could not wake the
	// socket's readers: serve closes it once its queue is read.
	unwoken bool
}

// capacity returns the most datagrams the socket's receive buffer can hold:
// the kernel sets aside twice the granted size, and charges at least 512
// bytes for a datagram.
func (so *socket) capacity() int {
	g := so.granted
	if g <= 0 {
		g = defaultReceiveBuffer // unknown
	}
	return g/256 + 1
}

// NewServer checks c, fills in the defaults and returns a Server that is
// not serving yet. Its error is a *ConfigError, which wraps ErrConfig.
func NewServer(c Config) (*Server, error) {
	allowed, err := c.check()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     c,
		handler: c.Handler,
		allowed: allowed,
		log:     c.Logger,
		epoch:   time.Now(),
		stopCh:  make(chan struct{}),
		discard: make(chan struct{}),
		done:    make(chan struct{}),
		grace:   drainTimeout,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.initTransport(); err != nil {
		return nil, err
	}
	return s, nil
}

// ListenAndServe listens on Config.Addr (one socket, or with
// Config.ReusePort on Linux one socket per reader) and serves until ctx is
// done or the Server is shut down, like Serve. When the address cannot be
// bound it returns the error at once.
func (s *Server) ListenAndServe(ctx context.Context) error {
	switch s.tr {
	case transportUnix:
		return s.listenAndServeUnix(ctx)
	case transportTCP, transportTLS:
		return s.listenAndServeStream(ctx)
	}
	if err := s.checkIdle(); err != nil {
		return err
	}
	reuse := s.cfg.ReusePort && reusePortSupported
	n, perSocket := 1, s.cfg.Readers
	if reuse {
		n, perSocket = s.cfg.Readers, 1
	}
	lc := listenConfig(reuse)
	first, err := lc.ListenPacket(ctx, "udp", s.addr)
	if err != nil {
		return err
	}
	conns := []net.PacketConn{first}
	for len(conns) < n {
		c, err := lc.ListenPacket(ctx, "udp", first.LocalAddr().String())
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return err
		}
		conns = append(conns, c)
	}
	return s.serve(ctx, s.detach(conns), perSocket)
}

// Serve reads datagrams from conn with Config.Readers goroutines until ctx
// is done or Shutdown or Close is called, and then closes conn. It sets the
// socket's receive buffer (Config.ReceiveBuffer) and, on Linux, turns on
// SO_RXQ_OVFL to count kernel drops. conn is usually a *net.UDPConn; any
// net.PacketConn works, on a slower path.
//
// Serve returns when every goroutine it started has returned: after Shutdown
// or Close with ErrServerClosed, after ctx is done with ctx.Err() (having
// stopped as Shutdown does with a context that ends 5 s later: what is not
// delivered by then is counted in Stats.DroppedClosed), or with the error
// that made a reader stop, such as conn being closed by someone else. Call
// Shutdown before ctx is done to give the Server another grace period.
func (s *Server) Serve(ctx context.Context, conn net.PacketConn) error {
	if _, ok := conn.(*net.UnixConn); ok && len(s.allowed) > 0 {
		conn.Close()
		return configError("AllowedSources", s.cfg.AllowedSources, "does not apply to a unix socket, whose senders have no address")
	}
	return s.serve(ctx, []net.PacketConn{conn}, s.cfg.Readers)
}

// checkIdleLocked returns nil when the Server may start serving. s.mu is
// held.
func (s *Server) checkIdleLocked() error {
	switch s.state {
	case stateIdle:
		return nil
	case stateServing:
		return errServing
	}
	return ErrServerClosed
}

func (s *Server) checkIdle() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkIdleLocked()
}

func (s *Server) serve(ctx context.Context, conns []net.PacketConn, perSocket int) error {
	s.mu.Lock()
	if err := s.checkIdleLocked(); err != nil {
		s.mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
		return err
	}
	s.state = stateServing
	if s.cfg.QueueLength > 0 {
		s.queue = make(chan queued, s.cfg.QueueLength)
		for range s.cfg.Workers {
			w := &worker{}
			w.lh.init(s)
			s.workers = append(s.workers, w)
			s.workerWG.Add(1)
			go w.run(s)
		}
	}
	for _, c := range conns {
		so := &socket{conn: c}
		s.setupSocket(so)
		s.socks = append(s.socks, so)
		for range perSocket {
			r := &reader{s: s, sock: so}
			r.br = newBatchReader(c, &so.drops, s.cfg.MaxDatagram, s.cfg.BatchSize)
			if s.queue == nil {
				r.lh.init(s)
			}
			s.readers = append(s.readers, r)
			s.readWG.Add(1)
			go r.run()
		}
	}
	s.mu.Unlock()

	endGrace, err := s.awaitStop(ctx)
	defer endGrace()
	s.closeUnwoken()
	s.readWG.Wait()
	s.mu.Lock()
	for _, so := range s.socks {
		// The kernel's count includes drops that no later datagram
		// reported, and the datagrams refused since the intake closed.
		if d, ok := socketDrops(so.conn); ok {
			so.drops.observe(d)
		}
		if q, ok := socketQueued(so.conn); ok && q > 0 {
			s.stopFault(faultUnread, "ingest: socket closed with datagrams left in its queue, unread and uncounted",
				"addr", so.conn.LocalAddr().String(), "queued_bytes", q)
		}
		so.conn.Close()
	}
	if s.afterClose != nil {
		s.afterClose() // a unix socket's file goes before Shutdown returns
	}
	s.mu.Unlock()
	if s.queue != nil {
		close(s.queue) // no reader sends any more
	}
	s.workerWG.Wait()
	return s.served(err)
}

// setupSocket sets the receive buffer and turns on drop counting, logging
// what did not work: neither stops the Server.
func (s *Server) setupSocket(so *socket) {
	want := s.cfg.ReceiveBuffer
	var err error
	if want > 0 {
		so.granted, err = setReceiveBuffer(so.conn, want)
	} else {
		so.granted, err = receiveBuffer(so.conn)
	}
	if err != nil {
		s.log.Warn("ingest: cannot set the receive buffer", "addr", so.conn.LocalAddr().String(), "err", err)
	} else if want > 0 && so.granted > 0 && so.granted < want {
		s.log.Warn("ingest: receive buffer smaller than asked",
			"addr", so.conn.LocalAddr().String(), "asked", want, "granted", so.granted)
	}
	if err := enableDropCount(so.conn); err != nil {
		s.log.Warn("ingest: cannot count kernel drops (SO_RXQ_OVFL)", "addr", so.conn.LocalAddr().String(), "err", err)
	}
}

// LocalAddr returns the address of the first socket, or nil when the
// Server is not serving.
func (s *Server) LocalAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stream != nil {
		return s.stream.accepted
	}
	if len(s.socks) == 0 {
		return nil
	}
	return s.socks[0].conn.LocalAddr()
}

// Stats returns the Server's counters, summed over its readers, workers
// and sockets. It may be called at any time, from any goroutine. A reader
// publishes its counts at the end of each batch, and a worker when the
// queue is empty or every 64 datagrams, so Stats lags by at most that.
// Each reader's and worker's counts are read as of one of its publishes,
// so a datagram a reader counted has its outcome counted too; in queue
// mode, though, a datagram counted by its reader may still wait for a
// worker to frame and parse its lines, and a worker may count the lines
// of a datagram before its reader has published it.
func (s *Server) Stats() Stats {
	var st Stats
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.readers {
		r.c.addTo(&st)
	}
	for _, w := range s.workers {
		w.c.addTo(&st)
	}
	for _, so := range s.socks {
		// The kernel's count includes the drops no datagram has reported
		// yet (a closed socket's is not read: it was at close).
		if d, ok := socketDrops(so.conn); ok {
			so.drops.observe(d)
		}
		st.DroppedKernel += so.drops.drops.Load()
		st.ReceiveBuffer += so.granted
	}
	st.StopErrors = s.stopErrors.Load()
	st.Sockets = len(s.socks)
	for _, r := range s.readers {
		st.ReadBufferBytes += r.br.bufferBytes()
	}
	if s.queue != nil {
		st.QueueDatagrams = len(s.queue)
		st.QueueBytes = int(max(s.queueBytes.Load(), 0))
		st.QueueMaxBytes = (s.cfg.QueueLength + s.cfg.Readers) * (s.cfg.MaxDatagram + 1)
	}
	s.addTransportStats(&st)
	return st
}

// now returns monotonic nanoseconds since the Server was made.
func (s *Server) now() int64 { return int64(time.Since(s.epoch)) }

// limiter lets one event through per period, lock-free.
type limiter struct{ next atomic.Int64 }

func (l *limiter) allow(now int64, every time.Duration) bool {
	n := l.next.Load()
	return now >= n && l.next.CompareAndSwap(n, now+int64(every))
}
