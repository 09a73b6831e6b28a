package ingest

import (
	"iter"
	"runtime"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// Stats is a snapshot of a Server's counters, summed over its readers,
// workers and sockets. Every counter starts at zero when the Server starts
// serving and only grows.
//
// Each datagram read from a socket is counted in Datagrams and Bytes and then
// ends in exactly one of: Truncated, DroppedSource, DroppedQueueFull,
// DroppedClosed, EmptyDatagrams, or framed into lines. Each line ends in
// exactly one of Parsed (handed to the handler) or ParseErrors. Datagrams
// the kernel dropped never reach the Server; they are counted in
// DroppedKernel only. String names every counter.
type Stats struct {
	// Datagrams and Bytes count what was read from the sockets, truncated and
	// rejected datagrams included. A truncated datagram counts its length
	// as sent on Linux, and Config.MaxDatagram+1 bytes elsewhere (where the
	// read cannot see past the buffer), or when the Server reads a
	// net.PacketConn without a file descriptor.
	Datagrams uint64
	Bytes     uint64
	// Lines counts the non-empty lines framed from accepted datagrams;
	// Lines == Parsed + ParseErrors.
	Lines uint64
	// Parsed counts the lines handed to the handler.
	Parsed uint64
	// ParseErrors counts the lines that failed to parse; see
	// ParseErrorsByReason for the split by reason.
	ParseErrors uint64
	// Truncated counts datagrams longer than Config.MaxDatagram. They are
	// not parsed; Config.OnBadLine gets a sample of them with ErrTruncated.
	Truncated uint64
	// EmptyDatagrams counts datagrams that held no line: zero bytes, or
	// nothing but line endings. Over TCP and TLS, it counts the frames
	// that held no line.
	EmptyDatagrams uint64
	// DroppedQueueFull counts datagrams dropped because the queue was full
	// (queue mode without Config.BlockWhenQueueFull).
	DroppedQueueFull uint64
	// DroppedKernel counts datagrams the kernel dropped because a socket's
	// receive buffer was full, as reported by SO_RXQ_OVFL and read from
	// the socket by Stats (Linux only; always 0 elsewhere), and those it
	// refused once the Server began stopping. So, on Linux, once Serve has
	// returned, the datagrams sent to the Server's sockets while it served
	// add up to Datagrams + DroppedKernel.
	DroppedKernel uint64
	// DroppedSource counts datagrams from a source outside
	// Config.AllowedSources.
	DroppedSource uint64
	// DroppedClosed counts datagrams that were read or queued but discarded
	// by Close, or by Shutdown when its context was done first.
	DroppedClosed uint64
	// HandlerPanics counts handler calls that panicked and were recovered.
	HandlerPanics uint64
	// ReadErrors counts failed socket reads other than the ones caused by
	// stopping the Server.
	ReadErrors uint64
	// StopErrors counts what went wrong while the Server stopped, the
	// first of each kind logged: a socket whose intake could not be closed
	// (then the datagrams that arrive until it closes are not refused and
	// not counted in DroppedKernel, and its drain is cut short; see
	// Shutdown), a socket that could not leave its SO_REUSEPORT group, a
	// socket whose readers a read deadline could not wake, a drain that
	// ended on a read error (also in ReadErrors), a drain cut short, and a
	// socket closed with datagrams still queued, which are lost uncounted.
	StopErrors uint64

	// Sockets is the number of sockets being read.
	Sockets int
	// ReceiveBuffer is the sum over the sockets of the receive buffer size
	// the kernel granted, in the units of Config.ReceiveBuffer. Linux
	// reports twice the size it set aside (the extra is its bookkeeping
	// allowance); that number is halved here so it compares directly with
	// what was asked. It is 0 where the size cannot be read back: on other
	// systems, and for a net.PacketConn without a file descriptor.
	ReceiveBuffer int

	// ReadBufferBytes is the memory the readers hold for receiving: their
	// datagram buffers (Config.BatchSize buffers of Config.MaxDatagram+1
	// bytes per reader on Linux, one elsewhere) and control buffers. It is
	// allocated when serving starts and does not change.
	ReadBufferBytes int
	// QueueDatagrams and QueueBytes are the datagrams waiting in the queue
	// (queue mode) and the sum of their lengths, at the time of the call;
	// QueueBytes includes the copy each reader blocked on a full queue
	// holds. QueueMaxBytes bounds it: (Config.QueueLength + Readers) ×
	// (Config.MaxDatagram+1). Neither counts the datagram each worker is
	// handling nor the spare capacity of the pooled buffers. All are 0
	// without a queue.
	QueueDatagrams int
	QueueBytes     int
	QueueMaxBytes  int

	// Transport is what the Server serves: "udp", "unix" (a unix datagram
	// socket), "tcp" or "tls". Several listeners are several Servers, each
	// with its own Stats.
	Transport string

	// The fields below are for "tcp" and "tls", and 0 otherwise; so are
	// TLSCertReloads and TLSCertErrors without TLS. There, Bytes counts
	// the bytes read from the connections (after TLS), Datagrams stays 0,
	// DroppedSource counts connections from outside Config.AllowedSources
	// (closed at once), DroppedClosed counts frames discarded by Close, and
	// ReadErrors counts connections that ended on a read error (a reset, a
	// TLS record that does not decrypt) and failed accepts, Sockets stays
	// 0, and ReadBufferBytes is Config.MaxFrame+16 bytes per open
	// connection.
	//
	// Each frame whose first byte was read ends in exactly one of Frames
	// (read whole, and then framed into lines or counted in
	// DroppedClosed), FramesTooLong, FramesCut or FramingErrors.

	// Connections is the number of connections open now;
	// ConnectionsOpened counts the connections taken on (TLS ones before
	// their handshake), ConnectionsClosed those that have ended, for
	// whatever reason.
	Connections       int
	ConnectionsOpened uint64
	ConnectionsClosed uint64
	// ConnectionsRefused counts connections closed as soon as they were
	// accepted, because Config.MaxConnections were open or the Server was
	// stopping. They are not in ConnectionsOpened.
	ConnectionsRefused uint64
	// ConnectionsIdle counts connections closed because nothing came for
	// Config.IdleTimeout (also in ConnectionsClosed).
	ConnectionsIdle uint64
	// TLSHandshakeErrors counts TLS connections whose handshake failed or
	// did not end within Config.HandshakeTimeout (also in
	// ConnectionsOpened and ConnectionsClosed).
	TLSHandshakeErrors uint64
	// Frames counts the frames read whole.
	Frames uint64
	// FramesTooLong counts the frames longer than Config.MaxFrame. Their
	// bytes are skipped as they arrive, never buffered.
	FramesTooLong uint64
	// FramesCut counts the frames a connection ended in the middle of:
	// closed by the peer, reset, timed out, or by a stopping Server. A
	// last line without its "\n" is one: it is counted here, not parsed.
	FramesCut uint64
	// FramingErrors counts octet counts that no frame can have ("0 ").
	FramingErrors uint64
	// BytesUnread counts bytes that connections had sent and the kernel
	// held, unread, when the Server closed them: what came after Shutdown
	// began (the connections read what they held then, and no more), after
	// Close, and after a read error or a failed TLS handshake. Linux only;
	// 0 elsewhere.
	BytesUnread uint64
	// TLSCertReloads counts the times the certificate files
	// (Config.TLSCertFile, TLSKeyFile, TLSClientCAFile) changed and were
	// loaded; TLSCertErrors the times they changed and did not load, which
	// keeps the ones loaded before in use.
	TLSCertReloads uint64
	TLSCertErrors  uint64

	parseErrors [numReasons]uint64
}

// ParseErrorsFor returns the number of lines that failed with the given
// ErrorReason label ("time", "status", ...), or 0 for an unknown label.
func (s *Stats) ParseErrorsFor(reason string) uint64 {
	r, ok := reasonByLabel(reason)
	if !ok || r >= numReasons {
		return 0
	}
	return s.parseErrors[r]
}

// ParseErrorsByReason yields every ErrorReason label with its count, zeros
// included, always in the same order.
func (s *Stats) ParseErrorsByReason() iter.Seq2[string, uint64] {
	return func(yield func(string, uint64) bool) {
		for i, label := range reasonLabels[:numReasons] {
			if !yield(label, s.parseErrors[i]) {
				return
			}
		}
	}
}

// tally is the counting a reader or worker does while it handles one batch
// of datagrams: plain integers on its own stack, published with one atomic
// add per non-zero counter at the end of the batch.
type tally struct {
	datagrams, bytes, lines, parsed, truncated       uint64
	droppedSource, droppedQueue, droppedClosed, errs uint64
	panics, empty                                    uint64
	parseErrors                                      [numReasons]uint64
	stream                                           streamTally
}

// counters are the published counters of one reader or worker. Only their
// owner writes them; Stats reads them. They are padded on both sides so that
// two goroutines' counters never share a cache line.
type counters struct {
	_ cpu.CacheLinePad
	// seq is odd while publish adds a batch. addTo reads until it sees
	// the same even seq before and after, so that it never sums half a
	// batch (a datagram counted whose lines are not).
	seq                                        atomic.Uint64
	datagrams, bytes, lines, parsed, truncated atomic.Uint64
	droppedSource, droppedQueue, droppedClosed atomic.Uint64
	panics, readErrors, empty                  atomic.Uint64
	parseErrors                                [numReasons]atomic.Uint64
	stream                                     streamCounters
	_                                          cpu.CacheLinePad
}

// publish adds t to c and clears t.
func (c *counters) publish(t *tally) {
	add := func(a *atomic.Uint64, n uint64) {
		if n != 0 {
			a.Add(n)
		}
	}
	c.seq.Add(1)
	add(&c.datagrams, t.datagrams)
	add(&c.bytes, t.bytes)
	add(&c.lines, t.lines)
	add(&c.parsed, t.parsed)
	add(&c.truncated, t.truncated)
	add(&c.droppedSource, t.droppedSource)
	add(&c.droppedQueue, t.droppedQueue)
	add(&c.droppedClosed, t.droppedClosed)
	add(&c.panics, t.panics)
	add(&c.empty, t.empty)
	if t.errs != 0 {
		for i := range t.parseErrors {
			add(&c.parseErrors[i], t.parseErrors[i])
		}
	}
	c.stream.publish(&t.stream)
	c.seq.Add(1)
	*t = tally{}
}

// addTo adds c to s: the counts of whole batches, never of part of one.
func (c *counters) addTo(s *Stats) {
	var t tally
	for !c.load(&t) {
		runtime.Gosched() // the owner is publishing: a dozen adds
	}
	s.Datagrams += t.datagrams
	s.Bytes += t.bytes
	s.Lines += t.lines
	s.Parsed += t.parsed
	s.Truncated += t.truncated
	s.DroppedSource += t.droppedSource
	s.DroppedQueueFull += t.droppedQueue
	s.DroppedClosed += t.droppedClosed
	s.HandlerPanics += t.panics
	s.EmptyDatagrams += t.empty
	s.ReadErrors += c.readErrors.Load()
	for i, n := range t.parseErrors {
		s.parseErrors[i] += n
		s.ParseErrors += n
	}
	t.stream.addTo(s)
}

// load reads c into t and reports whether no publish ran meanwhile.
func (c *counters) load(t *tally) bool {
	seq := c.seq.Load()
	if seq%2 != 0 {
		return false
	}
	t.datagrams = c.datagrams.Load()
	t.bytes = c.bytes.Load()
	t.lines = c.lines.Load()
	t.parsed = c.parsed.Load()
	t.truncated = c.truncated.Load()
	t.droppedSource = c.droppedSource.Load()
	t.droppedQueue = c.droppedQueue.Load()
	t.droppedClosed = c.droppedClosed.Load()
	t.panics = c.panics.Load()
	t.empty = c.empty.Load()
	for i := range c.parseErrors {
		t.parseErrors[i] = c.parseErrors[i].Load()
	}
	c.stream.load(&t.stream)
	return c.seq.Load() == seq
}

// dropCounter turns the cumulative per-socket drop count that Linux
// attaches to datagrams (SO_RXQ_OVFL) into a count of drops. The kernel
// counter is a wrapping uint32 that grows in queue order; several readers of
// one socket may see its values out of order, so only increases count.
type dropCounter struct {
	_     cpu.CacheLinePad
	last  atomic.Uint32
	drops atomic.Uint64
	_     cpu.CacheLinePad
}

// observe records the kernel's cumulative drop count v.
func (d *dropCounter) observe(v uint32) {
	for {
		last := d.last.Load()
		delta := v - last
		if delta == 0 || int32(delta) < 0 {
			return
		}
		if d.last.CompareAndSwap(last, v) {
			d.drops.Add(uint64(delta))
			return
		}
	}
}

// String returns every counter and size as name=value pairs on one line,
// in the order of the fields, the parse errors split by reason after their
// sum (the reasons with a count only): for logs, and for %v and %+v. The
// fields of TCP and TLS appear only when Transport is "tcp" or "tls", and
// the certificate reloads only with "tls". It is a few hundred bytes long,
// at most 1,600 bytes with every counter at its largest.
func (s Stats) String() string {
	b := make([]byte, 0, 512)
	if s.Transport != "" {
		b = append(b, s.Transport...)
		b = append(b, ": "...)
	}
	u := func(name string, v uint64) {
		if len(b) > 0 && b[len(b)-1] != ' ' {
			b = append(b, ' ')
		}
		b = append(b, name...)
		b = append(b, '=')
		b = strconv.AppendUint(b, v, 10)
	}
	i := func(name string, v int) { u(name, uint64(max(v, 0))) }
	u("datagrams", s.Datagrams)
	u("bytes", s.Bytes)
	u("lines", s.Lines)
	u("parsed", s.Parsed)
	u("parse_errors", s.ParseErrors)
	if s.ParseErrors > 0 {
		b = append(b, " ("...)
		first := true
		for label, n := range s.ParseErrorsByReason() {
			if n == 0 {
				continue
			}
			if !first {
				b = append(b, ' ')
			}
			first = false
			b = append(b, label...)
			b = append(b, '=')
			b = strconv.AppendUint(b, n, 10)
		}
		b = append(b, ')')
	}
	u("truncated", s.Truncated)
	u("empty_datagrams", s.EmptyDatagrams)
	u("dropped_queue_full", s.DroppedQueueFull)
	u("dropped_kernel", s.DroppedKernel)
	u("dropped_source", s.DroppedSource)
	u("dropped_closed", s.DroppedClosed)
	u("handler_panics", s.HandlerPanics)
	u("read_errors", s.ReadErrors)
	u("stop_errors", s.StopErrors)
	i("sockets", s.Sockets)
	i("receive_buffer", s.ReceiveBuffer)
	i("read_buffer_bytes", s.ReadBufferBytes)
	i("queue_datagrams", s.QueueDatagrams)
	i("queue_bytes", s.QueueBytes)
	i("queue_max_bytes", s.QueueMaxBytes)
	if s.Transport == "tcp" || s.Transport == "tls" {
		i("connections", s.Connections)
		u("connections_opened", s.ConnectionsOpened)
		u("connections_closed", s.ConnectionsClosed)
		u("connections_refused", s.ConnectionsRefused)
		u("connections_idle", s.ConnectionsIdle)
		u("tls_handshake_errors", s.TLSHandshakeErrors)
		u("frames", s.Frames)
		u("frames_too_long", s.FramesTooLong)
		u("frames_cut", s.FramesCut)
		u("framing_errors", s.FramingErrors)
		u("bytes_unread", s.BytesUnread)
	}
	if s.Transport == "tls" {
		u("tls_cert_reloads", s.TLSCertReloads)
		u("tls_cert_errors", s.TLSCertErrors)
	}
	return string(b)
}
