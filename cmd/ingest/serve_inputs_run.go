package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
	filetail "github.com/flatheap/ingest/tail"
)

// inputs are serve's running inputs: a Server per --listen and a Tailer
// per --tail, all handing their lines to the same handler. They start
// together, and stop together: when the context given to start ends (a
// signal), or when one of them stops on an error.
type inputs struct {
	listeners []*listener
	tailers   []*tailInput
	logger    *slog.Logger
	stateDir  string
	cancel    context.CancelFunc // stops every input
}

// listener is one --listen: a Server.
type listener struct {
	spec     listenSpec
	srv      *ingest.Server
	bound    string // the address bound (host:port), or the socket's path
	maxConns int    // tcp and tls: Config.MaxConnections
	started  bool
	errc     chan error
}

// tailInput is one --tail: a Tailer of the files that match a pattern,
// with checkpoints in a directory of its own.
type tailInput struct {
	pattern  string
	stateDir string // "": no checkpoints
	t        *filetail.Tailer
	started  bool
	errc     chan error
}

// streamMaxFrame is Config.MaxFrame of the tcp:// and tls:// listeners:
// the library's default, the longest line Parse accepts.
const streamMaxFrame = ingest.MaxLineLength

// Estimates of the memory of a TCP or TLS connection, for the
// "connections" budget: its buffer of Config.MaxFrame+16 bytes, and with
// TLS crypto/tls's input and output record buffers (each up to a record of
// 16 KiB and its overhead) and handshake state.
const (
	streamConnBytes = streamMaxFrame + 16
	tlsConnBytes    = 40 << 10
)

// newInputs makes the Servers and Tailers of cfg, which hand their lines to
// h. Nothing runs yet. Its error is one line, naming the flag.
func newInputs(cfg *serveConfig, h ingest.Handler, logger *slog.Logger) (*inputs, error) {
	ic := &cfg.inputs
	in := &inputs{logger: logger, stateDir: ic.stateDir}
	for _, spec := range ic.listens {
		c := ingest.Config{
			Addr:            spec.given,
			Handler:         h,
			Format:          cfg.format,
			Logger:          logger,
			MaxConnections:  ic.maxConnections,
			MaxFrame:        streamMaxFrame,
			SocketMode:      ic.socketMode,
			TLSCertFile:     ic.tlsCert,
			TLSKeyFile:      ic.tlsKey,
			TLSClientCAFile: ic.tlsCA,
		}
		if spec.kind != kindUnix {
			// A unix socket's senders have no address: --allow applies
			// to the others.
			c.AllowedSources = cfg.allow
		}
		if spec.kind != kindTLS {
			c.TLSCertFile, c.TLSKeyFile, c.TLSClientCAFile = "", "", ""
		}
		if spec.kind == kindUDP || spec.kind == kindUnix {
			c.Readers, c.ReceiveBuffer, c.MaxDatagram = cfg.readers, cfg.receiveBuffer, cfg.maxDatagram
			c.BatchDelay = cfg.batchDelay
			c.QueueLength, c.Workers, c.BlockWhenQueueFull = cfg.queue, cfg.workers, cfg.block
			// Without it the readers share one socket, and a port another
			// process holds is an error whatever --readers says.
			c.ReusePort = cfg.reusePort && spec.kind == kindUDP
		}
		srv, err := ingest.NewServer(c)
		if err != nil {
			return nil, fmt.Errorf("--listen %s: %v", spec.given, err)
		}
		in.listeners = append(in.listeners, &listener{spec: spec, srv: srv, maxConns: ic.maxConnections, errc: make(chan error, 1)})
	}
	for _, p := range ic.tails {
		ti := &tailInput{pattern: p, errc: make(chan error, 1)}
		if ic.stateDir != "" {
			ti.stateDir = tailStateDir(ic.stateDir, p)
			if err := os.MkdirAll(ti.stateDir, 0o700); err != nil {
				return nil, fmt.Errorf("--state-dir: %v", err)
			}
		}
		t, err := filetail.New(filetail.Config{
			Paths:         []string{p},
			Handler:       h,
			Format:        cfg.format,
			StateDir:      ti.stateDir,
			FromBeginning: ic.fromStart,
			Logger:        logger,
		})
		if err != nil {
			return nil, fmt.Errorf("--tail %s: %v", p, err)
		}
		ti.t = t
		in.tailers = append(in.tailers, ti)
	}
	return in, nil
}

// tailStateDir returns the checkpoint directory of the pattern p under
// dir: tail-<FNV-1a of p, 16 hex digits>. The Tailer of each pattern needs
// a directory of its own, and the name stays the same whatever the order
// of the flags.
func tailStateDir(dir, p string) string {
	h := fnv.New64a()
	h.Write([]byte(p))
	return filepath.Join(dir, fmt.Sprintf("tail-%016x", h.Sum64()))
}

// start starts every input until ctx ends, and returns once every
// listener has bound its address. When one cannot, it stops the others and
// returns the error.
func (in *inputs) start(ctx context.Context) error {
	ctx, in.cancel = context.WithCancel(ctx)
	for _, l := range in.listeners {
		l.started = true
		go in.run(ctx, l.srv.ListenAndServe, l.errc)
		a, err := waitListening(l.srv, l.errc)
		if err != nil {
			in.cancel()
			l.errc <- context.Canceled // read: wait reads the others'
			in.wait()
			if l.spec.kind == kindUDP {
				err = addrInUseHint(err) // how to share a UDP port
			}
			return fmt.Errorf("--listen %s: %w", l.spec.given, err)
		}
		l.bound = a.String()
		if l.spec.kind == kindUnix {
			l.bound = strings.TrimPrefix(l.spec.given, "unix:")
		}
	}
	if len(in.tailers) > 0 && in.stateDir == "" {
		in.logger.Warn("tailing without checkpoints (--state-dir \"\"): a start begins at the files' ends, or at their starts with --from-start")
	}
	for _, ti := range in.tailers {
		ti.started = true
		go in.run(ctx, ti.t.Run, ti.errc)
	}
	return nil
}

// run runs an input until it returns, and sends its error to errc. An
// input that stops on an error stops the others: the daemon then exits.
func (in *inputs) run(ctx context.Context, serve func(context.Context) error, errc chan<- error) {
	err := serve(ctx)
	if !stoppedCleanly(err) {
		in.cancel()
	}
	errc <- err
}

// stoppedCleanly reports whether an input's error is that of a stop that
// was asked for.
func stoppedCleanly(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, ingest.ErrServerClosed) || errors.Is(err, filetail.ErrClosed)
}

// wait waits until every input has stopped: the Servers have delivered
// what they had received, the Tailers have handed over the line they were
// on and written their checkpoints. It logs each input that stopped on an
// error, and returns the first such error.
func (in *inputs) wait() error {
	var first error
	check := func(name string, err error) {
		if !stoppedCleanly(err) {
			in.logger.Error("input stopped", "input", name, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	for _, l := range in.listeners {
		if l.started {
			check(l.spec.given, <-l.errc)
		}
	}
	for _, ti := range in.tailers {
		if ti.started {
			check("tail "+ti.pattern, <-ti.errc)
		}
	}
	return first
}

// startAttrs returns the start-up line's attributes of the listeners of
// kind, their bound addresses separated by commas, or none.
func (in *inputs) startAttrs(kind string) []any {
	var addrs []string
	for _, l := range in.listeners {
		if l.spec.kind == kind {
			addrs = append(addrs, l.bound)
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	return []any{kind, strings.Join(addrs, ",")}
}

// tailAttrs returns the start-up line's attributes of the tailed files.
func (in *inputs) tailAttrs() []any {
	if len(in.tailers) == 0 {
		return nil
	}
	var ps []string
	for _, ti := range in.tailers {
		ps = append(ps, ti.pattern)
	}
	dir := in.stateDir
	if dir == "" {
		dir = "none"
	}
	return []any{kindTail, strings.Join(ps, ","), "state_dir", dir}
}

// instance returns the default --instance: the host name and the port of
// the first listener, or its socket's path, or the host name alone when
// serve only tails files.
func (in *inputs) instance() string {
	if len(in.listeners) == 0 {
		return hostName()
	}
	l := in.listeners[0]
	if l.spec.kind == kindUnix {
		return hostName() + ":" + l.bound
	}
	return defaultInstance(l.srv.LocalAddr())
}

func hostName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return host
}

// track registers the inputs' bounded memory with the heap monitor: the
// receive buffers of the UDP and unix sockets, their queues (with
// --queue), the TCP and TLS connections, and the Tailers.
func (in *inputs) track(m *heapwatch.Monitor, queue bool) error {
	var errs []error
	datagrams, streams := false, false
	for _, l := range in.listeners {
		if l.spec.kind == kindUDP || l.spec.kind == kindUnix {
			datagrams = true
		} else {
			streams = true
		}
	}
	if datagrams {
		errs = append(errs, m.Track("receive_buffers", func() heapwatch.Usage {
			// Allocated when serving starts, fixed from then on.
			var n int64
			for _, l := range in.listeners {
				if l.spec.kind == kindUDP || l.spec.kind == kindUnix {
					n += int64(l.srv.Stats().ReadBufferBytes)
				}
			}
			return heapwatch.Usage{Bytes: n, LimitBytes: n}
		}))
	}
	if datagrams && queue {
		errs = append(errs, m.Track("queue", func() heapwatch.Usage {
			var u heapwatch.Usage
			for _, l := range in.listeners {
				st := l.srv.Stats()
				u.Bytes += int64(st.QueueBytes)
				u.LimitBytes += int64(st.QueueMaxBytes)
				u.Entries += int64(st.QueueDatagrams)
				u.Refused += st.DroppedQueueFull
			}
			return u
		}))
	}
	if streams {
		errs = append(errs, m.Track("connections", in.connectionsUsage))
	}
	if len(in.tailers) > 0 {
		errs = append(errs, m.Track("tail", func() heapwatch.Usage {
			var u heapwatch.Usage
			for _, ti := range in.tailers {
				st := ti.t.Stats()
				u.Bytes += st.MemoryBytes
				u.LimitBytes += st.MemoryLimitBytes
				u.Entries += int64(st.Files + st.Remembered)
				u.LimitEntries += int64(2 * st.MaxFiles)
				u.Refused += st.FilesRefused
			}
			return u
		}))
	}
	return errors.Join(errs...)
}

// connectionsUsage is the "connections" budget: the open TCP and TLS
// connections' buffers, and with TLS an estimate of crypto/tls's, against
// --max-connections of each listener.
func (in *inputs) connectionsUsage() heapwatch.Usage {
	var u heapwatch.Usage
	for _, l := range in.listeners {
		per := int64(streamConnBytes)
		switch l.spec.kind {
		case kindTLS:
			per += tlsConnBytes
		case kindTCP:
		default:
			continue
		}
		st := l.srv.Stats()
		u.Bytes += int64(st.Connections) * per
		u.LimitBytes += int64(l.maxConns) * per
		u.Entries += int64(st.Connections)
		u.LimitEntries += int64(l.maxConns)
		u.Refused += st.ConnectionsRefused
	}
	return u
}

// totals are the counters of every input added up: the listeners'
// ingest.Stats field by field, with the Tailers' lines, bytes, parse
// errors and handler panics added in; and the snapshot of each input's
// counters they were added up from, so that /metrics shows the totals and
// the inputs as of the same moment.
type totals struct {
	ingest.Stats
	reasons   []string
	byReason  []uint64
	listeners []ingest.Stats   // in.listeners' Stats
	tailers   []filetail.Stats // in.tailers' Stats
}

// ParseErrorsByReason yields every reason with its count over every
// input, zeros included, in the order of ingest.Stats.
func (t *totals) ParseErrorsByReason() iter.Seq2[string, uint64] {
	return func(yield func(string, uint64) bool) {
		for i, r := range t.reasons {
			if !yield(r, t.byReason[i]) {
				return
			}
		}
	}
}

func (t *totals) addReason(reason string, n uint64) {
	for i, r := range t.reasons {
		if r == reason {
			t.byReason[i] += n
			return
		}
	}
	t.reasons = append(t.reasons, reason)
	t.byReason = append(t.byReason, n)
}

// addLines adds the counts that every kind of input has.
func (t *totals) addLines(bytes, lines, parsed, parseErrors, panics uint64, byReason iter.Seq2[string, uint64]) {
	s := &t.Stats
	s.Bytes += bytes
	s.Lines += lines
	s.Parsed += parsed
	s.ParseErrors += parseErrors
	s.HandlerPanics += panics
	for r, n := range byReason {
		t.addReason(r, n)
	}
}

// totals adds up the counters of every input.
func (in *inputs) totals() totals {
	var t totals
	var zero ingest.Stats
	for r := range zero.ParseErrorsByReason() {
		t.addReason(r, 0)
	}
	for _, l := range in.listeners {
		st := l.srv.Stats()
		t.listeners = append(t.listeners, st)
		t.addLines(st.Bytes, st.Lines, st.Parsed, st.ParseErrors, st.HandlerPanics, st.ParseErrorsByReason())
		s := &t.Stats
		s.Datagrams += st.Datagrams
		s.Truncated += st.Truncated
		s.DroppedQueueFull += st.DroppedQueueFull
		s.DroppedKernel += st.DroppedKernel
		s.DroppedSource += st.DroppedSource
		s.DroppedClosed += st.DroppedClosed
		s.ReadErrors += st.ReadErrors
		s.ReceiveBuffer += st.ReceiveBuffer
	}
	for _, ti := range in.tailers {
		st := ti.t.Stats()
		t.tailers = append(t.tailers, st)
		t.addLines(st.Bytes, st.Lines, st.Parsed, st.ParseErrors, st.HandlerPanics, st.ParseErrorsByReason())
	}
	return t
}
