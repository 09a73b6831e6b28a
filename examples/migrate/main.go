// Command migrate is the ingest layer of a log daemon after its migration
// to this library: it receives nginx access lines over UDP syslog, parses
// each one, keeps per-path state, and logs what its heap does.
//
// The daemon it replaces (examples/migrate/before) read each datagram
// into a 64 KiB buffer, made a string of it, split it into a struct of
// strings, and counted per path in a map keyed by those strings: with
// 2 KiB paths, half of them never seen before, its heap grew forever.
// Here the Server reads into fixed buffers and parses each line into a
// reused Request of views, without allocating; a keyed.Table keeps the
// per-path state within fixed budgets, counting the paths it has no room
// for under other; and a heapwatch.Monitor, told about the table's budget,
// says every few seconds whether the heap grows and why.
//
//	go run ./examples/migrate --listen 127.0.0.1:5514 &
//	go run ./cmd/ingest send --rate 1500 --duration 60s --path-length 2048 \
//	    --paths 1000 --unique 0.5 --syslog 3164
//
// On SIGINT or SIGTERM it stops receiving, and writes its counts and its
// ten busiest paths to stdout.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/keyed"
)

// pathStats is the state kept per path.
type pathStats struct {
	Requests, Bytes, ServerErrors int64
}

// add counts r.
func (s *pathStats) add(r *ingest.Request) {
	s.Requests++
	s.Bytes += r.BodyBytesSent
	if r.Status >= 500 {
		s.ServerErrors++
	}
}

// merge adds o to s: how the table folds a path it evicts into other.
func (s *pathStats) merge(o *pathStats) {
	s.Requests += o.Requests
	s.Bytes += o.Bytes
	s.ServerErrors += o.ServerErrors
}

// config is what the flags set.
type config struct {
	listen    string
	maxPaths  int
	heapEvery time.Duration
}

// daemon is the ingest layer: the Server, the per-path table, and the heap
// monitor that watches them.
type daemon struct {
	srv     *ingest.Server
	paths   *keyed.Table[pathStats]
	monitor *heapwatch.Monitor
	log     *slog.Logger
	every   time.Duration
}

func newDaemon(cfg config, log *slog.Logger) (*daemon, error) {
	paths, err := keyed.New(keyed.Config[pathStats]{MaxEntries: cfg.maxPaths, Merge: (*pathStats).merge})
	if err != nil {
		return nil, err
	}
	srv, err := ingest.NewServer(ingest.Config{
		Addr: cfg.listen,
		Handler: ingest.HandlerFunc(func(r *ingest.Request) {
			// r and its slices are valid only during the call: the table
			// copies a path it keeps.
			paths.Update(r.Path, func(s *pathStats) { s.add(r) })
		}),
		Logger: log,
		OnBadLine: func(line []byte, from netip.AddrPort, err error) {
			log.Warn("bad line", "from", from.String(), "reason", ingest.ErrorReason(err), "line", string(line[:min(len(line), 200)]))
		},
	})
	if err != nil {
		return nil, err
	}
	// ForceGC: a daemon this quiet collects too rarely for a verdict.
	monitor := heapwatch.New(heapwatch.Config{Logger: log, ForceGC: -1})
	if err := monitor.Track("paths", paths.Usage); err != nil {
		return nil, err
	}
	if err := monitor.Track("receive_buffers", func() heapwatch.Usage {
		n := int64(srv.Stats().ReadBufferBytes) // allocated once serving starts
		return heapwatch.Usage{Bytes: n, LimitBytes: n}
	}); err != nil {
		return nil, err
	}
	return &daemon{srv: srv, paths: paths, monitor: monitor, log: log, every: cfg.heapEvery}, nil
}

// run receives until ctx ends, logging the heap monitor's summary every
// d.every, then delivers what was received and returns.
func (d *daemon) run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- d.srv.ListenAndServe(ctx) }() // until ctx ends; then it delivers what it read
	var bg sync.WaitGroup
	bgCtx, stop := context.WithCancel(context.Background())
	defer func() {
		stop()
		bg.Wait()
	}()
	bg.Go(func() { d.monitor.Run(bgCtx) })
	bg.Go(func() {
		t := time.NewTicker(d.every)
		defer t.Stop()
		for {
			select {
			case <-bgCtx.Done():
				return
			case <-t.C:
				r := d.monitor.Report()
				d.log.Info("heap "+d.monitor.Summary(), "growth", r.Growth.String(),
					"growing", r.Growth.Growing(), "paths", d.paths.Len())
			}
		}
	})
	for d.srv.LocalAddr() == nil {
		select {
		case err := <-served:
			return err
		case <-time.After(time.Millisecond):
		}
	}
	d.log.Info("listening", "udp", d.srv.LocalAddr().String())
	if err := <-served; !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// report writes the counts and the ten busiest paths.
func (d *daemon) report(w io.Writer) {
	fmt.Fprintln(w, d.srv.Stats())
	top, other := d.paths.Top(nil, 10, func(a, b *pathStats) int { return cmp.Compare(b.Requests, a.Requests) })
	st := d.paths.Stats()
	fmt.Fprintf(w, "paths %d of %d, %d bytes of %d; other: %d requests\n",
		st.Entries, st.MaxEntries, st.Bytes, st.MaxBytes, other.Requests)
	for _, e := range top {
		fmt.Fprintf(w, "%8d %.80s\n", e.Value.Requests, e.Key)
	}
}

func main() {
	var cfg config
	flag.StringVar(&cfg.listen, "listen", "127.0.0.1:5514", "UDP `address` to receive access lines on")
	flag.IntVar(&cfg.maxPaths, "max-paths", 10000, "paths kept with counts of their own; the others count under other")
	flag.DurationVar(&cfg.heapEvery, "heap-every", 10*time.Second, "how often to log the heap monitor's summary")
	samplesTo := flag.String("samples", "", "on exit, write the heap monitor's samples to `file`, a JSON line each")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	d, err := newDaemon(cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = d.run(ctx)
	d.report(os.Stdout)
	if *samplesTo != "" {
		f, ferr := os.Create(*samplesTo)
		if ferr == nil {
			enc := json.NewEncoder(f)
			for _, s := range d.monitor.Samples() {
				ferr = errors.Join(ferr, enc.Encode(s))
			}
			ferr = errors.Join(ferr, f.Close())
		}
		err = errors.Join(err, ferr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}
