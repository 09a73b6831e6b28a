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

	"github.com/VictoriaMetrics/metrics"
	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
)

var serveUsage = `Usage: ingest serve [flags]

Receive access-log lines over UDP, count requests, bytes and status classes
per path, and serve on the HTTP address:

  /metrics       Prometheus text format: the Server's counters, the
                 Interner's, and the heap monitor's figures and trend
  /top?n=20      the paths with the most requests, as JSON (n at most 10000)
  /debug/pprof/  the Go profiler
  /healthz       "ok"

The HTTP side's memory is bounded whatever the number of clients: at most
64 connections are served at once (more wait to be accepted), and /top and
/metrics are each written by at most 2 requests at once, from a snapshot
into reused buffers; a request that waits more than a second for its turn
gets 503 with "Retry-After: 1". The same holds, without the wait, for the
profiler.

Lines are parsed as --format (combined by default), or as the nginx
log_format given with --log-format or the Apache LogFormat given with
--apache-format; a syslog header is detected per line. Paths are interned
and at most --max-paths are kept; the rest are counted
under "<other>", so memory stays bounded whatever the traffic. The per-path
counts saturate at 9223372036854775807 instead of wrapping: a count that
shows that number means at least that many. Every
--heap-interval a heap summary is logged: live heap, objects, bytes per
object, retained, RSS, goroutines, GC cycles and the trend, with the kind
of growth when there is one. On the first sign of growth, and on SIGUSR1,
a heap profile is written into --profile-dir.

The UDP port is not shared with another process unless --reuse-port is
given, to this process and to every other that binds the port: then the
kernel spreads senders over all of them (SO_REUSEPORT, Linux), by a hash
of the sender's address and port. Without it, a port held by another
process exits 2, whatever --readers says. (--readers N alone opens N
sockets of this process on the port, also with SO_REUSEPORT.)

The start-up line names the UDP and HTTP addresses, the format, the
allowed networks and the instance. --instance, by default the host name
and the UDP port, is also on ingest_build_info{version,instance} and on
each heap line: Prometheus adds its own "instance" label at scrape time;
this one names the process in logs and when metrics are pushed.

SIGINT or SIGTERM stops reading, delivers what is queued, prints the final
counts and exits 0. A bad flag, an --allow list without a network, or an
address in use exits 2.

Flags:
`

func runServe(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", serveUsage, stderr)
	listen := fs.String("listen", "127.0.0.1:5514", "UDP `address` to receive access lines on")
	httpAddr := fs.String("http", "127.0.0.1:9514", "HTTP `address` for /metrics, /top, /debug/pprof/ and /healthz")
	readers := fs.Int("readers", 1, "reader goroutines (sockets with SO_REUSEPORT on Linux)")
	receiveBuffer := fs.Int("receive-buffer", 8<<20, "socket receive buffer to ask for, in `bytes`")
	maxDatagram := fs.Int("max-datagram", 65527, "largest datagram accepted, in `bytes`; longer ones are counted as truncated")
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
	if *maxPaths <= 0 || *heapInterval <= 0 {
		return fail("--max-paths and --heap-interval must be positive")
	}

	var logger *slog.Logger
	if *logJSON {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}

	table := newPathTable(ingest.NewInterner(ingest.InternerConfig{}), *maxPaths)
	cfg := ingest.Config{
		Addr:               *listen,
		Handler:            ingest.HandlerFunc(table.add),
		Format:             format,
		Readers:            *readers,
		ReceiveBuffer:      *receiveBuffer,
		MaxDatagram:        *maxDatagram,
		QueueLength:        *queue,
		Workers:            *workers,
		BlockWhenQueueFull: *block,
		AllowedSources:     allowed,
		Logger:             logger,
	}
	srv, err := ingest.NewServer(cfg)
	if err != nil {
		return fail("%v", err)
	}
	// Without --reuse-port, a port another process holds is an error even
	// when the readers' sockets set SO_REUSEPORT among themselves: the
	// port is tried first with a socket that does not.
	if !*reusePort {
		if err := checkPortFree(*listen); err != nil {
			return fail("%v", err)
		}
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
	go func() { serveErr <- listenAndServe(ctx, srv, cfg, *reusePort) }()
	udpAddr, err := waitListening(srv, serveErr)
	if err != nil {
		httpLn.Close()
		return fail("%v", addrInUseHint(err))
	}
	if *instance == "" {
		*instance = defaultInstance(udpAddr)
	}
	monitor := heapwatch.New(heapwatch.Config{ProfileDir: *profileDir, Logger: logger})
	d := &daemon{srv: srv, table: table, monitor: monitor, logger: logger, instance: *instance,
		topGate:     newGate(heavySlots, heavyWait, responseWriteTimeout),
		metricsGate: newGate(heavySlots, heavyWait, responseWriteTimeout),
		pprofGate:   newGate(heavySlots, 0, 0),
	}
	logger.Info("serving", "udp", udpAddr.String(), "http", httpLn.Addr().String(),
		"format", format.Name(), "allow", allowText(allowed), "reuse_port", *reusePort,
		"instance", *instance, "max_paths", *maxPaths, "profile_dir", *profileDir)

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
	httpSrv.Shutdown(shutdownCtx)
	cancel()
	stopBG()
	wg.Wait()
	d.printFinal(stdout)
	return status
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

	metricsOnce sync.Once
	metrics     *serveMetrics
}

func (d *daemon) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", d.serveMetrics)
	mux.HandleFunc("GET /top", d.serveTop)
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
	d.metricsOnce.Do(func() { d.metrics = newServeMetrics(d) })
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	d.metrics.write(ws.out)
}

// logHeap logs the heap monitor's summary every interval until ctx ends.
func (d *daemon) logHeap(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.logger.Info("heap "+d.monitor.Summary(), "instance", d.instance)
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

// serveMetrics exposes the daemon's figures in the Prometheus text format.
// The values are copied from the Server, the Interner and the heap monitor
// at each scrape.
type serveMetrics struct {
	d   *daemon
	mu  sync.Mutex // one scrape at a time: the gauges read snap
	set *metrics.Set

	counters []snapCounter
	snap     metricsSnapshot
}

// metricsSnapshot holds the figures of one scrape.
type metricsSnapshot struct {
	stats  ingest.Stats
	intern ingest.InternerStats
	heap   heapwatch.Sample
	report heapwatch.Report
}

// snapCounter is a Prometheus counter set from a snapshot at each scrape.
type snapCounter struct {
	c   *metrics.Counter
	get func(*metricsSnapshot) uint64
}

func newServeMetrics(d *daemon) *serveMetrics {
	m := &serveMetrics{d: d, set: metrics.NewSet()}
	m.set.NewGauge(`ingest_build_info{version="`+promLabelValue(buildVersion())+
		`",instance="`+promLabelValue(d.instance)+`"}`, func() float64 { return 1 })
	counter := func(name string, get func(*metricsSnapshot) uint64) {
		m.counters = append(m.counters, snapCounter{m.set.NewCounter(name), get})
	}
	counter("ingest_datagrams_total", func(s *metricsSnapshot) uint64 { return s.stats.Datagrams })
	counter("ingest_bytes_total", func(s *metricsSnapshot) uint64 { return s.stats.Bytes })
	counter("ingest_lines_total", func(s *metricsSnapshot) uint64 { return s.stats.Lines })
	counter("ingest_parsed_total", func(s *metricsSnapshot) uint64 { return s.stats.Parsed })
	counter("ingest_truncated_total", func(s *metricsSnapshot) uint64 { return s.stats.Truncated })
	counter("ingest_handler_panics_total", func(s *metricsSnapshot) uint64 { return s.stats.HandlerPanics })
	counter("ingest_read_errors_total", func(s *metricsSnapshot) uint64 { return s.stats.ReadErrors })
	counter(`ingest_dropped_total{reason="queue_full"}`, func(s *metricsSnapshot) uint64 { return s.stats.DroppedQueueFull })
	counter(`ingest_dropped_total{reason="kernel"}`, func(s *metricsSnapshot) uint64 { return s.stats.DroppedKernel })
	counter(`ingest_dropped_total{reason="source"}`, func(s *metricsSnapshot) uint64 { return s.stats.DroppedSource })
	counter(`ingest_dropped_total{reason="closed"}`, func(s *metricsSnapshot) uint64 { return s.stats.DroppedClosed })
	counter("ingest_intern_hits_total", func(s *metricsSnapshot) uint64 { return s.intern.Hits })
	counter("ingest_intern_misses_total", func(s *metricsSnapshot) uint64 { return s.intern.Misses })
	counter("ingest_intern_rejected_total", func(s *metricsSnapshot) uint64 { return s.intern.Rejected })
	counter("ingest_intern_evictions_total", func(s *metricsSnapshot) uint64 { return s.intern.Evictions })
	counter("ingest_intern_too_long_total", func(s *metricsSnapshot) uint64 { return s.intern.TooLong })
	var empty ingest.Stats
	for reason := range empty.ParseErrorsByReason() {
		counter(`ingest_parse_errors_total{reason="`+reason+`"}`, func(s *metricsSnapshot) uint64 { return s.stats.ParseErrorsFor(reason) })
	}

	sn := &m.snap
	gauge := func(name string, f func() float64) { m.set.NewGauge(name, f) }
	gauge("ingest_receive_buffer_bytes", func() float64 { return float64(sn.stats.ReceiveBuffer) })
	gauge("ingest_intern_entries", func() float64 { return float64(sn.intern.Entries) })
	gauge("ingest_intern_bytes", func() float64 { return float64(sn.intern.Bytes) })
	gauge("ingest_paths", func() float64 { return float64(d.table.len()) })

	gauge("ingest_heap_live_bytes", func() float64 { return float64(sn.heap.LiveBytes) })
	gauge("ingest_heap_objects", func() float64 { return float64(sn.heap.Objects) })
	gauge("ingest_heap_bytes_per_object", func() float64 { return sn.heap.BytesPerObject() })
	gauge("ingest_heap_retained_bytes", func() float64 { return float64(sn.heap.Retained()) })
	gauge("ingest_heap_rss_bytes", func() float64 { return float64(sn.heap.RSS) })
	gauge("ingest_heap_goroutines", func() float64 { return float64(sn.heap.Goroutines) })
	gauge("ingest_heap_gc_cycles_total", func() float64 { return float64(sn.heap.GCCycles) })
	gauge("ingest_heap_live_slope_bytes_per_second", func() float64 { return sn.report.Live.Slope })
	gauge("ingest_heap_objects_slope_per_second", func() float64 { return sn.report.Objects.Slope })
	gauge("ingest_heap_retained_slope_bytes_per_second", func() float64 { return sn.report.Retained.Slope })
	gauge("ingest_heap_rss_slope_bytes_per_second", func() float64 { return sn.report.RSS.Slope })
	for g := heapwatch.Unknown; g <= heapwatch.OffHeap; g++ {
		gauge(`ingest_heap_growth{kind="`+g.String()+`"}`, func() float64 {
			if sn.report.Growth == g {
				return 1
			}
			return 0
		})
	}
	return m
}

func (m *serveMetrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.snap.stats = m.d.srv.Stats()
	m.snap.intern = m.d.table.paths.Stats()
	m.snap.heap = heapwatch.Read()
	m.snap.report = m.d.monitor.Report()
	for _, c := range m.counters {
		c.c.Set(c.get(&m.snap))
	}
	m.set.WritePrometheus(w)
	metrics.WriteProcessMetrics(w)
}
