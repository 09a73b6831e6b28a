package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// serve's inputs: the sockets it listens on (--listen, repeatable: UDP,
// unix datagram sockets, TCP, TLS) and the files it tails (--tail,
// repeatable), all feeding the same handlers. This file holds their flags
// and the checks of them; serve_inputs_run.go runs them.

// defaultListen is the address serve listens on when neither --listen nor
// --tail is given.
const defaultListen = "127.0.0.1:5514"

// Input kinds, for the flags that apply to some of them only.
const (
	kindUDP  = "udp"
	kindUnix = "unix"
	kindTCP  = "tcp"
	kindTLS  = "tls"
	kindTail = "tail"
)

// listFlag is a flag that may be given several times; each value is kept.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, " ") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// modeFlag is a file mode given in octal ("0660").
type modeFlag fs.FileMode

func (m *modeFlag) String() string { return fmt.Sprintf("%04o", fs.FileMode(*m)) }

func (m *modeFlag) Set(s string) error {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o777 {
		return errors.New("want permission bits in octal, 0000 to 0777, as in 0660")
	}
	*m = modeFlag(v)
	return nil
}

// inputFlags are the flags of serve's inputs.
type inputFlags struct {
	listen, tail                     listFlag
	socketMode                       modeFlag
	stateDir, tlsCert, tlsKey, tlsCA *string
	maxConnections                   *int
	fromStart                        *bool
	defaultStateDir                  string
}

func addInputFlags(fs *flag.FlagSet) *inputFlags {
	f := &inputFlags{socketMode: 0o666, defaultStateDir: defaultStateDir()}
	fs.Var(&f.listen, "listen", "`address` to receive access lines on, repeatable: host:port (UDP), unix:/path (unix datagram socket), tcp://host:port or tls://host:port (syslog over TCP or TLS, RFC 6587 framing) (default "+defaultListen+" unless --tail is given)")
	fs.Var(&f.tail, "tail", "access log `file` or glob pattern to follow, repeatable (through rotation, from checkpoints in --state-dir); without --listen, no socket is opened")
	f.stateDir = fs.String("state-dir", f.defaultStateDir, "`directory` of the --tail checkpoints; \"\" for none (each start then begins at the files' ends, or at their starts with --from-start)")
	f.fromStart = fs.Bool("from-start", false, "read a tailed file that has no checkpoint from its start instead of its end")
	f.tlsCert = fs.String("tls-cert", "", "PEM `file` of the certificate chain of the tls:// listeners (reloaded when it changes)")
	f.tlsKey = fs.String("tls-key", "", "PEM `file` of the key of --tls-cert")
	f.tlsCA = fs.String("tls-client-ca", "", "PEM `file` of the CAs that must have signed a client's certificate (mutual TLS)")
	fs.Var(&f.socketMode, "socket-mode", "permission `bits` of the unix: socket files, in octal")
	f.maxConnections = fs.Int("max-connections", 256, "TCP or TLS connections served at once, per listener; more are refused")
	return f
}

// defaultStateDir returns where the tail checkpoints go by default:
// systemd's StateDirectory= ($STATE_DIRECTORY), else $XDG_STATE_HOME/ingest,
// else ~/.local/state/ingest, or "" when there is no home directory.
func defaultStateDir() string {
	if d, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); filepath.IsAbs(d) {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "ingest")
	}
	if h, err := os.UserHomeDir(); err == nil && filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "ingest")
	}
	return ""
}

// listenSpec is one --listen.
type listenSpec struct {
	given string // as given
	kind  string // kindUDP, kindUnix, kindTCP or kindTLS
}

// parseListen reads the kind of a --listen address and checks its form.
func parseListen(s string) (listenSpec, error) {
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if path == "" || strings.HasPrefix(path, "//") {
			return listenSpec{}, fmt.Errorf("--listen %q: want unix:/path/to/socket", s)
		}
		return listenSpec{given: s, kind: kindUnix}, nil
	}
	kind, hostPort := kindUDP, s
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		switch scheme {
		case kindUDP, kindTCP, kindTLS:
			kind, hostPort = scheme, rest
		default:
			return listenSpec{}, fmt.Errorf("--listen %q: unknown scheme %q: want host:port, udp://, tcp://, tls:// or unix:/path", s, scheme)
		}
	}
	if _, _, err := net.SplitHostPort(hostPort); err != nil {
		return listenSpec{}, fmt.Errorf("--listen %q: %v", s, err)
	}
	return listenSpec{given: s, kind: kind}, nil
}

// inputConfig is what the input flags ask for, checked.
type inputConfig struct {
	listens        []listenSpec
	tails          []string // cleaned
	stateDir       string   // "": no checkpoints
	fromStart      bool
	tlsCert        string
	tlsKey         string
	tlsCA          string
	socketMode     fs.FileMode
	maxConnections int
}

// has reports whether an input of kind is configured.
func (c *inputConfig) has(kind string) bool {
	if kind == kindTail {
		return len(c.tails) > 0
	}
	return slices.ContainsFunc(c.listens, func(l listenSpec) bool { return l.kind == kind })
}

// inputFlagKinds says which inputs a flag applies to: giving it without
// any of them is a usage error, since it would do nothing.
var inputFlagKinds = []struct {
	flag  string
	kinds []string
	what  string
}{
	{"tls-cert", []string{kindTLS}, "tls:// listeners"},
	{"tls-key", []string{kindTLS}, "tls:// listeners"},
	{"tls-client-ca", []string{kindTLS}, "tls:// listeners"},
	{"socket-mode", []string{kindUnix}, "unix: listeners"},
	{"max-connections", []string{kindTCP, kindTLS}, "tcp:// and tls:// listeners"},
	{"reuse-port", []string{kindUDP}, "UDP listeners"},
	{"readers", []string{kindUDP, kindUnix}, "UDP and unix: listeners"},
	{"receive-buffer", []string{kindUDP, kindUnix}, "UDP and unix: listeners"},
	{"max-datagram", []string{kindUDP, kindUnix}, "UDP and unix: listeners"},
	{"batch-delay", []string{kindUDP, kindUnix}, "UDP and unix: listeners"},
	{"queue", []string{kindUDP, kindUnix}, "UDP and unix: listeners"},
	{"workers", []string{kindUDP, kindUnix}, "UDP and unix: listeners"},
	{"block", []string{kindUDP, kindUnix}, "UDP and unix: listeners"},
	{"allow", []string{kindUDP, kindTCP, kindTLS}, "UDP, tcp:// and tls:// listeners (a unix socket's senders have no address: --socket-mode decides who may send)"},
	{"state-dir", []string{kindTail}, "--tail"},
	{"from-start", []string{kindTail}, "--tail"},
}

// config checks the input flags, after fs.Parse. Its error is one line,
// naming the flag.
func (f *inputFlags) config(flags *flag.FlagSet) (inputConfig, error) {
	c := inputConfig{
		stateDir: *f.stateDir, fromStart: *f.fromStart, tlsCert: *f.tlsCert, tlsKey: *f.tlsKey, tlsCA: *f.tlsCA,
		socketMode: fs.FileMode(f.socketMode), maxConnections: *f.maxConnections,
	}
	listens := f.listen
	if len(listens) == 0 && len(f.tail) == 0 {
		listens = listFlag{defaultListen}
	}
	// The same --listen twice needs no check: the second cannot bind, or
	// with port 0 or --reuse-port gets a socket of its own.
	for _, s := range listens {
		l, err := parseListen(s)
		if err != nil {
			return c, err
		}
		c.listens = append(c.listens, l)
	}
	for _, p := range f.tail {
		if p == "" {
			return c, errors.New("--tail: an empty path")
		}
		if _, err := filepath.Match(p, ""); err != nil {
			return c, fmt.Errorf("--tail %q: %v", p, err)
		}
		p = filepath.Clean(p)
		if slices.Contains(c.tails, p) {
			return c, fmt.Errorf("--tail %q is given twice", p)
		}
		c.tails = append(c.tails, p)
	}
	for _, k := range inputFlagKinds {
		if isSet(flags, k.flag) && !slices.ContainsFunc(k.kinds, c.has) {
			return c, fmt.Errorf("--%s applies to %s, and none is given", k.flag, k.what)
		}
	}
	switch {
	case c.has(kindTLS) && (c.tlsCert == "" || c.tlsKey == ""):
		return c, errors.New("a tls:// --listen needs --tls-cert and --tls-key")
	case c.maxConnections < 1 || c.maxConnections > 1<<16:
		return c, fmt.Errorf("--max-connections %d: want 1 to 65536", c.maxConnections)
	}
	return c, nil
}
