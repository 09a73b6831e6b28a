package main

import (
	"bufio"
	"bytes"
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/cmd/ingest/internal/loadgen"
	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/routemetrics"
	"github.com/valyala/bytebufferpool"
)

// This file holds the receivers that "ingest soak" runs in child processes,
// one process each so that each has a heap of its own to measure, and the
// internal "soak-child" command that runs one of them.
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
	// PrintHeap is what the original daemon's heap monitor printed, read
	// just before Sample and without forcing a GC.
	PrintHeap *printHeap `json:"printheap,omitempty"`
	// Lines counts the lines the receiver handled; Keys the distinct keys
	// its per-path table holds.
	Lines int64 `json:"lines"`
	Keys  int64 `json:"keys"`
}

// printHeap holds the runtime.MemStats fields the original daemon printed
// every few seconds: cumulative allocations and frees, and the objects on
// the heap, live or not yet swept.
type printHeap struct {
	Mallocs     uint64 `json:"mallocs"`
	Frees       uint64 `json:"frees"`
	HeapObjects uint64 `json:"heap_objects"`
}

// readPrintHeap reads the fields the original daemon printed.
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
	// receiver then keeps route metrics beside its path table.
	routes bool
}

// soakReceivers are the receivers soak can run, by name.
var soakReceivers = map[string]func(receiverOptions) (soakReceiver, error){
	"ingest": newIngestReceiver,
	"naive":  func(receiverOptions) (soakReceiver, error) { return new(naiveReceiver), nil },
	"views":  func(receiverOptions) (soakReceiver, error) { return new(viewsReceiver), nil },
	"labels": newLabelsReceiver,
}

var soakReceiverNames = []string{"ingest", "naive", "views", "labels"}

var soakChildUsage = `Usage: ingest soak-child --receiver ingest|naive|views|labels [flags]

Internal: run by "ingest soak" in a child process. Listens on 127.0.0.1 with a
free port, writes {"addr":...} and then a JSON heap sample per interval to
stdout, and stops when stdin ends or on SIGTERM.

Flags:
`

func runSoakChild(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("soak-child", soakChildUsage, stderr)
	name := fs.String("receiver", "ingest", "`receiver` to run: ingest, naive, views or labels")
	interval := fs.Duration("interval", time.Second, "time between heap samples")
	maxPaths := fs.Int("max-paths", 10000, "paths the ingest receiver keeps before counting under <other>")
	routes := fs.Bool("routes", false, "the lines are route traffic in loadgen's routes log_format")
	profileDir := fs.String("profile-dir", "", "write an exact heap profile (runtime.GC, then the heap profile) into this `directory` every --profile-every")
	profileEvery := fs.Duration("profile-every", 0, "time between exact heap profiles; 0 = none")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	newReceiver, ok := soakReceivers[*name]
	if !ok || *interval <= 0 || *maxPaths <= 0 {
		fmt.Fprintf(stderr, "ingest soak-child: bad flags: receiver %q, interval %v, max-paths %d\n", *name, *interval, *maxPaths)
		return 2
	}
	if *profileDir != "" && *profileEvery > 0 {
		// Record every allocation, so that two profiles differ by exactly
		// what the live heap gained: the sampled default (one in 512 KiB)
		// misses the small objects of a map or a table.
		runtime.MemProfileRate = 1
	}
	rcv, err := newReceiver(receiverOptions{maxPaths: *maxPaths, routes: *routes})
	if err != nil {
		fmt.Fprintf(stderr, "ingest soak-child: %v\n", err)
		return 2
	}
	mon := heapwatch.New(heapwatch.Config{})
	if err := rcv.track(mon); err != nil {
		fmt.Fprintf(stderr, "ingest soak-child: %v\n", err)
		return 2
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fmt.Fprintf(stderr, "ingest soak-child: %v\n", err)
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
				fmt.Fprintf(stderr, "ingest soak-child %s: %v\n", *name, err)
				return 1
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
		ph := readPrintHeap() // before any GC this loop forces, as the original monitor saw it
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
		fmt.Fprintf(p.stderr, "ingest soak-child %s: profile: %v\n", p.receiver, err)
		return
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	line := fmt.Sprintf("ingest soak-child %s: %s: live %d B, %d objects", p.receiver, path, ms.HeapAlloc, ms.HeapObjects)
	if ir, ok := rcv.(*ingestReceiver); ok {
		keys, orphans, orphanBytes := ir.orphans()
		st := ir.paths.Stats()
		line += fmt.Sprintf("; interner %d entries, %d B; path table %d keys, %d not held by the interner (%d B)",
			st.Entries, internerBytes(st.Bytes, st.Entries), keys, orphans, orphanBytes)
	}
	fmt.Fprintln(p.stderr, line)
}

// orphans counts the path table's keys and those of them the Interner no
// longer holds (evicted since), with the heap bytes those keys keep alive:
// each is one object of its length plus 2 bytes, in its size class. It
// copies the keys under the table's lock into a buffer it reuses, then
// looks each one up (16 ms for 10,000 keys of 512 bytes on the busy 2-vCPU
// VM), so the handler waits only for the copy.
func (ir *ingestReceiver) orphans() (keys, orphans int, bytes int64) {
	ir.kmu.Lock()
	defer ir.kmu.Unlock()
	t := ir.table
	t.mu.Lock()
	ir.keys = ir.keys[:0]
	for key := range t.stats {
		ir.keys = append(ir.keys, key)
	}
	t.mu.Unlock()
	for _, key := range ir.keys {
		s, ok := t.paths.Lookup(unsafe.Slice(unsafe.StringData(key), len(key)))
		if !ok || unsafe.StringData(s) != unsafe.StringData(key) {
			orphans++
			bytes += int64(objectSize(len(key) + 2))
		}
	}
	keys = len(ir.keys)
	clear(ir.keys) // drop the references: an evicted key lives on only in the table
	return keys, orphans, bytes
}

// ingestReceiver is the library's way: a Server with fixed receive
// buffers, a Parser, and a pathTable keyed by interned paths; for route
// traffic, the Server parses loadgen.RoutesLogFormat and the handler also
// counts each line in a routemetrics.Store, as "ingest serve" does.
type ingestReceiver struct {
	paths  *ingest.Interner
	table  *pathTable
	format *ingest.Format      // nil: the built-in combined format
	store  *routemetrics.Store // route traffic only
	lines  atomic.Int64
	kmu    sync.Mutex
	keys   []string // orphans' copy of the table's keys, reused, under kmu
}

// storeScrapeEvery is how often the ingest receiver writes its route
// metrics, as a Prometheus server scraping "ingest serve" would make it.
const storeScrapeEvery = 5 * time.Second

// soakInterner bounds the ingest receiver's Interner: the library's
// defaults, written out so that its budget can be reported.
var soakInterner = ingest.InternerConfig{MaxEntries: 1 << 16, MaxBytes: 8 << 20, MaxLen: 512}

// internerLimitBytes bounds the heap the soak Interner's values take: its
// byte budget filled with values of MaxLen (or its entry budget, if that
// binds first). With the size classes rounding each value up by at most
// an eighth above 128 bytes, no mix of lengths costs more than a few
// percent beyond it.
var internerLimitBytes = internerBytes(
	min(soakInterner.MaxBytes, soakInterner.MaxEntries*soakInterner.MaxLen),
	min(soakInterner.MaxEntries, soakInterner.MaxBytes/soakInterner.MaxLen))

// pathEntryBytes estimates the heap bytes a pathTable entry costs beyond
// its interned key: the 64-byte pathStat, and a map slot (a 16-byte string,
// an 8-byte pointer and a control byte) at 7/8 load, doubled for a map
// that has just grown.
const pathEntryBytes = 64 + 2*(16+8+1)*8/7

// sizeClasses are the Go runtime's small object size classes up to 32 KiB.
var sizeClasses = [...]int{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
	2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
	10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// objectSize returns the heap bytes an allocation of n bytes occupies:
// its size class, or whole 8 KiB pages above 32 KiB.
func objectSize(n int) int {
	for _, c := range sizeClasses {
		if n <= c {
			return c
		}
	}
	return (n + 8191) &^ 8191
}

// internerBytes estimates the heap bytes of the values an Interner holds:
// each is one object of its length plus 2 bytes, rounded up to its size
// class, here computed for the mean length.
func internerBytes(bytes, entries int) int64 {
	if entries == 0 {
		return 0
	}
	return int64(entries) * int64(objectSize(bytes/entries+2))
}

func newIngestReceiver(o receiverOptions) (soakReceiver, error) {
	paths := ingest.NewInterner(soakInterner)
	ir := &ingestReceiver{paths: paths, table: newPathTable(paths, o.maxPaths)}
	if o.routes {
		f, err := ingest.CompileNginx(loadgen.RoutesLogFormat)
		if err != nil {
			return nil, err
		}
		ir.format = f
		if ir.store, err = routemetrics.New(routemetrics.Config{}); err != nil {
			return nil, err
		}
	}
	return ir, nil
}

func (ir *ingestReceiver) track(m *heapwatch.Monitor) error {
	err := m.Track("interner", func() heapwatch.Usage {
		st := ir.paths.Stats()
		return heapwatch.Usage{
			Bytes:        internerBytes(st.Bytes, st.Entries),
			LimitBytes:   internerLimitBytes,
			Entries:      int64(st.Entries),
			LimitEntries: int64(soakInterner.MaxEntries),
			Refused:      st.Evictions,
		}
	})
	if err != nil {
		return err
	}
	// The table's keys are the Interner's strings. While it stores them
	// they are in its budget; once it has evicted one, the table alone
	// keeps it alive, so it counts here: up to a whole key of MaxLen per
	// entry once the Interner has moved on to other paths.
	err = m.Track("paths", func() heapwatch.Usage {
		n, _, keyBytes := ir.orphans()
		return heapwatch.Usage{
			Bytes:        int64(n)*pathEntryBytes + keyBytes,
			LimitBytes:   int64(ir.table.maxPaths) * (pathEntryBytes + int64(objectSize(soakInterner.MaxLen+2))),
			Entries:      int64(n),
			LimitEntries: int64(ir.table.maxPaths),
		}
	})
	if err != nil || ir.store == nil {
		return err
	}
	return m.Track("routes", func() heapwatch.Usage {
		st := ir.store.Stats()
		return heapwatch.Usage{
			Bytes: st.Bytes, LimitBytes: st.LimitBytes,
			Entries: int64(st.Series), LimitEntries: int64(st.Limit),
			Refused: st.Overflows,
		}
	})
}

func (ir *ingestReceiver) run(ctx context.Context, conn *net.UDPConn) error {
	s, err := ingest.NewServer(ingest.Config{
		Format: ir.format,
		Handler: ingest.HandlerFunc(func(r *ingest.Request) {
			if ir.store != nil {
				ir.store.ServeLine(r)
			}
			ir.table.add(r)
			ir.lines.Add(1)
		}),
	})
	if err != nil {
		conn.Close()
		return err
	}
	var wg sync.WaitGroup
	if ir.store != nil {
		wg.Go(func() {
			scrapeEvery(ctx, storeScrapeEvery, func(w io.Writer) {
				ir.store.Expire(time.Now())
				ir.store.WritePrometheus(w)
			})
		})
	}
	err = s.Serve(ctx, conn)
	wg.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func (ir *ingestReceiver) counts() (int64, int64) {
	return ir.lines.Load(), int64(ir.table.len())
}

// naiveReceiver reproduces the original daemon's pattern faithfully: a
// string copy of each datagram, a strings-based parse into a struct of
// string fields, and per-path statistics in a plain map keyed by the parsed
// path. Every key and every kept entry is a substring of its datagram's
// string, so the map pins whole datagrams, and it grows with every distinct
// path it sees.
type naiveReceiver struct {
	lines, keys atomic.Int64
}

// naiveEntry is the original daemon's struct of string fields.
type naiveEntry struct {
	RemoteAddr, RemoteUser, Time  string
	Method, Path, Query, Protocol string
	Status, BodyBytes             int
	Referer, UserAgent            string
}

type naiveStat struct {
	Count, Bytes int
	Last         naiveEntry
}

func (nr *naiveReceiver) run(ctx context.Context, conn *net.UDPConn) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	stats := make(map[string]*naiveStat)
	buf := make([]byte, 65536)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return closedByContext(ctx, err)
		}
		msg := string(buf[:n])
		for _, line := range strings.Split(msg, "\n") {
			e, ok := parseNaive(line)
			if !ok {
				continue
			}
			st := stats[e.Path]
			if st == nil {
				st = new(naiveStat)
				stats[e.Path] = st
				nr.keys.Add(1)
			}
			st.Count++
			st.Bytes += e.BodyBytes
			st.Last = e
			nr.lines.Add(1)
		}
	}
}

func (nr *naiveReceiver) counts() (int64, int64) { return nr.lines.Load(), nr.keys.Load() }

func (*naiveReceiver) track(*heapwatch.Monitor) error { return nil }

// parseNaive parses a combined line, after an optional syslog header, the
// way a quick daemon does: with strings.Index, strings.Fields and strconv.
func parseNaive(line string) (naiveEntry, bool) {
	var e naiveEntry
	line = strings.TrimSuffix(line, "\r")
	if strings.HasPrefix(line, "<") {
		i := strings.Index(line, ": ")
		if i < 0 {
			return e, false
		}
		line = line[i+2:]
	}
	head, rest, ok := strings.Cut(line, " [")
	if !ok {
		return e, false
	}
	f := strings.Fields(head)
	if len(f) < 3 {
		return e, false
	}
	e.RemoteAddr, e.RemoteUser = f[0], f[2]
	e.Time, rest, ok = strings.Cut(rest, "] \"")
	if !ok {
		return e, false
	}
	request, rest, ok := strings.Cut(rest, "\" ")
	if !ok {
		return e, false
	}
	if rf := strings.Fields(request); len(rf) == 3 {
		e.Method, e.Path, e.Protocol = rf[0], rf[1], rf[2]
		e.Path, e.Query, _ = strings.Cut(e.Path, "?")
	}
	f = strings.Fields(rest)
	if len(f) < 2 {
		return e, false
	}
	var err error
	if e.Status, err = strconv.Atoi(f[0]); err != nil {
		return e, false
	}
	e.BodyBytes, _ = strconv.Atoi(f[1])
	if q := strings.Split(rest, "\""); len(q) >= 4 {
		e.Referer, e.UserAgent = q[1], q[3]
	}
	return e, true
}

// viewsReceiver is the naive "optimisation" of the naive daemon: read into
// pooled buffers, parse without copying, and use the zero-copy path view as
// the map key. Returning a buffer whose bytes back a key would let the next
// datagram overwrite the key, corrupting the map, so a buffer that gave a
// new key is kept out of the pool: every distinct path now pins a whole
// 64 KiB receive buffer.
type viewsReceiver struct {
	lines, keys atomic.Int64
}

func (vr *viewsReceiver) run(ctx context.Context, conn *net.UDPConn) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var pool bytebufferpool.Pool
	var p ingest.Parser
	var r ingest.Request
	stats := make(map[string]*pathStat)
	for {
		bb := pool.Get()
		if cap(bb.B) < 65536 {
			bb.B = make([]byte, 65536)
		}
		bb.B = bb.B[:cap(bb.B)]
		n, _, err := conn.ReadFrom(bb.B)
		if err != nil {
			return closedByContext(ctx, err)
		}
		pinned := false
		for line := range bytes.SplitSeq(bb.B[:n], []byte("\n")) {
			if err := p.Parse(&r, line); err != nil {
				continue
			}
			// The anti-pattern under test: a string that aliases the
			// pooled buffer, kept as a map key.
			key := unsafe.String(unsafe.SliceData(r.Path), len(r.Path))
			st := stats[key]
			if st == nil {
				st = new(pathStat)
				stats[key] = st
				pinned = true
				vr.keys.Add(1)
			}
			st.add(&r)
			vr.lines.Add(1)
		}
		if !pinned {
			pool.Put(bb)
		}
	}
}

func (vr *viewsReceiver) counts() (int64, int64) { return vr.lines.Load(), vr.keys.Load() }

func (*viewsReceiver) track(*heapwatch.Monitor) error { return nil }

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
