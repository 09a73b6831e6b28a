package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/routemetrics"
)

var serveUsage = `Usage: ingest serve [flags]

Receive access-log lines on each --listen address (UDP by default, unix
datagram sockets, syslog over TCP or TLS) and from the files each --tail
follows, parse them as --format, keep per-route request metrics within a
series budget and per-path counts within a path budget, and serve them on
the HTTP address; with --forward, ship every parsed line to log stores or
Kafka too:

  /metrics       Prometheus text format: the route metrics (http_*), the
                 receiver's counters, the heap monitor's figures and the
                 budgets it tracks, the --forward sinks' (ingest_forward_*)
  /routes?path=/users/123/orders[&method=GET]
                 the route a path maps to, and the rule that made it (JSON)
  /series?path=/users/123/orders[&method=GET][&vhost=shop]  (or route=...)
                 whether that route has series of its own, its estimated
                 frequency, and why: pattern, admitted, unadmitted,
                 overflow or evicted (JSON)
  /top?n=20      the paths with the most requests (JSON; n at most 10000)
  /debug/pprof/  the Go profiler (seconds=N at most 60)
  /healthz       "ok"

A route gets series of its own on its second line within --admit-window
(--admit-after), or on its first when a --route pattern made it; until then
its lines count under route {unadmitted}, so that a scanner's flood of paths
seen once takes no series. When --max-series is full, a route seen more
often than the coldest route held takes its place (--no-eviction: never);
the rest count under {overflow}. Every line counts in exactly one series.

Without --listen or --tail, serve listens on UDP 127.0.0.1:5514; with
--tail alone it opens no socket. A heap summary is logged every
--heap-interval. SIGINT or SIGTERM stops the inputs, delivers what is
queued, writes the tail checkpoints, lets the --forward sinks take what is
in flight (for --forward-grace), prints the final counts (in all, then per
input and per sink) and exits 0;
SIGUSR1 writes a heap profile into --profile-dir. A bad flag, route
pattern, routes file or bucket list, a bad --forward URL, or an address in
use, exits 2 with one line that names it.

Flags:
`

// serveManual follows the flags in serve's usage.
const serveManual = `
The manual (nginx set-up, inputs, routes, PromQL, memory and HTTP bounds,
scaling out): docs/serve.md in the source repository,
https://github.com/flatheap/ingest/blob/main/docs/serve.md
`

func runServe(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", serveUsage, stderr)
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		io.WriteString(fs.Output(), serveManual)
	}
	flags := addServeFlags(fs)
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	fail := usageFailer(fs)
	cfg, err := flags.config(fs)
	if err != nil {
		return fail("%v", err)
	}
	d, err := newDaemon(cfg, stderr)
	if err != nil {
		return fail("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// An address that cannot be bound is a usage error, like a bad flag.
	if err := d.start(ctx); err != nil {
		return fail("%v", err)
	}
	return d.wait(stdout)
}

// serveConfig is what serve's flags ask for, checked: newDaemon builds the
// daemon from it.
type serveConfig struct {
	inputs    inputConfig // --listen, --tail and their settings
	httpAddr  string
	allow     []netip.Prefix
	reusePort bool
	instance  string // "": the host name and the first listener's port

	// The Server's configuration.
	readers, receiveBuffer, maxDatagram int
	batchDelay                          time.Duration
	format                              *ingest.Format
	queue, workers                      int
	block                               bool

	maxPaths     int // the path table's (/top) budget
	routeMetrics routemetrics.Config
	autoRoutes   bool

	heapInterval time.Duration
	profileDir   string
	logJSON      bool

	forward forwardConfig // --forward and its settings
}

// serveFlags are serve's flags, as fs.Parse fills them.
type serveFlags struct {
	inputs                                *inputFlags
	httpAddr, allow, instance, profileDir *string
	readers, receiveBuffer, maxDatagram   *int
	queue, workers, maxPaths              *int
	block, reusePort, logJSON             *bool
	heapInterval, batchDelay              *time.Duration
	format                                *formatFlags
	routes                                *routeFlags
	forward                               *forwardFlags
}

func addServeFlags(fs *flag.FlagSet) *serveFlags {
	return &serveFlags{
		inputs:        addInputFlags(fs),
		httpAddr:      fs.String("http", "127.0.0.1:9514", "HTTP `address` for /metrics, /routes, /series, /top, /debug/pprof/ and /healthz"),
		readers:       fs.Int("readers", 1, "reader goroutines; they share one socket, or have one each with --reuse-port"),
		receiveBuffer: fs.Int("receive-buffer", 8<<20, "socket receive buffer to ask for, in `bytes`"),
		maxDatagram:   fs.Int("max-datagram", 65527, "largest datagram accepted, in `bytes`; longer ones are counted as truncated"),
		batchDelay:    fs.Duration("batch-delay", 100*time.Millisecond, "UDP and unix: after a read that found less than a batch, wait this long before reading again (at most 1s; see docs/serve.md, Batching)"),
		format:        addFormatFlags(fs),
		queue:         fs.Int("queue", 0, "datagrams queued between readers and workers; 0 handles lines on the readers"),
		workers:       fs.Int("workers", 0, "worker goroutines when --queue is set (default 1)"),
		block:         fs.Bool("block", false, "when the queue is full, wait instead of dropping"),
		maxPaths:      fs.Int("max-paths", 10000, "distinct paths kept; the others are counted under <other>"),
		allow:         fs.String("allow", "", "comma-separated source `networks` allowed (CIDR or address) on UDP, tcp:// and tls:// listeners; not given allows all"),
		reusePort:     fs.Bool("reuse-port", false, "share the UDP port with other processes that pass --reuse-port too (SO_REUSEPORT, Linux)"),
		instance:      fs.String("instance", "", "`name` of this process on ingest_build_info and the heap line (default host name:UDP port)"),
		heapInterval:  fs.Duration("heap-interval", 5*time.Second, "time between heap summary lines"),
		profileDir:    fs.String("profile-dir", filepath.Join(os.TempDir(), "ingest-heap"), "`directory` for heap profiles"),
		logJSON:       fs.Bool("log-json", false, "log in JSON instead of text"),
		routes:        addRouteFlags(fs),
		forward:       addForwardFlags(fs),
	}
}

// config checks the flags, after fs.Parse, and returns what they ask for.
// Its error is one line, naming the flag.
func (f *serveFlags) config(fs *flag.FlagSet) (serveConfig, error) {
	cfg := serveConfig{
		httpAddr: *f.httpAddr, reusePort: *f.reusePort, instance: *f.instance,
		readers: *f.readers, receiveBuffer: *f.receiveBuffer, maxDatagram: *f.maxDatagram,
		batchDelay: *f.batchDelay,
		queue:      *f.queue, workers: *f.workers, block: *f.block, maxPaths: *f.maxPaths,
		heapInterval: *f.heapInterval, profileDir: *f.profileDir, logJSON: *f.logJSON,
		autoRoutes: !*f.routes.noAuto,
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.format, err = f.format.format(); err != nil {
		return cfg, err
	}
	if cfg.allow, err = parsePrefixes(*f.allow); err != nil {
		return cfg, fmt.Errorf("--allow: %v", err)
	}
	if len(cfg.allow) == 0 && isSet(fs, "allow") {
		return cfg, fmt.Errorf("--allow %q names no network; leave --allow out to allow every source", *f.allow)
	}
	if cfg.inputs, err = f.inputs.config(fs); err != nil {
		return cfg, err
	}
	if cfg.reusePort && !reusePortSupported {
		return cfg, errors.New("--reuse-port needs Linux")
	}
	if cfg.maxPaths <= 0 || cfg.heapInterval <= 0 || cfg.readers <= 0 || cfg.maxDatagram <= 0 {
		return cfg, errors.New("--max-paths, --heap-interval, --readers and --max-datagram must be positive")
	}
	if cfg.batchDelay < 0 || cfg.batchDelay > time.Second {
		return cfg, errors.New("--batch-delay must be from 0 to 1s")
	}
	if cfg.forward, err = f.forward.config(fs); err != nil {
		return cfg, err
	}
	cfg.routeMetrics, err = f.routes.config()
	return cfg, err
}

// parsePrefixes parses a comma-separated list of CIDR prefixes; a bare
// address is taken as a single-address prefix.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
