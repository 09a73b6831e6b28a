package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/route"
	"github.com/flatheap/ingest/routemetrics"
)

var serveUsage = `Usage: ingest serve [flags]

Receive access-log lines over UDP, keep per-route request metrics and
per-path counts, and serve on the HTTP address:

  /metrics       Prometheus text format: the route metrics (http_*), the
                 Server's and the Interner's counters, the heap monitor's
                 figures, trend and verdict, and the budgets it tracks
  /routes?path=/users/123/orders[&method=GET]
                 the route a path maps to and the rule or classes that
                 made it, as JSON
  /top?n=20      the raw paths with the most requests, as JSON (n at most
                 10000)
  /debug/pprof/  the Go profiler
  /healthz       "ok"

Lines are parsed as --format (combined by default), or as the nginx
log_format given with --log-format or the Apache LogFormat given with
--apache-format; a syslog header is detected per line.

Route metrics. Each line's path becomes a route: the first --route
pattern that matches (net/http.ServeMux syntax, "GET /users/{id}",
"/static/{file...}"; --route patterns first, in order, then the --routes
file's), else the path with numbers, UUIDs, long hex strings, opaque
tokens and e-mail addresses replaced by {id} {uuid} {hex} {token} {email}
(unless --no-auto-routes). The same path gives the same route in every
process with the same flags, so instances can be summed. Per (vhost,
route, method, status) serve counts requests, response bytes and request
bytes ($request_length), and per status class it keeps histograms of
$request_time and $upstream_response_time (a list of attempts is summed;
"-" observes nothing) with --buckets. The vhost is $host when logged,
else --vhost ("tag": the syslog tag). At most --max-series keys are kept:
past that, new keys count under the route "{overflow}", so the totals stay
exact; a key idle for --series-idle is removed. A line whose
$request_time is not a time fails to parse (ingest_parse_errors_total);
a bad upstream time or request length is counted in
ingest_route_value_errors_total and the line counted without it.

Per-path counts (/top). Paths are interned and at most --max-paths are
kept; the rest are counted under "<other>", so memory stays bounded
whatever the traffic. These counts saturate at 9223372036854775807
instead of wrapping: a count that shows that number means at least that
many.

The HTTP side's memory is bounded whatever the number of clients: at most
64 connections are served at once (more wait to be accepted), and /top and
/metrics are each written by at most 2 requests at once, from a snapshot
into reused buffers; a request that waits more than a second for its turn
gets 503 with "Retry-After: 1". The same holds, without the wait, for the
profiler.

Every --heap-interval a heap summary is logged: live heap, objects, bytes
per object, retained, RSS, goroutines, GC cycles and the trend, with the
kind of growth when there is one. The Interner, the path table and the
route store are tracked budgets: growth they explain below their limits
is reported as filling, not as a leak. On the first sign of growth, and
on SIGUSR1, a heap profile is written into --profile-dir.

The UDP port is not shared with another process unless --reuse-port is
given, to this process and to every other that binds the port: then the
kernel spreads senders over all of them (SO_REUSEPORT, Linux), by a hash
of the sender's address and port. Without it, a port held by another
process exits 2, whatever --readers says. --readers N alone reads one
socket with N goroutines; with --reuse-port each reader has its own
socket in the group.

The start-up line names the UDP and HTTP addresses, the format, the
allowed networks and the instance. --instance, by default the host name
and the UDP port, is also on ingest_build_info{version,instance} and on
each heap line: Prometheus adds its own "instance" label at scrape time;
this one names the process in logs and when metrics are pushed.

Batching. After a read that found fewer datagrams than a batch (16), the
reader waits --batch-delay before it reads again, so that one wake-up
reads every datagram that arrived meanwhile: at low rates the wake-up per
datagram costs more CPU than the line. A line may then wait up to
--batch-delay (plus the time to handle the lines read before it) before
it is counted, which Prometheus, scraping every few seconds, does not
see; a full read never waits, so the capacity is unchanged. Meanwhile the
socket's receive buffer holds what arrives: rate x delay x (datagram size
+ about 500 bytes), in the units of --receive-buffer. A wait is cut short
when, at the rate the reader has been reading, it would fill more than an
eighth of the buffer, and a warning at start-up says when the buffer holds
less than a batch of --max-datagram datagrams. --batch-delay 0 reads again
at once.

SIGINT or SIGTERM stops reading, delivers what is queued, prints the final
counts and exits 0. A bad flag, an --allow list without a network, a bad
route pattern, routes file or bucket list (the line names the flag, or the
file and line), or an address in use exits 2.

Flags:
`

func runServe(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", serveUsage, stderr)
	listen := fs.String("listen", "127.0.0.1:5514", "UDP `address` to receive access lines on")
	httpAddr := fs.String("http", "127.0.0.1:9514", "HTTP `address` for /metrics, /routes, /top, /debug/pprof/ and /healthz")
	readers := fs.Int("readers", 1, "reader goroutines; they share one socket, or have one each with --reuse-port")
	receiveBuffer := fs.Int("receive-buffer", 8<<20, "socket receive buffer to ask for, in `bytes`")
	maxDatagram := fs.Int("max-datagram", 65527, "largest datagram accepted, in `bytes`; longer ones are counted as truncated")
	batchDelay := fs.Duration("batch-delay", 100*time.Millisecond, "after a read that found less than a batch, wait this long before reading again (see Batching; at most 1s)")
	formatFlags := addFormatFlags(fs)
	queue := fs.Int("queue", 0, "datagrams queued between readers and workers; 0 handles lines on the readers")
	workers := fs.Int("workers", 0, "worker goroutines when --queue is set (default 1)")
	block := fs.Bool("block", false, "when the queue is full, wait instead of dropping")
	maxPaths := fs.Int("max-paths", 10000, "distinct paths kept; the others are counted under <other>")
	allow := fs.String("allow", "", "comma-separated source `networks` allowed (CIDR or address); not given allows all")
	reusePort := fs.Bool("reuse-port", false, "share the UDP port with other processes that pass --reuse-port too (SO_REUSEPORT, Linux)")
	instance := fs.String("instance", "", "`name` of this process on ingest_build_info and the heap line (default host name:UDP port)")
	heapInterval := fs.Duration("heap-interval", 5*time.Second, "time between heap summary lines")
	profileDir := fs.String("profile-dir", filepath.Join(os.TempDir(), "ingest-heap"), "`directory` for heap profiles")
	logJSON := fs.Bool("log-json", false, "log in JSON instead of text")
	routeFlags := addRouteFlags(fs)
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	fail := usageFailer(fs)
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	format, err := formatFlags.format()
	if err != nil {
		return fail("%v", err)
	}
	allowed, err := parsePrefixes(*allow)
	if err != nil {
		return fail("--allow: %v", err)
	}
	if len(allowed) == 0 && isSet(fs, "allow") {
		return fail("--allow %q names no network; leave --allow out to allow every source", *allow)
	}
	if *reusePort && !reusePortSupported {
		return fail("--reuse-port needs Linux")
	}
	if *maxPaths <= 0 || *heapInterval <= 0 || *readers <= 0 || *maxDatagram <= 0 {
		return fail("--max-paths, --heap-interval, --readers and --max-datagram must be positive")
	}
	if *batchDelay < 0 || *batchDelay > time.Second {
		return fail("--batch-delay must be from 0 to 1s")
	}
	routes, store, err := routeFlags.store()
	if err != nil {
		return fail("%v", err)
	}

	var logger *slog.Logger
	if *logJSON {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}

	table := newPathTable(ingest.NewInterner(serveInterner), *maxPaths)
	// Each line counts in the path table (/top) and in the route metrics.
	handler := ingest.HandlerFunc(func(r *ingest.Request) {
		table.add(r)
		store.ServeLine(r)
	})
	cfg := ingest.Config{
		Addr:               *listen,
		Handler:            handler,
		Format:             format,
		Readers:            *readers,
		ReceiveBuffer:      *receiveBuffer,
		MaxDatagram:        *maxDatagram,
		BatchDelay:         *batchDelay,
		QueueLength:        *queue,
		Workers:            *workers,
		BlockWhenQueueFull: *block,
		AllowedSources:     allowed,
		// Without it the readers share one socket, and a port another
		// process holds is an error whatever --readers says.
		ReusePort: *reusePort,
		Logger:    logger,
	}
	srv, err := ingest.NewServer(cfg)
	if err != nil {
		return fail("%v", err)
	}
	monitor := heapwatch.New(heapwatch.Config{ProfileDir: *profileDir, Logger: logger})
	if err := trackBudgets(monitor, srv, table, store, *queue > 0); err != nil {
		return fail("%v", err)
	}
	httpLn, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return fail("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The Server fails at once when the address cannot be bound: that is a
	// usage error, like a bad flag.
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe(ctx) }()
	udpAddr, err := waitListening(srv, serveErr)
	if err != nil {
		httpLn.Close()
		return fail("%v", addrInUseHint(err))
	}
	if *instance == "" {
		*instance = defaultInstance(udpAddr)
	}
	d := &daemon{srv: srv, table: table, monitor: monitor, logger: logger, instance: *instance,
		store: store, routes: routes, version: buildVersion(), started: time.Now(),
		topGate:     newGate(heavySlots, heavyWait, responseWriteTimeout),
		metricsGate: newGate(heavySlots, heavyWait, responseWriteTimeout),
		pprofGate:   newGate(heavySlots, 0, 0),
	}
	logger.Info("serving", "udp", udpAddr.String(), "http", httpLn.Addr().String(),
		"format", format.Name(), "allow", allowText(allowed), "reuse_port", *reusePort, "batch_delay", batchDelay.String(),
		"instance", *instance, "max_paths", *maxPaths, "routes", len(routes.Patterns()),
		"auto_routes", !*routeFlags.noAuto, "max_series", *routeFlags.maxSeries,
		"series_idle", routeFlags.seriesIdle.String(), "profile_dir", *profileDir)

	var wg sync.WaitGroup
	httpSrv := newHTTPServer(d.mux())
	httpLn = newLimitListener(httpLn, maxHTTPConns)
	wg.Go(func() {
		if err := httpSrv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server stopped", "err", err)
		}
	})
	bg, stopBG := context.WithCancel(context.Background())
	wg.Go(func() { monitor.Run(bg) })
	wg.Go(func() { d.logHeap(bg, *heapInterval) })
	wg.Go(func() { d.expireRoutes(bg.Done(), expiryInterval(*routeFlags.seriesIdle)) })
	stopProfiles := monitor.ProfileOnSignal(syscall.SIGUSR1)
	defer stopProfiles()

	// ListenAndServe returns once it has stopped reading and delivered what
	// was queued.
	status := 0
	if err := <-serveErr; !errors.Is(err, context.Canceled) && !errors.Is(err, ingest.ErrServerClosed) {
		logger.Error("receiving stopped", "err", err)
		status = 1
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if httpSrv.Shutdown(shutdownCtx) != nil {
		// A request still running after the grace period (a long
		// profile, a client that does not read) is cut off, so that no
		// handler outlives the daemon's stop.
		httpSrv.Close()
	}
	cancel()
	stopBG()
	wg.Wait()
	d.printFinal(stdout)
	return status
}

// serveInterner bounds the path table's Interner: the library's defaults,
// with MaxLen written out so that the path table's budget can use it.
var serveInterner = ingest.InternerConfig{MaxLen: 512}

// Estimates of the heap bytes beyond what the structures count themselves.
const (

	// serveInternerSlack is what a stored value costs beyond its length:
	// the Interner's 2 bytes and the rounding up to a size class.
	serveInternerSlack = 32
	// servePathEntryBytes is what a path table entry costs beyond its
	// interned key: the 64-byte pathStat and a map slot (a string and a
	// pointer) at as little as half load after the map grew.
	servePathEntryBytes = 64 + 2*(16+8+1)
)

// trackBudgets registers serve's bounded structures with the heap monitor,
// so that it tells them filling from a leak: the readers' receive buffers,
// the queue (with --queue), the Interner, the path table and the
// route-metric store.
func trackBudgets(m *heapwatch.Monitor, srv *ingest.Server, table *pathTable, store *routemetrics.Store, queue bool) error {
	errs := []error{
		m.Track("receive_buffers", func() heapwatch.Usage {
			// Allocated when serving starts, fixed from then on.
			n := int64(srv.Stats().ReadBufferBytes)
			return heapwatch.Usage{Bytes: n, LimitBytes: n}
		}),
		m.Track("interner", func() heapwatch.Usage {
			st := table.paths.Stats()
			return heapwatch.Usage{
				Bytes:        int64(st.Bytes) + serveInternerSlack*int64(st.Entries),
				LimitBytes:   int64(st.MaxBytes) + serveInternerSlack*int64(st.MaxEntries),
				Entries:      int64(st.Entries),
				LimitEntries: int64(st.MaxEntries),
				Refused:      st.Evictions,
			}
		}),
		// The table's keys are counted here only once the Interner has
		// evicted them; while it stores them they are in its budget.
		m.Track("paths", func() heapwatch.Usage {
			n, keyBytes := table.usage()
			perKey := int64(servePathEntryBytes + serveInternerSlack)
			return heapwatch.Usage{
				Bytes:        int64(n)*perKey + keyBytes,
				LimitBytes:   int64(table.maxPaths) * (perKey + int64(serveInterner.MaxLen)),
				Entries:      int64(n),
				LimitEntries: int64(table.maxPaths),
			}
		}),
		m.Track("routes", func() heapwatch.Usage {
			st := store.Stats()
			return heapwatch.Usage{
				Bytes: st.Bytes, LimitBytes: st.LimitBytes,
				Entries: int64(st.Series), LimitEntries: int64(st.Limit),
				Refused: st.Overflows,
			}
		}),
	}
	if queue {
		errs = append(errs, m.Track("queue", func() heapwatch.Usage {
			st := srv.Stats()
			return heapwatch.Usage{
				Bytes: int64(st.QueueBytes), LimitBytes: int64(st.QueueMaxBytes),
				Entries: int64(st.QueueDatagrams), Refused: st.DroppedQueueFull,
			}
		}))
	}
	return errors.Join(errs...)
}

// waitListening waits until srv has bound its address, and returns it, or
// returns the error ListenAndServe ended with.
func waitListening(srv *ingest.Server, serveErr <-chan error) (net.Addr, error) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		if a := srv.LocalAddr(); a != nil {
			return a, nil
		}
		select {
		case err := <-serveErr:
			return nil, err
		case <-tick.C:
		}
	}
}

// daemon is what serve's HTTP handlers and background loops share.
type daemon struct {
	srv      *ingest.Server
	table    *pathTable
	monitor  *heapwatch.Monitor
	logger   *slog.Logger
	instance string

	// The gates bound the memory of the responses that grow with the
	// tables, and of the profiler's.
	topGate, metricsGate, pprofGate *gate

	store   *routemetrics.Store
	routes  *route.Templater
	version string
	started time.Time
}

func (d *daemon) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", d.serveMetrics)
	mux.HandleFunc("GET /top", d.serveTop)
	mux.HandleFunc("GET /routes", d.serveRoutes)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/debug/pprof/", d.gated(pprof.Index))
	mux.HandleFunc("/debug/pprof/cmdline", d.gated(pprof.Cmdline))
	mux.HandleFunc("/debug/pprof/profile", d.gated(pprof.Profile))
	mux.HandleFunc("/debug/pprof/symbol", d.gated(pprof.Symbol))
	mux.HandleFunc("/debug/pprof/trace", d.gated(pprof.Trace))
	return mux
}

// gated runs h when the profiler's gate has a free slot, and answers 503
// otherwise.
func (d *daemon) gated(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ws := d.pprofGate.acquire(w, r); ws != nil {
			defer d.pprofGate.release(ws)
			h(w, r)
		}
	}
}

// maxTop bounds /top's n.
const maxTop = 10000

func (d *daemon) serveTop(w http.ResponseWriter, r *http.Request) {
	n := 20
	if s := r.URL.Query().Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > maxTop {
			http.Error(w, fmt.Sprintf("n must be a number from 0 to %d", maxTop), http.StatusBadRequest)
			return
		}
		n = v
	}
	ws := d.topGate.acquire(w, r)
	if ws == nil {
		return
	}
	defer d.topGate.release(ws)
	rows, other := d.table.snapshot(ws.rows)
	ws.rows = rows
	w.Header().Set("Content-Type", "application/json")
	ws.out.WriteString("[\n")
	first := true
	for i := range rows[:min(n, len(rows))] {
		ws.line = appendTopRow(ws.line[:0], rows[i].path, &rows[i].pathStat, first)
		first = false
		if _, err := ws.out.Write(ws.line); err != nil {
			return // the client went away
		}
	}
	if other.Requests > 0 {
		ws.line = appendTopRow(ws.line[:0], otherPath, &other, first)
		ws.out.Write(ws.line)
	}
	ws.out.WriteString("\n]\n")
}

func (d *daemon) serveMetrics(w http.ResponseWriter, r *http.Request) {
	ws := d.metricsGate.acquire(w, r)
	if ws == nil {
		return
	}
	defer d.metricsGate.release(ws)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	p := promWriter{w: ws.out, buf: ws.line[:0]}
	d.writeMetrics(&p)
	ws.line = p.buf
	d.store.WritePrometheus(ws.out)
}

// logHeap logs the heap monitor's summary every interval until ctx ends.
func (d *daemon) logHeap(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		d.logger.Info("heap "+d.monitor.Summary(), "instance", d.instance)
	})
}

// every calls f every interval until ctx ends; it returns when ctx ends.
func every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// printFinal writes the final counts, one "name value" per line.
func (d *daemon) printFinal(w io.Writer) {
	st := d.srv.Stats()
	fmt.Fprintf(w, "datagrams %d\nbytes %d\nlines %d\nparsed %d\nparse_errors %d\ntruncated %d\n",
		st.Datagrams, st.Bytes, st.Lines, st.Parsed, st.ParseErrors, st.Truncated)
	fmt.Fprintf(w, "dropped_queue_full %d\ndropped_kernel %d\ndropped_source %d\ndropped_closed %d\nhandler_panics %d\npaths %d\n",
		st.DroppedQueueFull, st.DroppedKernel, st.DroppedSource, st.DroppedClosed, st.HandlerPanics, d.table.len())
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
