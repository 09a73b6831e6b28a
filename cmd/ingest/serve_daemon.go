package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/forward"
	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/internal/pathtable"
	"github.com/flatheap/ingest/route"
	"github.com/flatheap/ingest/routemetrics"
)

// daemon is serve's running state: what its HTTP handlers and background
// loops share, and what it stops in order.
type daemon struct {
	cfg      serveConfig
	in       *inputs // the listeners and the tailed files
	table    *pathtable.Table
	store    *routemetrics.Store
	routes   *route.Templater
	fw       *forward.Forwarder // nil without --forward
	monitor  *heapwatch.Monitor
	logger   *slog.Logger
	instance string
	version  string
	started  time.Time

	// The gates bound the memory of the responses that grow with the
	// tables, and of the profiler's.
	topGate, metricsGate, pprofGate *gate

	httpLn  net.Listener
	httpSrv *http.Server
	stopBG  context.CancelFunc // ends the background loops
	bg      sync.WaitGroup     // the HTTP server and the background loops
}

// newDaemon builds the daemon of cfg: the route store, the path table, the
// inputs and the handlers each line goes to, the heap monitor and its
// budgets, and the HTTP listener. Nothing runs yet. Its error is one line.
func newDaemon(cfg serveConfig, stderr io.Writer) (*daemon, error) {
	if err := checkProfileDir(cfg.profileDir); err != nil {
		return nil, err
	}
	store, err := newRouteStore(cfg.routeMetrics)
	if err != nil {
		return nil, err
	}
	var logger *slog.Logger
	if cfg.logJSON {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	table, err := pathtable.New(cfg.maxPaths)
	if err != nil {
		return nil, fmt.Errorf("--max-paths: %w", err)
	}
	fw, err := newForwarder(&cfg, logger)
	if err != nil {
		return nil, err
	}
	built := false
	defer func() {
		if !built && fw != nil {
			fw.Close()
		}
	}()
	// Each line counts in the path table (/top) and in the route metrics,
	// and goes to the forwarder, in this order, on the goroutine that
	// parsed it: one parse feeds them all.
	handlers := lineHandlers{table, store}
	if fw != nil {
		handlers = append(handlers, fw)
	}
	in, err := newInputs(&cfg, handlers, logger)
	if err != nil {
		return nil, err
	}
	monitor := heapwatch.New(heapwatch.Config{ProfileDir: cfg.profileDir, Logger: logger})
	if err := trackBudgets(monitor, in, table, store, cfg.queue > 0); err != nil {
		return nil, err
	}
	if fw != nil {
		// The batches in flight, against --forward-buffer.
		if err := monitor.Track("forward", fw.Usage); err != nil {
			return nil, err
		}
	}
	httpLn, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return nil, err
	}
	built = true
	return &daemon{
		cfg: cfg, in: in, table: table, store: store, routes: cfg.routeMetrics.Routes, fw: fw,
		monitor: monitor, logger: logger, instance: cfg.instance,
		version: buildVersion(), started: time.Now(),
		topGate:     newGate(heavySlots, heavyWait, responseWriteTimeout),
		metricsGate: newGate(heavySlots, heavyWait, responseWriteTimeout),
		pprofGate:   newGate(heavySlots, 0, 0),
		httpLn:      httpLn,
	}, nil
}

// lineHandlers hands each line to every handler in turn.
type lineHandlers []ingest.Handler

func (hs lineHandlers) ServeLine(r *ingest.Request) {
	for _, h := range hs {
		h.ServeLine(r)
	}
}

// start starts the inputs until ctx ends, and once every address is bound,
// logs the start-up line and starts the HTTP server and the background
// loops. When an address cannot be bound it closes what newDaemon opened
// and returns the error.
func (d *daemon) start(ctx context.Context) error {
	if err := d.in.start(ctx); err != nil {
		d.httpLn.Close()
		if d.fw != nil {
			d.fw.Close()
		}
		return err
	}
	if d.instance == "" {
		d.instance = d.in.instance()
	}
	cfg := &d.cfg
	// udp first and http next, then the other inputs.
	attrs := append(d.in.startAttrs(kindUDP), "http", d.httpLn.Addr().String())
	for _, k := range []string{kindUnix, kindTCP, kindTLS} {
		attrs = append(attrs, d.in.startAttrs(k)...)
	}
	attrs = append(attrs, d.forwardAttrs()...)
	d.logger.Info("serving", append(append(attrs, d.in.tailAttrs()...),
		"format", cfg.format.Name(), "allow", allowText(cfg.allow), "reuse_port", cfg.reusePort,
		"batch_delay", cfg.batchDelay.String(),
		"instance", d.instance, "max_paths", cfg.maxPaths, "routes", len(d.routes.Patterns()),
		"auto_routes", cfg.autoRoutes, "max_series", cfg.routeMetrics.MaxSeries,
		"series_idle", cfg.routeMetrics.SeriesIdle.String(), "admit_after", cfg.routeMetrics.AdmitAfter,
		"admit_window", cfg.routeMetrics.AdmitWindow.String(), "eviction", !cfg.routeMetrics.NoEviction,
		"collapse_unmatched", statusesText(cfg.routeMetrics.CollapseUnmatched), "profile_dir", cfg.profileDir)...)

	d.httpSrv = newHTTPServer(d.mux())
	httpLn := newLimitListener(d.httpLn, maxHTTPConns)
	d.bg.Go(func() {
		if err := d.httpSrv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			d.logger.Error("http server stopped", "err", err)
		}
	})
	bg, stopBG := context.WithCancel(context.Background())
	d.stopBG = stopBG
	d.bg.Go(func() { d.monitor.Run(bg) })
	d.bg.Go(func() { d.logHeap(bg, cfg.heapInterval) })
	expiry := expiryInterval(cfg.routeMetrics.SeriesIdle, cfg.routeMetrics.AdmitWindow)
	d.bg.Go(func() { d.expireRoutes(bg.Done(), expiry) })
	return nil
}

// wait writes a heap profile on each SIGUSR1 until the inputs stop, which
// they do once ctx ends and they have delivered what was queued and
// written their checkpoints, or when one stops on an error. Then it stops
// the HTTP server and the background loops, prints the final counts to
// stdout and returns the exit status: 1 when an input stopped on an error.
func (d *daemon) wait(stdout io.Writer) int {
	stopProfiles := d.monitor.ProfileOnSignal(syscall.SIGUSR1)
	defer stopProfiles()
	status := 0
	if d.in.wait() != nil {
		status = 1 // logged by wait
	}
	// Every line is handed over: the sinks get what is left.
	d.stopForward()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if d.httpSrv.Shutdown(shutdownCtx) != nil {
		// A request still running after the grace period (a long
		// profile, a client that does not read) is cut off, so that no
		// handler outlives the daemon's stop.
		d.httpSrv.Close()
	}
	cancel()
	d.stopBG()
	d.bg.Wait()
	d.printFinal(stdout)
	return status
}

// trackBudgets registers serve's bounded structures with the heap monitor,
// so that it tells them filling from a leak: the inputs' (see
// inputs.track), the path table and the route-metric store.
func trackBudgets(m *heapwatch.Monitor, in *inputs, table *pathtable.Table, store *routemetrics.Store, queue bool) error {
	errs := []error{
		in.track(m, queue),
		// The table's keys are its own copies, in its budget.
		m.Track("paths", table.Usage),
		m.Track("routes", func() heapwatch.Usage {
			st := store.Stats()
			return heapwatch.Usage{
				Bytes: st.Bytes, LimitBytes: st.LimitBytes,
				Entries: int64(st.Series), LimitEntries: int64(st.Limit),
				Refused: st.Overflows,
			}
		}),
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
	st := d.in.totals()
	fmt.Fprintf(w, "datagrams %d\nbytes %d\nlines %d\nparsed %d\nparse_errors %d\ntruncated %d\n",
		st.Datagrams, st.Bytes, st.Lines, st.Parsed, st.ParseErrors, st.Truncated)
	fmt.Fprintf(w, "dropped_queue_full %d\ndropped_kernel %d\ndropped_source %d\ndropped_closed %d\nhandler_panics %d\npaths %d\n",
		st.DroppedQueueFull, st.DroppedKernel, st.DroppedSource, st.DroppedClosed, st.HandlerPanics, d.table.Len())
	d.in.printFinal(w)
	d.printForwardFinal(w)
}

// checkProfileDir creates dir when it is missing and checks that heap
// profiles can be written into it, so that a bad --profile-dir stops serve
// at start, not when the first profile is due. "" writes no profiles. Its
// error is one line naming the flag.
func checkProfileDir(dir string) error {
	if dir == "" {
		return nil
	}
	// The cause alone: the flag's value is named once.
	cause := func(err error) error {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			return pe.Err
		}
		return err
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("--profile-dir %q: not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--profile-dir %q: cannot create it: %v", dir, cause(err))
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("--profile-dir %q: cannot write into it: %v", dir, cause(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}
