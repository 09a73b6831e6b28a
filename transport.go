package ingest

import (
	"crypto/tls"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"time"
)

// transport is the kind of address a Server serves.
type transport uint8

const (
	transportUDP  transport = iota // "host:port" or "udp://host:port"
	transportUnix                  // "unix:/path", a unix datagram socket
	transportTCP                   // "tcp://host:port"
	transportTLS                   // "tls://host:port"
)

// String returns "udp", "unix", "tcp" or "tls", the names Stats.Transport
// uses.
func (t transport) String() string {
	switch t {
	case transportUnix:
		return "unix"
	case transportTCP:
		return "tcp"
	case transportTLS:
		return "tls"
	}
	return "udp"
}

func (t transport) stream() bool { return t == transportTCP || t == transportTLS }

// Defaults and bounds of the stream and unix socket fields of Config.
const (
	defaultSocketMode        fs.FileMode = 0o666
	defaultMaxConnections                = 256
	defaultMaxFrame                      = MaxLineLength
	defaultIdleTimeout                   = 10 * time.Minute
	defaultHandshakeTimeout              = 10 * time.Second
	defaultTLSReloadInterval             = 5 * time.Second

	maxMaxConnections = 1 << 16
	maxMaxFrame       = 1 << 20
	minMaxFrame       = 64
)

// splitAddr splits Config.Addr into its transport and the address the
// transport listens on.
func splitAddr(addr string) (transport, string, error) {
	scheme, rest, ok := strings.Cut(addr, "://")
	if !ok {
		if path, ok := strings.CutPrefix(addr, "unix:"); ok {
			if path == "" {
				return 0, "", configError("Addr", addr, "unix: needs a path, as in unix:/run/ingest.sock")
			}
			return transportUnix, path, nil
		}
		return transportUDP, addr, nil
	}
	var t transport
	switch scheme {
	case "udp":
		t = transportUDP
	case "tcp":
		t = transportTCP
	case "tls":
		t = transportTLS
	default:
		return 0, "", configError("Addr", addr, `unknown scheme: want host:port, udp://, tcp://, tls:// or unix:/path`)
	}
	if _, _, err := net.SplitHostPort(rest); err != nil {
		return 0, "", configError("Addr", addr, "not host:port after "+scheme+"://")
	}
	return t, rest, nil
}

// initTransport reads the transport from Config.Addr, fills in the
// defaults of the stream, unix socket and TLS fields, checks them, and
// loads the TLS certificate files. It runs in NewServer, after check.
func (s *Server) initTransport() error {
	c := &s.cfg
	t, addr, err := splitAddr(c.Addr)
	if err != nil {
		return err
	}
	s.tr, s.addr = t, addr
	if c.SocketMode == 0 {
		c.SocketMode = defaultSocketMode
	}
	if c.SocketMode&^fs.ModePerm != 0 {
		return configError("SocketMode", c.SocketMode, "only permission bits (0o777) may be set")
	}
	if t == transportUnix && len(c.AllowedSources) > 0 {
		return configError("AllowedSources", c.AllowedSources, "does not apply to a unix socket, whose senders have no address")
	}
	if err := defaultInt(&c.MaxConnections, defaultMaxConnections, maxMaxConnections, "MaxConnections"); err != nil {
		return err
	}
	if c.MaxFrame == 0 {
		c.MaxFrame = defaultMaxFrame
	}
	if c.MaxFrame < minMaxFrame || c.MaxFrame > maxMaxFrame {
		return configError("MaxFrame", c.MaxFrame, fmt.Sprintf("out of range %d..%d", minMaxFrame, maxMaxFrame))
	}
	defaultDuration(&c.IdleTimeout, defaultIdleTimeout)
	defaultDuration(&c.HandshakeTimeout, defaultHandshakeTimeout)
	defaultDuration(&c.TLSReloadInterval, defaultTLSReloadInterval)
	if c.QueueLength > 0 && t.stream() {
		return configError("QueueLength", c.QueueLength, "applies to datagrams (udp, unix); a "+t.String()+" connection is read and handled by a goroutine of its own")
	}

	hasTLS := c.TLSConfig != nil || c.TLSCertFile != "" || c.TLSKeyFile != "" || c.TLSClientCAFile != ""
	switch {
	case t == transportTLS && !hasTLS:
		return configError("Addr", c.Addr, "tls:// needs TLSCertFile and TLSKeyFile, or a TLSConfig with certificates")
	case hasTLS && t != transportTLS && t != transportUDP:
		// UDP is the default Addr: ServeListener may still be given a
		// listener to serve with TLS.
		return configError("Addr", c.Addr, "TLS settings are given: use tls://")
	case !hasTLS:
		return nil
	}
	s.tls, err = newTLSSource(c)
	return err
}

// defaultDuration sets *d to def when it is 0; a negative *d stays, and
// means "none".
func defaultDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// minTLSVersion is the oldest TLS version a Server accepts.
const minTLSVersion = tls.VersionTLS12
