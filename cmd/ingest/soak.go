package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flatheap/ingest/cmd/ingest/internal/loadgen"
	"github.com/flatheap/ingest/heapwatch"
)

var soakUsage = `Usage: ingest soak [flags]

Run the original daemon's scenario end to end on loopback and show whether
each receiver's heap stays flat. Each receiver runs in a child process of
its own and gets the same load from one sender:

  ingest  the library: fixed receive buffers, zero-copy parsing, per-path
          counts keyed by interned paths, at most --max-paths of them
  naive   the original daemon: string(buf[:n]) per datagram, a strings-based
          parse into a struct of string fields, a plain map keyed by path
  views   the naive optimisation: zero-copy views into pooled read buffers
          kept as map keys
  labels  the common exporter pattern: one Prometheus series (a counter and
          a histogram, github.com/VictoriaMetrics/metrics) per raw path

Each scenario has its receivers (--receivers chooses others). In the routes
scenario the ingest receiver also keeps per-route metrics, as "ingest
serve" does.

The children are sampled with the heapwatch package every --interval (the
child forces a GC when none ran since its last sample, so that the live heap
is current). A receiver's bounded structures (the ingest receiver's
Interner, path table and route store) are tracked as heapwatch budgets. Each
sample also records what the original daemon's heap monitor printed:
runtime.MemStats Mallocs, Frees and HeapObjects, read before any GC the
child forces (in the table with --printheap). A table is printed every
--table; at the end each receiver gets a verdict, judged by robust trends
over the run after --warmup: flat; filling declared budgets, with the
projected ceiling of its live heap; or growing, with the slope and the kind
of growth. A CSV of every sample and a PNG plot of live heap and RSS go to
--out.

Scenarios:
%s
A verdict that is still unknown when the load ends (a rise that has not
persisted or fallen back yet, as buffers in flight make on a busy machine)
is not growth: the load goes on, judged every 5s over the newest
(--duration minus --warmup) of samples, a window that slides past a step,
for at most --extend more, until the verdict is decided.

Exit status: 0 when the ingest receiver is flat, or filling its declared
budgets with a projected live-heap ceiling under --max-memory; 1 when it is
growing, filling past --max-memory, or was stopped (--max-memory, or an
interrupt); 2 for usage and setup errors; 3 when its verdict is still
undecided after --extend. Without the ingest receiver, the same test
applies to every receiver run: 1 when any fails, else 3 when any is
undecided.

Flags:
`

// A soakScenario is a named load and the receivers it runs by default.
type soakScenario struct {
	name, about string
	load        loadgen.Config
	receivers   []string
}

var soakScenarios = []soakScenario{
	{"long-paths", "the original daemon's case: 1,500 lines/s, 2 KiB paths, half of the lines with a path never seen before (the default)",
		loadgen.Config{Rate: 1500, PathLength: 2048, Paths: 1000, Unique: 0.5}, []string{"ingest", "naive", "views"}},
	{"short-paths", "1,500 lines/s, every path \"/\"",
		loadgen.Config{Rate: 1500, PathLength: 1, Paths: 1}, []string{"ingest", "naive", "views"}},
	{"stress", "as fast as the sender goes, every 2 KiB path distinct",
		loadgen.Config{Rate: 0, PathLength: 2048, Unique: 1}, []string{"ingest", "naive", "views"}},
	{"routes", "route traffic at 1,500 lines/s: API paths from about 50 templates with random IDs and UUIDs, a fifth of them 2 KiB junk paths instead",
		loadgen.Config{Rate: 1500, Routes: true, Unique: 0.2}, []string{"ingest", "labels"}},
}

// soakRow is one sample of one receiver.
type soakRow struct {
	elapsed     time.Duration // since the load started
	sample      heapwatch.Sample
	printHeap   printHeap
	lines, keys int64
}

// soakRun is one receiver's child process and what it reported.
type soakRun struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	addr    string
	rows    []soakRow
	stopped string // why the parent stopped it early, if it did
}

// taggedReport is a child's report with the index of its run.
type taggedReport struct {
	run int
	rep childReport
}

func runSoak(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("soak", fmt.Sprintf(soakUsage, scenarioHelp()), stderr)
	scenarioName := fs.String("scenario", soakScenarios[0].name, "`name` of the load: "+scenarioNames())
	duration := fs.Duration("duration", 60*time.Second, "how long to send")
	warmup := fs.Duration("warmup", 0, "samples before this are left out of the verdict (default: a quarter of --duration, at most 15s)")
	extend := fs.Duration("extend", -1, "at most this much more load while the verdict is undecided at the end of --duration (default: --duration minus --warmup; 0: never)")
	interval := fs.Duration("interval", time.Second, "time between heap samples")
	tableEvery := fs.Duration("table", 5*time.Second, "time between progress tables")
	receiverList := fs.String("receivers", "", "comma-separated `receivers` to run, of "+strings.Join(soakReceiverNames, ",")+" (default: the scenario's)")
	maxPaths := fs.Int("max-paths", 10000, "paths the ingest receiver keeps before counting under <other>")
	maxMemory := fs.Int64("max-memory", 4<<30, "stop a receiver whose RSS or Go runtime memory (mapped, touched or not) passes this many `bytes`")
	outDir := fs.String("out", "soak-out", "`directory` for the CSV and the PNG")
	profileEvery := fs.Duration("profile-every", 0, "write an exact heap profile of each receiver (runtime.GC, then the heap profile) into --out every this long; 0 = none")
	printHeapCols := fs.Bool("printheap", false, "add the original daemon's MemStats figures (Mallocs, Frees, HeapObjects) to the table")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	fail := usageFailer(fs)
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	i := slices.IndexFunc(soakScenarios, func(s soakScenario) bool { return s.name == *scenarioName })
	if i < 0 {
		return fail("unknown scenario %q: want %s", *scenarioName, scenarioNames())
	}
	sc := soakScenarios[i]
	if *duration <= 0 || *interval <= 0 || *tableEvery <= 0 || *maxPaths <= 0 || *maxMemory <= 0 || *warmup < 0 {
		return fail("--duration, --interval, --table, --max-paths and --max-memory must be positive")
	}
	if *warmup == 0 {
		*warmup = min(*duration/4, 15*time.Second)
	}
	if *warmup >= *duration {
		return fail("--warmup %v leaves nothing of --duration %v to judge", *warmup, *duration)
	}
	if *extend < 0 {
		*extend = *duration - *warmup
	}
	check := sc.load
	check.Duration = *duration
	if _, err := check.Normalize(); err != nil {
		return fail("scenario %s: %v", sc.name, err)
	}
	names := sc.receivers
	if *receiverList != "" {
		names = strings.Split(*receiverList, ",")
	}
	for _, n := range names {
		if _, ok := soakReceivers[n]; !ok {
			return fail("unknown receiver %q: want some of %s", n, strings.Join(soakReceiverNames, ","))
		}
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return fail("%v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fail("cannot find this program to run the receivers: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	// The children write their errors to stderr from goroutines of
	// os/exec's when stderr is not a file.
	stderr = &lockedWriter{w: stderr}
	s := &soaker{
		scenario: sc, duration: *duration, warmup: *warmup, extend: *extend, interval: *interval,
		maxMemory: uint64(*maxMemory), profileDir: *outDir, profileEvery: *profileEvery, stdout: stdout, stderr: stderr, printHeap: *printHeapCols,
		reports: make(chan taggedReport, 64),
	}
	if err := s.start(exe, names, *maxPaths); err != nil {
		s.stopChildren()
		s.drain()
		return fail("%v", err)
	}
	fmt.Fprintf(stdout, "soak %s: %s\nreceivers: %s; sending for %v, verdict over the samples after %v\n\n",
		sc.name, sc.about, s.describeRuns(), *duration, *warmup)
	res, sendErr := s.run(ctx, *tableEvery)
	s.stopChildren()
	s.drain()
	if sendErr != nil {
		fmt.Fprintf(stderr, "ingest soak: sender: %v\n", sendErr)
	}
	fmt.Fprintf(stdout, "\nsent %d lines in %d datagrams to each receiver in %v (%.0f lines/s), %d send errors\n",
		res.Lines, res.Datagrams, res.Elapsed.Round(time.Millisecond), res.LinesPerSecond(), res.SendErrors)
	if s.extended > 0 {
		fmt.Fprintf(stdout, "the load went on %v past --duration (at most %v) while the verdict was undecided\n",
			s.extended, s.extend)
	}

	status := s.verdicts()

	base := filepath.Join(*outDir, sc.name)
	if err := s.writeCSV(base + ".csv"); err != nil {
		fmt.Fprintf(stderr, "ingest soak: %v\n", err)
		status = max(status, 2)
	}
	if err := writeSoakPlot(base+".png", "ingest soak "+sc.name, s.runs); err != nil {
		fmt.Fprintf(stderr, "ingest soak: plot: %v\n", err)
		status = max(status, 2)
	}
	fmt.Fprintf(stdout, "wrote %s.csv and %s.png\n", base, base)
	if ctx.Err() != nil && status != 2 {
		return 1 // interrupted: the run was not the one asked for
	}
	return status
}

// soaker runs one soak: the children, the sender, and the bookkeeping.
type soaker struct {
	scenario                   soakScenario
	duration, warmup, interval time.Duration
	maxMemory                  uint64
	stdout, stderr             io.Writer
	printHeap                  bool // the table shows the MemStats figures

	// extend bounds the load added while the verdict is undecided at the
	// end of duration; extended is what was added.
	extend, extended time.Duration
	// The children write exact heap profiles into profileDir every
	// profileEvery; 0: none.
	profileDir   string
	profileEvery time.Duration

	runs    []*soakRun
	reports chan taggedReport
	readers sync.WaitGroup // one goroutine per child, reading its stdout
	start0  time.Time      // when the load started
}

// start launches one child per receiver name and waits for each to say
// where it listens.
func (s *soaker) start(exe string, names []string, maxPaths int) error {
	for i, name := range names {
		cmd := exec.Command(exe, "soak-child", "--receiver", name,
			"--interval", s.interval.String(), "--max-paths", strconv.Itoa(maxPaths),
			"--routes="+strconv.FormatBool(s.scenario.load.Routes),
			"--profile-dir", s.profileDir, "--profile-every", s.profileEvery.String())
		cmd.Stderr = s.stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting receiver %s: %w", name, err)
		}
		run := &soakRun{name: name, cmd: cmd, stdin: in}
		s.runs = append(s.runs, run)
		first := make(chan childReport, 1)
		s.readers.Add(1)
		go func() {
			defer s.readers.Done()
			ch := make(chan childReport)
			go readChildReports(out, ch)
			gotAddr := false
			for rep := range ch {
				if !gotAddr {
					first <- rep
					gotAddr = true
					continue
				}
				s.reports <- taggedReport{i, rep}
			}
			if !gotAddr {
				close(first)
			}
		}()
		select {
		case rep, ok := <-first:
			if !ok || rep.Addr == "" {
				return fmt.Errorf("receiver %s did not report its address", name)
			}
			run.addr = rep.Addr
		case <-time.After(10 * time.Second):
			return fmt.Errorf("receiver %s did not start within 10s", name)
		}
	}
	return nil
}

func (s *soaker) describeRuns() string {
	var b strings.Builder
	for i, r := range s.runs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (pid %d, %s)", r.name, r.cmd.Process.Pid, r.addr)
	}
	return b.String()
}

// run sends the load to every child and records their reports until the
// load is done and the children have reported once more.
func (s *soaker) run(ctx context.Context, tableEvery time.Duration) (loadgen.Result, error) {
	load := s.scenario.load
	load.Duration = s.duration
	for _, r := range s.runs {
		load.Targets = append(load.Targets, r.addr)
	}
	type sent struct {
		res loadgen.Result
		err error
	}
	// One load for --duration and all of --extend, so that an extension
	// goes on without a pause and without sending a path twice; it is cut
	// short once the verdict is decided.
	load.Duration = s.duration + s.extend
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	sendDone := make(chan sent, 1)
	s.start0 = time.Now()
	go func() {
		res, err := loadgen.Send(sendCtx, load, nil)
		sendDone <- sent{res, err}
	}()

	table := time.NewTicker(tableEvery)
	defer table.Stop()
	decide := time.After(s.duration)
	var result sent
	var grace <-chan time.Time // after the load, time for a last sample
	s.printTableHeader()
	for {
		select {
		case tr := <-s.reports:
			s.record(tr)
		case <-table.C:
			s.printTable()
		case <-decide:
			decide = nil
			if why := s.undecided(); why != "" && s.extended < s.extend {
				step := min(soakExtendStep, s.extend-s.extended)
				s.extended += step
				decide = time.After(step)
				fmt.Fprintf(s.stdout, "undecided after %v: %s; going on for %v (%v of at most %v)\n",
					s.duration+s.extended-step, why, step, s.extended, s.extend)
				continue
			}
			stopSending()
		case result = <-sendDone:
			grace = time.After(2 * s.interval)
		case <-grace:
			s.printTable()
			return result.res, result.err
		}
	}
}

// soakExtendStep is how often the verdict is judged again while the load
// goes on past --duration.
const soakExtendStep = 5 * time.Second

// undecided returns why the verdict that decides the exit status is still
// unknown, or "" when it is decided: the ingest receiver's when it runs,
// else any receiver's.
func (s *soaker) undecided() string {
	sawIngest := slices.ContainsFunc(s.runs, func(r *soakRun) bool { return r.name == "ingest" })
	for _, run := range s.runs {
		if run.stopped != "" || (sawIngest && run.name != "ingest") {
			continue
		}
		if rep := s.report(run); rep.Growth == heapwatch.Unknown {
			return run.name + ": " + rep.String()
		}
	}
	return ""
}

// record keeps a report and stops a child that passed --max-memory. Both
// RSS and the runtime's total count: a receiver that pins buffers it has
// barely written to grows its heap far faster than its RSS.
func (s *soaker) record(tr taggedReport) {
	run := s.runs[tr.run]
	if tr.rep.Sample == nil || run.stopped != "" {
		return
	}
	row := soakRow{
		elapsed: tr.rep.Sample.Time.Sub(s.start0),
		sample:  *tr.rep.Sample,
		lines:   tr.rep.Lines,
		keys:    tr.rep.Keys,
	}
	if tr.rep.PrintHeap != nil {
		row.printHeap = *tr.rep.PrintHeap
	}
	run.rows = append(run.rows, row)
	if sm := tr.rep.Sample; sm.RSS > s.maxMemory || sm.Total > s.maxMemory {
		run.stopped = fmt.Sprintf("stopped after %v: RSS %s, runtime memory %s, passed --max-memory",
			sm.Time.Sub(s.start0).Round(time.Second), mib(sm.RSS), mib(sm.Total))
		run.cmd.Process.Kill()
		fmt.Fprintf(s.stdout, "%s: %s\n", run.name, run.stopped)
	}
}

// soakColumn is one column of the progress table: a header and a width
// that the widest value it is expected to hold fits in. The first two
// columns are left-aligned, the numbers right-aligned.
type soakColumn struct {
	name  string
	width int
}

var soakColumns = []soakColumn{
	{"time", 6}, {"receiver", 8}, {"lines", 11}, {"keys", 9}, {"live heap", 11}, {"objects", 10},
	{"bytes/object", 12}, {"retained", 11}, {"RSS", 11}, {"goroutines", 10}, {"GCs", 6},
}

// printHeapColumns follow soakColumns with --printheap: the figures of
// runtime.MemStats the original daemon printed.
var printHeapColumns = []soakColumn{{"Mallocs", 12}, {"Frees", 12}, {"HeapObjects", 11}}

func (s *soaker) columns() []soakColumn {
	if s.printHeap {
		return append(slices.Clip(soakColumns), printHeapColumns...)
	}
	return soakColumns
}

// writeSoakRow writes cells under cols, separated by two spaces, so that
// the columns line up in every table of a run; a value wider than its
// column pushes the rest of its row to the right, never the next rows.
func writeSoakRow(w io.Writer, cols []soakColumn, cells []string) {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString("  ")
		}
		pad := strings.Repeat(" ", max(cols[i].width-len(c), 0))
		if i < 2 {
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(pad)
			}
		} else {
			b.WriteString(pad)
			b.WriteString(c)
		}
	}
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}

func (s *soaker) printTableHeader() {
	cols := s.columns()
	cells := make([]string, len(cols))
	for i, c := range cols {
		cells[i] = c.name
	}
	writeSoakRow(s.stdout, cols, cells)
}

func (s *soaker) printTable() {
	cols := s.columns()
	for _, run := range s.runs {
		if len(run.rows) == 0 || run.stopped != "" {
			continue
		}
		row := run.rows[len(run.rows)-1]
		sm := row.sample
		cells := []string{
			row.elapsed.Round(time.Second).String(), run.name,
			strconv.FormatInt(row.lines, 10), strconv.FormatInt(row.keys, 10), mib(sm.LiveBytes),
			strconv.FormatUint(sm.Objects, 10), strconv.FormatFloat(sm.BytesPerObject(), 'f', 0, 64),
			mib(sm.Retained()), rssText(sm), strconv.FormatUint(sm.Goroutines, 10), strconv.FormatUint(sm.GCCycles, 10),
		}
		if s.printHeap {
			ph := row.printHeap
			cells = append(cells, strconv.FormatUint(ph.Mallocs, 10), strconv.FormatUint(ph.Frees, 10),
				strconv.FormatUint(ph.HeapObjects, 10))
		}
		writeSoakRow(s.stdout, cols, cells)
	}
}

// verdicts prints each receiver's verdict and returns the exit status: the
// ingest receiver's when it ran (0 passed, 1 failed, 3 undecided), else 1
// when any receiver failed, else 3 when any is undecided.
func (s *soaker) verdicts() int {
	fmt.Fprintln(s.stdout, "\nverdicts (trends over the samples after the warm-up, or over all of a receiver's samples when it was stopped):")
	sawIngest, ingestStatus := false, 0
	var failed, undecided []string
	for _, run := range s.runs {
		rep := s.report(run)
		line := rep.String()
		pass := s.passes(rep)
		if rep.Growth == heapwatch.Filling {
			if pass {
				line += fmt.Sprintf(" (under --max-memory %s)", mib(s.maxMemory))
			} else {
				line += fmt.Sprintf(" (not under --max-memory %s)", mib(s.maxMemory))
			}
		}
		if run.stopped != "" {
			line += "; " + run.stopped
		}
		fmt.Fprintf(s.stdout, "  %-7s %s\n", run.name+":", line)
		var status int
		switch {
		case run.stopped != "":
			status = 1
		case rep.Growth == heapwatch.Unknown:
			status = 3 // undecided, which is not growth
		case !pass:
			status = 1
		}
		if run.name == "ingest" {
			sawIngest, ingestStatus = true, status
		}
		switch status {
		case 1:
			failed = append(failed, run.name)
		case 3:
			undecided = append(undecided, run.name)
		}
	}
	switch {
	case sawIngest && ingestStatus == 1:
		fmt.Fprintln(s.stdout, "ingest is neither flat nor filling its declared budgets within --max-memory")
		return 1
	case sawIngest && ingestStatus == 3:
		fmt.Fprintf(s.stdout, "ingest's verdict is undecided after %v of load past --duration (--extend %v)\n", s.extended, s.extend)
		return 3
	case sawIngest:
		return 0
	case len(failed) > 0:
		fmt.Fprintf(s.stdout, "neither flat nor filling declared budgets within --max-memory: %s\n", strings.Join(failed, ", "))
		return 1
	case len(undecided) > 0:
		fmt.Fprintf(s.stdout, "undecided after %v of load past --duration (--extend %v): %s\n", s.extended, s.extend, strings.Join(undecided, ", "))
		return 3
	}
	return 0
}

// passes reports whether rep is a receiver's heap that soak accepts: flat,
// or growing only inside its declared budgets with a projected live-heap
// ceiling under --max-memory.
func (s *soaker) passes(rep heapwatch.Report) bool {
	switch rep.Growth {
	case heapwatch.Flat:
		return true
	case heapwatch.Filling:
		return rep.Ceiling > 0 && rep.Ceiling < float64(s.maxMemory)
	}
	return false
}

// report analyses a run's samples after the warm-up; or all of them when
// the run was stopped early, perhaps before the warm-up ended. Once the
// load went on past --duration, it analyses the newest (--duration minus
// --warmup) of them: a window as long as the one first judged, which
// slides past a step that left it undecided. The children's warm-up is
// the soak's: the samples judged are all past it.
func (s *soaker) report(run *soakRun) heapwatch.Report {
	var samples []heapwatch.Sample
	for _, row := range run.rows {
		if row.elapsed >= s.warmup || run.stopped != "" {
			samples = append(samples, row.sample)
		}
	}
	opt := heapwatch.AnalyzeOptions{Window: -1, WarmUp: s.warmup}
	if s.extended > 0 && run.stopped == "" {
		opt.Window = s.duration - s.warmup
	}
	if opt.WarmUp <= 0 || run.stopped != "" {
		opt.WarmUp = -1 // no warm-up left to wait for
	}
	return heapwatch.Analyze(samples, opt)
}

// childExitWait is how long a child may take to exit once told to: a
// receiver with a large heap on a busy machine may need a while to finish
// a scrape and exit.
const childExitWait = 15 * time.Second

// stopChildren closes each child's stdin, which tells it to stop, and
// kills any that has not exited after childExitWait.
func (s *soaker) stopChildren() {
	for _, run := range s.runs {
		run.stdin.Close()
	}
	var killed atomic.Bool
	deadline := time.AfterFunc(childExitWait, func() {
		killed.Store(true)
		for _, run := range s.runs {
			run.cmd.Process.Kill()
		}
	})
	defer deadline.Stop()
	for _, run := range s.runs {
		err := run.cmd.Wait()
		switch {
		case err == nil || run.stopped != "":
		case killed.Load() && run.cmd.ProcessState != nil && !run.cmd.ProcessState.Exited():
			fmt.Fprintf(s.stderr, "ingest soak: receiver %s did not exit within %v of the end of the load and was killed (its samples are kept)\n",
				run.name, childExitWait)
		default:
			fmt.Fprintf(s.stderr, "ingest soak: receiver %s: %v\n", run.name, err)
		}
	}
}

// drain records what the children wrote before they exited and waits for
// the goroutines that read their output.
func (s *soaker) drain() {
	done := make(chan struct{})
	go func() {
		s.readers.Wait()
		close(done)
	}()
	for {
		select {
		case tr := <-s.reports:
			s.record(tr)
		case <-done:
			return
		}
	}
}

func (s *soaker) writeCSV(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"seconds", "receiver", "lines", "keys", "live_bytes", "objects", "bytes_per_object",
		"heap_objects_bytes", "heap_unused_bytes", "heap_free_bytes", "heap_released_bytes",
		"total_bytes", "retained_bytes", "rss_bytes", "goroutines", "gc_cycles",
		"memstats_mallocs", "memstats_frees", "memstats_heap_objects", "tracked_bytes", "budgets"})
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	for _, run := range s.runs {
		for _, row := range run.rows {
			sm := row.sample
			rss := ""
			if sm.RSSKnown {
				rss = u(sm.RSS)
			}
			w.Write([]string{
				strconv.FormatFloat(row.elapsed.Seconds(), 'f', 3, 64), run.name,
				strconv.FormatInt(row.lines, 10), strconv.FormatInt(row.keys, 10),
				u(sm.LiveBytes), u(sm.Objects), strconv.FormatFloat(sm.BytesPerObject(), 'f', 1, 64),
				u(sm.HeapObjects), u(sm.HeapUnused), u(sm.HeapFree), u(sm.HeapReleased),
				u(sm.Total), u(sm.Retained()), rss, u(sm.Goroutines), u(sm.GCCycles),
				u(row.printHeap.Mallocs), u(row.printHeap.Frees), u(row.printHeap.HeapObjects),
				strconv.FormatInt(trackedBytes(sm), 10), budgetsText(sm),
			})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// trackedBytes is the sum of the bytes the budgets of sm report.
func trackedBytes(sm heapwatch.Sample) int64 {
	var n int64
	for _, b := range sm.Budgets {
		n += max(b.Bytes, 0)
	}
	return n
}

// budgetsText lists the budgets of sm as name=bytes/limit_bytes:entries/limit_entries,
// separated by spaces.
func budgetsText(sm heapwatch.Sample) string {
	var b strings.Builder
	for i, x := range sm.Budgets {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d/%d:%d/%d", x.Name, x.Bytes, x.LimitBytes, x.Entries, x.LimitEntries)
	}
	return b.String()
}

func scenarioNames() string {
	var names []string
	for _, s := range soakScenarios {
		names = append(names, s.name)
	}
	return strings.Join(names, ", ")
}

func scenarioHelp() string {
	var b strings.Builder
	for _, s := range soakScenarios {
		fmt.Fprintf(&b, "  %-12s %s\n", s.name, s.about)
	}
	return b.String()
}

func mib(v uint64) string { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }

func rssText(s heapwatch.Sample) string {
	if !s.RSSKnown {
		return "n/a"
	}
	return mib(s.RSS)
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
