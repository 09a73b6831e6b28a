package ingest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"time"
)

// Handler handles the lines a Server receives.
//
// ServeLine is called once for every line that parsed. The Request and
// every slice in it are valid only until the handler returns. Do not retain
// them; use Interner.Intern or Request.Clone for values that must outlive
// the call. r.Source is the sender's address.
//
// ServeLine is called from several goroutines at once when the Server has
// more than one reader (Config.Readers) or worker (Config.Workers). A
// panic in ServeLine is recovered, counted in Stats.HandlerPanics and
// logged (at most once a second); the Server goes on with the next line.
type Handler interface {
	ServeLine(r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(r *Request)

// ServeLine calls f(r).
func (f HandlerFunc) ServeLine(r *Request) { f(r) }

// Defaults for the zero fields of Config.
const (
	defaultAddr            = "127.0.0.1:5514"
	defaultReceiveBuffer   = 8 << 20
	defaultMaxDatagram     = 65527 // the largest UDP payload without IPv6 jumbograms
	defaultBatchSize       = 16
	defaultBadLineInterval = time.Second

	maxMaxDatagram = 65535
	maxBatchSize   = 1024
	maxReaders     = 1024
	maxBatchDelay  = time.Second
)

// Config configures a Server. The zero value of every field selects the
// default given in its comment, so Config{Handler: h} is a working
// configuration.
type Config struct {
	// Addr is the address ListenAndServe listens on: "host:port" (or
	// "udp://host:port") for UDP; "unix:/path" for a unix datagram socket
	// (see SocketMode); "tcp://host:port" or "tls://host:port" for syslog
	// over TCP or TLS (RFC 6587 framing, octet counting or LF, detected
	// per frame; see MaxConnections, MaxFrame, IdleTimeout and the TLS
	// fields). Default "127.0.0.1:5514". Port 0 picks a free port; see
	// Server.LocalAddr. docs/transports.md says which to pick.
	Addr string

	// Handler receives every line that parsed. Required.
	Handler Handler

	// Format is the access-line format. Default (nil): FormatCombined. The
	// syslog envelope is detected per line whatever the format.
	Format *Format

	// Readers is the number of reader goroutines. Default 1. At most 1024.
	// By default the readers share one socket: each reads it with its own
	// buffers, and the port stays exclusive to this Server. With ReusePort
	// on Linux, ListenAndServe opens one socket per reader instead; see
	// ReusePort.
	Readers int

	// ReusePort makes ListenAndServe set SO_REUSEPORT on its sockets and
	// open one socket per reader on the same address. The kernel then
	// spreads senders over the sockets by a hash of their address and port
	// (one sender always lands on the same socket), and other sockets of
	// the same user that set SO_REUSEPORT too, in this process or another,
	// can bind the same port and take a share of the traffic. Without it,
	// binding a port that another socket holds fails with an error for
	// which errors.Is(err, syscall.EADDRINUSE) holds. Linux only: elsewhere
	// it is ignored. Serve ignores it: the socket is given.
	ReusePort bool

	// ReceiveBuffer is the receive buffer to ask for on each socket
	// (SO_RCVBUF), in bytes. Default 8 MiB. When the kernel's limit
	// (net.core.rmem_max) is lower, the Server tries SO_RCVBUFFORCE, which
	// works for a process with CAP_NET_ADMIN. What the kernel granted is in
	// Stats.ReceiveBuffer, and a warning with that number is logged when it
	// is less than asked. Negative: leave the socket's buffer as it is.
	ReceiveBuffer int

	// MaxDatagram is the largest datagram accepted, in bytes. Default
	// 65527, the largest UDP payload without IPv6 jumbograms, so by default
	// nothing is truncated. A longer datagram is counted in
	// Stats.Truncated and not parsed. Each reader holds BatchSize buffers of
	// MaxDatagram+1 bytes. At most 65535.
	MaxDatagram int

	// BatchSize is the number of datagrams one recvmmsg call may return on
	// Linux. Default 16. Elsewhere each read returns one datagram and
	// BatchSize is ignored. At most 1024.
	BatchSize int

	// BatchDelay, when positive, makes a reader whose last read returned
	// fewer than BatchSize datagrams wait this long before it reads again,
	// so that the socket's queue fills and one recvmmsg returns many
	// datagrams. At low rates most of the CPU a line costs is the wake-up
	// of the reader for its datagram; with a delay, one wake-up serves
	// every datagram that arrived meanwhile. A full read never waits, so
	// the rate a reader can take is unchanged.
	//
	// The cost is latency: a datagram waits up to BatchDelay in the
	// socket's queue, plus the time the reader takes for the datagrams read
	// before it. And the receive buffer holds what arrives meanwhile: rate
	// × BatchDelay × (datagram size + about 500 bytes), in the units of
	// ReceiveBuffer. So that a wait leaves room in it, a wait is cut short
	// when, at the rate the reader has been reading, what arrives during
	// it would take more than an eighth of the receive buffer (shared by
	// the readers of a socket), each datagram counted as its size + 512
	// bytes; and after the reader found the queue empty and waited for
	// traffic, its first wait is BatchDelay/16, which measures a burst that
	// starts from quiet before a whole wait. The Server logs a warning,
	// once per socket, when the buffer cannot hold a batch of
	// MaxDatagram-byte datagrams. Stopping the Server ends a wait at once.
	//
	// The sockets that ListenAndServe opens are taken out of the Go
	// runtime's network poller, which would otherwise wake once for every
	// datagram that arrives during a wait: each reader waits in an epoll
	// instance of its own that only the first datagram after an empty
	// queue, or the end of its wait, makes ready. A conn given to Serve
	// stays in the runtime's poller: its reads are batched the same way,
	// but the poller still wakes per datagram.
	//
	// Default 0: read again at once. At most 1s. Linux only: elsewhere
	// each read returns one datagram and BatchDelay is ignored.
	BatchDelay time.Duration

	// QueueLength, when positive, turns on queue mode: each datagram is
	// copied once into a pooled buffer sized to it and queued, and Workers
	// goroutines parse it and call the handler. A full queue drops the
	// datagram (counted in Stats.DroppedQueueFull) unless BlockWhenQueueFull
	// is set.
	//
	// Default 0: the readers parse and call the handler themselves, with no
	// copy and no handoff, which costs the least CPU per line. Queue mode is
	// for a handler that is slow or uneven, whose delays must not hold up
	// the reading. For high rates, prefer BlockWhenQueueFull with a
	// QueueLength of a few thousand, so that a burst waits in the socket's
	// receive buffer rather than being dropped from a full queue.
	//
	// The copies allocate nothing once the pool has as many buffers, as
	// large, as the backlog needs, with two exceptions that bytebufferpool
	// makes to bound memory: a garbage collection empties the pool (it is
	// a sync.Pool), and every 42,000 datagrams it recalibrates and from
	// then on drops buffers larger than the size that covers 95% of them.
	// So a datagram both larger than the common ones and rarer than about
	// 1 in 20 allocates its buffer.
	QueueLength int

	// Workers is the number of worker goroutines in queue mode. Default 1.
	// It must be 0 when QueueLength is 0.
	Workers int

	// BlockWhenQueueFull makes a reader wait for room in a full queue
	// instead of dropping the datagram. While it waits it does not read,
	// and the socket's receive buffer absorbs the traffic until the kernel
	// drops it (Stats.DroppedKernel).
	BlockWhenQueueFull bool

	// AllowedSources, when not empty, lists the networks datagrams may come
	// from; others are counted in Stats.DroppedSource and not parsed.
	// IPv4-mapped IPv6 senders (::ffff:a.b.c.d) match IPv4 prefixes. The
	// list is scanned in order for every datagram: keep it short.
	AllowedSources []netip.Prefix

	// Logger receives the Server's warnings and errors. Default
	// slog.Default().
	Logger *slog.Logger

	// OnBadLine, when set, is called with a sample of the lines that failed
	// to parse, with the sender's address and the error (see ErrorReason),
	// and of the datagrams longer than MaxDatagram: for those, err is
	// ErrTruncated and line the datagram's first line, at most 256 bytes
	// of it. The line is valid only during the call. Every failing line and
	// truncated datagram is counted in Stats whether or not it is sampled.
	// OnBadLine runs on the reader or worker goroutine, possibly on several
	// at once; a panic in it is recovered and counted like a handler panic.
	OnBadLine func(line []byte, from netip.AddrPort, err error)

	// BadLineInterval is the sampling period of OnBadLine: it gets the
	// first failing line and then at most one per interval for the whole
	// Server. Default 1s. Negative: every failing line.
	BadLineInterval time.Duration

	// SocketMode is the permission bits of the socket file that an Addr
	// "unix:/path" creates. Default 0o666: any local user may send, as to
	// /dev/log; the directory's permissions can narrow that. The file is
	// removed when the Server stops; one left by a process that ended
	// without removing it is replaced, while a socket another process
	// serves, or a file that is not a socket, makes ListenAndServe fail.
	SocketMode fs.FileMode

	// MaxConnections is the number of TCP or TLS connections served at
	// once. Default 256. At most 65536. One more is closed as soon as it
	// is accepted (counted in Stats.ConnectionsRefused). Each connection
	// holds a buffer of MaxFrame+16 bytes, and with TLS crypto/tls's record
	// buffers (some tens of KiB).
	MaxConnections int

	// MaxFrame is the longest frame accepted over TCP or TLS, in bytes:
	// an octet count, or a line up to its "\n". Default 65536, which is
	// MaxLineLength: Parse refuses longer lines. At least 64, at most
	// 1 MiB. A longer frame is counted in Stats.FramesTooLong and skipped
	// as it arrives, never buffered.
	MaxFrame int

	// IdleTimeout closes a TCP or TLS connection on which nothing arrived
	// for about this long (between 7/8 of it and all of it). Default 10
	// minutes. Negative: never. Keep-alive probes (every 15 s) close
	// connections whose peer is gone without it.
	IdleTimeout time.Duration

	// HandshakeTimeout bounds a TLS handshake. Default 10 s. Negative:
	// none.
	HandshakeTimeout time.Duration

	// TLSConfig is the TLS configuration of a "tls://" Addr and of
	// ServeListener. It is cloned; its MinVersion, when set, must be TLS
	// 1.2 or later (the default is TLS 1.2; TLS 1.3 is chosen whenever the
	// client offers it). Give it certificates (Certificates,
	// GetCertificate or GetConfigForClient) or give the files below
	// instead: then it serves as the base of the configuration built from
	// them.
	TLSConfig *tls.Config

	// TLSCertFile and TLSKeyFile are the PEM files of the server's
	// certificate chain and key, and TLSClientCAFile, when set, the PEM
	// file of the CAs that must have signed a client's certificate (mutual
	// TLS: a client without one is refused). NewServer loads them; while
	// the Server serves, they are checked every TLSReloadInterval and
	// loaded again when one changed (its size, time or file), so a renewed
	// certificate needs no restart. Connections already open keep the
	// certificate they began with.
	TLSCertFile     string
	TLSKeyFile      string
	TLSClientCAFile string

	// TLSReloadInterval is how often the TLS files are checked for a
	// change. Default 5 s. Negative: never.
	TLSReloadInterval time.Duration
}

// ErrConfig is what every error of NewServer wraps.
var ErrConfig = errors.New("ingest: bad config")

// ConfigError says which Config field NewServer refused, with the value it
// was given and why.
type ConfigError struct {
	Field  string // the Config field: "Readers", "AllowedSources", ...
	Value  string // the value given, as %v prints it
	Reason string
}

// Error names the field, the value and the reason.
func (e *ConfigError) Error() string {
	return ErrConfig.Error() + ": " + e.Field + " " + e.Value + ": " + e.Reason
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

func configError(field string, value any, reason string) *ConfigError {
	return &ConfigError{Field: field, Value: fmt.Sprint(value), Reason: reason}
}

// check fills in c's defaults and checks every field. It returns the
// allowed sources, unmapped and masked, or a *ConfigError for the first
// field that is wrong.
func (c *Config) check() ([]netip.Prefix, error) {
	if c.Handler == nil {
		return nil, configError("Handler", c.Handler, "required")
	}
	if c.Addr == "" {
		c.Addr = defaultAddr
	}
	if err := defaultInt(&c.Readers, 1, maxReaders, "Readers"); err != nil {
		return nil, err
	}
	if err := defaultInt(&c.MaxDatagram, defaultMaxDatagram, maxMaxDatagram, "MaxDatagram"); err != nil {
		return nil, err
	}
	if err := defaultInt(&c.BatchSize, defaultBatchSize, maxBatchSize, "BatchSize"); err != nil {
		return nil, err
	}
	if c.ReceiveBuffer == 0 {
		c.ReceiveBuffer = defaultReceiveBuffer
	}
	if c.BatchDelay < 0 || c.BatchDelay > maxBatchDelay {
		return nil, configError("BatchDelay", c.BatchDelay, "out of range 0..1s")
	}
	switch {
	case c.QueueLength < 0:
		return nil, configError("QueueLength", c.QueueLength, "must not be negative")
	case c.Workers < 0:
		return nil, configError("Workers", c.Workers, "must not be negative")
	case c.QueueLength == 0 && c.Workers != 0:
		return nil, configError("Workers", c.Workers, "needs a QueueLength")
	case c.QueueLength == 0 && c.BlockWhenQueueFull:
		return nil, configError("BlockWhenQueueFull", true, "needs a QueueLength")
	}
	if c.QueueLength > 0 && c.Workers == 0 {
		c.Workers = 1
	}
	if c.BadLineInterval == 0 {
		c.BadLineInterval = defaultBadLineInterval
	}
	var allowed []netip.Prefix
	for _, p := range c.AllowedSources {
		if !p.IsValid() {
			return nil, configError("AllowedSources", p, "not a valid prefix")
		}
		// ::ffff:10.0.0.0/104 is 10.0.0.0/8: senders are unmapped.
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		allowed = append(allowed, p.Masked())
	}
	return allowed, nil
}

// defaultInt sets *v to def when it is 0 and checks 1 <= *v <= max.
func defaultInt(v *int, def, max int, name string) error {
	if *v == 0 {
		*v = def
	}
	if *v < 1 || *v > max {
		return configError(name, *v, fmt.Sprintf("out of range 1..%d", max))
	}
	return nil
}
