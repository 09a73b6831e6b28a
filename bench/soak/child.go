package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/internal/loadgen"
)

// This file holds what the soak runs in child processes,
// one process each so that each has a heap of its own to measure, and the
// child command that runs one of the receivers.
//
// The protocol with the parent: the child listens on 127.0.0.1 with a free
// port and writes one JSON object per line to stdout, first
// {"addr":"127.0.0.1:port"}, then a childReport every interval. It stops
// when stdin reaches its end (the parent closed it or died) or on SIGTERM
// or SIGINT.

// childReport is one line a soak child writes.
type childReport struct {
	Addr   string            `json:"addr,omitempty"`
	Sample *heapwatch.Sample `json:"sample,omitempty"`
	// PrintHeap is what a heap monitor built on runtime.MemStats prints, read
	// just before Sample and without forcing a GC.
	PrintHeap *printHeap `json:"printheap,omitempty"`
	// Lines counts the lines the receiver handled; Keys the distinct keys
	// its per-path table holds.
	Lines int64 `json:"lines"`
	Keys  int64 `json:"keys"`
	// Scanner is the ingest receiver's last report in the scanner
	// scenario, written once it has stopped.
	Scanner *scannerReport `json:"scanner,omitempty"`
}

// printHeap holds the runtime.MemStats fields a MemStats-based heap monitor prints
// every few seconds: cumulative allocations and frees, and the objects on
// the heap, live or not yet swept.
type printHeap struct {
	Mallocs     uint64 `json:"mallocs"`
	Frees       uint64 `json:"frees"`
	HeapObjects uint64 `json:"heap_objects"`
}

// readPrintHeap reads the fields a MemStats-based heap monitor prints.
// runtime.ReadMemStats stops the world for a moment but runs no GC.
func readPrintHeap() *printHeap {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &printHeap{Mallocs: ms.Mallocs, Frees: ms.Frees, HeapObjects: ms.HeapObjects}
}

// A soakReceiver reads access lines from conn and keeps per-path statistics
// until ctx is done; then it closes conn and returns.
type soakReceiver interface {
	run(ctx context.Context, conn *net.UDPConn) error
	// counts returns the lines handled and the keys kept so far; it is
	// called from another goroutine.
	counts() (lines, keys int64)
	// track registers the receiver's bounded structures with m, so that
	// its samples carry their budgets. Receivers without any do nothing.
	track(m *heapwatch.Monitor) error
}

// receiverOptions are what the receivers are built with.
type receiverOptions struct {
	maxPaths int
	// routes says the lines are loadgen.RoutesLogFormat lines: the ingest
	// receiver then keeps route metrics beside its path table, within
	// maxSeries (0: the store's default).
	routes    bool
	maxSeries int
	// scanner is the mix of the scanner scenario, made with seed: the
	// ingest receiver then watches the real routes' series.
	scanner *loadgen.ScannerMix
	seed    int64
}

// finalReporter is a receiver that has a last report to make once it has
// stopped.
type finalReporter interface {
	final() *scannerReport
}

// soakReceivers are the receivers soak can run, by name.
var soakReceivers = map[string]func(receiverOptions) (soakReceiver, error){
	"ingest": newIngestReceiver,
	"naive":  func(receiverOptions) (soakReceiver, error) { return new(naiveReceiver), nil },
	"views":  func(receiverOptions) (soakReceiver, error) { return new(viewsReceiver), nil },
	"labels": newLabelsReceiver,
}

var soakReceiverNames = []string{"ingest", "naive", "views", "labels"}

// childCommand, as the first argument, makes the program a child that runs
// one receiver.
const childCommand = "soak-child"

var soakChildUsage = `Usage: soak soak-child --receiver ingest|naive|views|labels [flags]

Internal: run by the soak in a child process. Listens on 127.0.0.1 with a
free port, writes {"addr":...} and then a JSON heap sample per interval to
stdout, and stops when stdin ends or on SIGTERM.

Flags:
`

func runChild(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags(childCommand)
	name := fs.String("receiver", "ingest", "`receiver` to run: ingest, naive, views or labels")
	interval := fs.Duration("interval", time.Second, "time between heap samples")
	maxPaths := fs.Int("max-paths", 10000, "paths the ingest receiver keeps before counting under <other>")
	routes := fs.Bool("routes", false, "the lines are route traffic in loadgen's routes log_format")
	maxSeries := fs.Int("max-series", 0, "the ingest receiver's route-metric series budget (0: the store's default)")
	scanner := fs.Bool("scanner", false, "the lines are the scanner scenario's (loadgen's default scanner mix): watch the real routes' series")
	seed := fs.Int64("seed", 0, "the seed of the load")
	profileDir := fs.String("profile-dir", "", "write an exact heap profile (runtime.GC, then the heap profile) into this `directory` every --profile-every")
	profileEvery := fs.Duration("profile-every", 0, "time between exact heap profiles; 0 = none")
	if status, ok := parseArgs(fs, soakChildUsage, args, stderr); !ok {
		return status
	}
	newReceiver, ok := soakReceivers[*name]
	if !ok || *interval <= 0 || *maxPaths <= 0 {
		fmt.Fprintf(stderr, "soak-child: bad flags: receiver %q, interval %v, max-paths %d\n", *name, *interval, *maxPaths)
		return 2
	}
	if *profileDir != "" && *profileEvery > 0 {
		// Record every allocation, so that two profiles differ by exactly
		// what the live heap gained: the sampled default (one in 512 KiB)
		// misses the small objects of a map or a table.
		runtime.MemProfileRate = 1
	}
	opts := receiverOptions{maxPaths: *maxPaths, routes: *routes || *scanner, maxSeries: *maxSeries, seed: *seed}
	if *scanner {
		c, err := loadgen.Config{Scanner: &loadgen.ScannerMix{}}.Normalize()
		if err != nil {
			fmt.Fprintf(stderr, "soak-child: %v\n", err)
			return 2
		}
		opts.scanner = c.Scanner
	}
	rcv, err := newReceiver(opts)
	if err != nil {
		fmt.Fprintf(stderr, "soak-child: %v\n", err)
		return 2
	}
	mon := heapwatch.New(heapwatch.Config{})
	if err := rcv.track(mon); err != nil {
		fmt.Fprintf(stderr, "soak-child: %v\n", err)
		return 2
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fmt.Fprintf(stderr, "soak-child: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // ends when stdin does, which the parent controls
		io.Copy(io.Discard, stdin)
		cancel()
	}()
	done := make(chan error, 1)
	go func() { done <- rcv.run(ctx, conn) }()

	out := json.NewEncoder(stdout)
	if err := out.Encode(childReport{Addr: conn.LocalAddr().String()}); err != nil {
		cancel()
		<-done
		return 2
	}
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	var lastGC uint64
	prof := childProfiler{dir: *profileDir, every: *profileEvery, receiver: *name, start: time.Now(), stderr: stderr}
	for {
		select {
		case <-ctx.Done():
			if err := <-done; err != nil {
				fmt.Fprintf(stderr, "soak-child %s: %v\n", *name, err)
				return 1
			}
			if fr, ok := rcv.(finalReporter); ok {
				if rep := fr.final(); rep != nil {
					out.Encode(childReport{Scanner: rep})
				}
			}
			return 0
		case <-tick.C:
			if ctx.Err() != nil {
				// Both were ready and select took the tick: the receiver
				// is letting go of what it held, and a sample now would
				// reach the verdicts as a heap that fell back.
				continue
			}
		}
		prof.maybe(rcv)
		ph := readPrintHeap() // before any GC this loop forces, as a MemStats-based monitor sees it
		s := mon.Read()
		if s.GCCycles == lastGC {
			// The live heap is measured at the end of a GC cycle. A
			// receiver that allocates little may go a long time without
			// one, so force one rather than report a stale figure.
			runtime.GC()
			s = mon.Read()
		}
		lastGC = s.GCCycles
		lines, keys := rcv.counts()
		if err := out.Encode(childReport{Sample: &s, PrintHeap: ph, Lines: lines, Keys: keys}); err != nil {
			cancel() // the parent is gone
		}
	}
}

// childProfiler writes exact heap profiles of a soak child: runtime.GC,
// then the heap profile, so that two of them diffed with
// "go tool pprof -base" show what the live heap gained between them.
type childProfiler struct {
	dir      string
	every    time.Duration
	receiver string
	start    time.Time
	next     time.Duration
	stderr   io.Writer
}

// maybe writes a profile when the next one is due, and a line on stderr
// with the live heap and, for the ingest receiver, what its Interner and
// path table hold.
func (p *childProfiler) maybe(rcv soakReceiver) {
	if p.dir == "" || p.every <= 0 {
		return
	}
	at := time.Since(p.start)
	if at < p.next {
		return
	}
	p.next = (at/p.every + 1) * p.every
	runtime.GC()
	path := filepath.Join(p.dir, fmt.Sprintf("heap-%s-%03.0fs.pb.gz", p.receiver, at.Seconds()))
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("heap").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(p.stderr, "soak-child %s: profile: %v\n", p.receiver, err)
		return
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	line := fmt.Sprintf("soak-child %s: %s: live %d B, %d objects", p.receiver, path, ms.HeapAlloc, ms.HeapObjects)
	if ir, ok := rcv.(*ingestReceiver); ok {
		u := ir.table.Usage()
		line += fmt.Sprintf("; path table %d keys, %d B", u.Entries, u.Bytes)
	}
	fmt.Fprintln(p.stderr, line)
}

// closedByContext returns nil for the read error that closing conn on
// ctx's end causes, and err otherwise.
func closedByContext(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// readChildReports decodes a child's stdout, sending each report to ch
// until the stream ends; it closes ch then.
func readChildReports(r io.Reader, ch chan<- childReport) {
	defer close(ch)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var rep childReport
		if json.Unmarshal(sc.Bytes(), &rep) == nil {
			ch <- rep
		}
	}
}
