// Command soak sends access-log lines over loopback UDP to several
// receivers, each in a child process of its own, and shows whether each
// one's heap stays flat: the ingest library's way beside the usual ways a
// daemon keeps per-path state. From the repository's root:
//
//	go run -C bench/soak . [flags]
//
// It lives in a module of its own so that the library's module requires
// none of what only the comparison needs (a plotting library, a metrics
// library). The program runs its receivers by running itself again with
// the child command as its first argument; see child.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/flatheap/ingest/internal/loadgen"
)

var soakUsage = `Usage: soak [flags]   (from the repository root: go run -C bench/soak . [flags])

Send access-log lines over loopback UDP to several receivers and show
whether each receiver's heap stays flat. Each receiver runs in a child
process of its own and gets the same load from one sender:

  ingest  the library: fixed receive buffers, zero-copy parsing, per-path
          counts keyed by interned paths, at most --max-paths of them
  naive   the usual daemon: string(buf[:n]) per datagram, a strings-based
          parse into a struct of string fields, a plain map keyed by path
  views   the naive optimisation: zero-copy views into pooled read buffers
          kept as map keys
  labels  the common exporter pattern: one Prometheus series (a counter and
          a histogram, github.com/VictoriaMetrics/metrics) per raw path

Each scenario has its receivers (--receivers chooses others). In the routes
and scanner scenarios the ingest receiver also keeps per-route metrics, as
"ingest serve" does, within --max-series. The scanner scenario lasts as
long as its mix (about 60 s) and adds a verdict of its own: every real
route has its own series within 2 s of its second line and keeps it, no
junk path seen once holds a key, every line received is counted once, and
the RSS stays within the tracked budgets' bound; any failed check makes
the exit status 1.

The children are sampled with the heapwatch package every --interval (the
child forces a GC when none ran since its last sample, so that the live heap
is current). A receiver's bounded structures (the ingest receiver's
Interner, path table and route store) are tracked as heapwatch budgets. Each
sample also records what a heap monitor built on runtime.MemStats
prints: Mallocs, Frees and HeapObjects, read before any GC the child
forces (in the table with --printheap). A table is printed every
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
for at most --extend more, until the verdict is decided. --profile-every
makes each receiver record every allocation and write "runtime.GC, then
the heap profile" into --out, for "go tool pprof -base".

Exit status: 0 when the ingest receiver is flat, or filling its declared
budgets with a projected live-heap ceiling under --max-memory; 1 when it is
growing, filling past --max-memory, or was stopped (--max-memory, or an
interrupt); 2 for usage and setup errors; 3 when its verdict is still
undecided after --extend. Without the ingest receiver, the same test
applies to every receiver run: 1 when any fails, else 3 when any is
undecided. "go run" reports these as "exit status N" and itself exits 1
for any of them; build the program to see them as its own status.

Flags:
`

// A soakScenario is a named load and the receivers it runs by default.
type soakScenario struct {
	name, about string
	load        loadgen.Config
	receivers   []string
}

var soakScenarios = []soakScenario{
	{"long-paths", "the case the library was built for: 1,500 lines/s, 2 KiB paths, half of the lines with a path never seen before (the default)",
		loadgen.Config{Rate: 1500, PathLength: 2048, Paths: 1000, Unique: 0.5}, []string{"ingest", "naive", "views"}},
	{"short-paths", "1,500 lines/s, every path \"/\"",
		loadgen.Config{Rate: 1500, PathLength: 1, Paths: 1}, []string{"ingest", "naive", "views"}},
	{"stress", "as fast as the sender goes, every 2 KiB path distinct",
		loadgen.Config{Rate: 0, PathLength: 2048, Unique: 1}, []string{"ingest", "naive", "views"}},
	{"routes", "route traffic at 1,500 lines/s: API paths from about 50 templates with random IDs and UUIDs, a fifth of them 2 KiB junk paths instead",
		loadgen.Config{Rate: 1500, Routes: true, Unique: 0.2}, []string{"ingest", "labels"}},
	{"scanner", "20 real routes at Zipf-like rates (the rarest at 1 line/s), then 1,000,000 distinct junk paths at 20,000/s (one in ten again 0.5 to 5 s later), a new route from a third of the way in: checks that every real route gets its own series within 2 s of its second line and keeps it, and that no junk path seen once holds one (60 s; --max-series sets the budget)",
		loadgen.Config{Scanner: &loadgen.ScannerMix{}}, []string{"ingest"}},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run runs the soak, or with childCommand first in args one receiver, and
// returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == childCommand {
		return runChild(args[1:], stdin, stdout, stderr)
	}
	return runSoak(args, stdout, stderr)
}

// newFlags returns a flag set that prints nothing itself: parseArgs does.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseArgs parses args into fs. When it returns ok false, the program
// exits with status: 0 after -h, which printed usage and the flags'
// defaults, and 2 after a bad flag, which printed one line.
func parseArgs(fs *flag.FlagSet, usage string, args []string, stderr io.Writer) (status int, ok bool) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		io.WriteString(stderr, usage)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		return 0, false
	}
	if err != nil {
		return usageError(stderr, "%v (-h for help)", err), false
	}
	return 0, true
}

// usageError prints one line to stderr, prefixed with the program's name,
// and returns exit status 2.
func usageError(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "soak: "+format+"\n", a...)
	return 2
}

func runSoak(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("soak")
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
	printHeapCols := fs.Bool("printheap", false, "add the runtime.MemStats figures a MemStats-based heap monitor prints (Mallocs, Frees, HeapObjects) to the table")
	maxSeries := fs.Int("max-series", 0, "the ingest receiver's route-metric series budget in the routes and scanner scenarios (default the store's, 10000)")
	if status, ok := parseArgs(fs, fmt.Sprintf(soakUsage, scenarioHelp()), args, stderr); !ok {
		return status
	}
	fail := func(format string, a ...any) int { return usageError(stderr, format, a...) }
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	i := slices.IndexFunc(soakScenarios, func(s soakScenario) bool { return s.name == *scenarioName })
	if i < 0 {
		return fail("unknown scenario %q: want %s", *scenarioName, scenarioNames())
	}
	sc := soakScenarios[i]
	if sc.load.Scanner != nil {
		// The mix sets the length of the load; the verdict on the heap
		// is judged over it.
		if isFlagSet(fs, "duration") || isFlagSet(fs, "extend") {
			return fail("the scanner scenario lasts as long as its mix: --duration and --extend do not apply")
		}
		m, err := sc.load.Normalize()
		if err != nil {
			return fail("scenario %s: %v", sc.name, err)
		}
		*duration, *extend = m.Scanner.Length(), 0
	}
	if *maxSeries < 0 {
		return fail("--max-series must not be negative")
	}
	if *duration <= 0 || *interval <= 0 || *tableEvery <= 0 || *maxPaths <= 0 || *maxMemory <= 0 || *warmup < 0 || *profileEvery < 0 {
		return fail("--duration, --interval, --table, --max-paths and --max-memory must be positive, --warmup and --profile-every not negative")
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
		maxMemory: uint64(*maxMemory), stdout: stdout, stderr: stderr, printHeap: *printHeapCols,
		profileDir: *outDir, profileEvery: *profileEvery, maxSeries: *maxSeries,
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
		fmt.Fprintf(stderr, "soak: sender: %v\n", sendErr)
	}
	fmt.Fprintf(stdout, "\nsent %d lines in %d datagrams to each receiver in %v (%.0f lines/s), %d send errors\n",
		res.Lines, res.Datagrams, res.Elapsed.Round(time.Millisecond), res.LinesPerSecond(), res.SendErrors)
	if s.extended > 0 {
		fmt.Fprintf(stdout, "the load went on %v past --duration (at most %v) while the verdict was undecided\n",
			s.extended, s.extend)
	}

	status := s.verdicts()
	if sc.load.Scanner != nil && ctx.Err() == nil {
		if sendErr != nil {
			fmt.Fprintln(stdout, "\nscanner verdict: FAIL: the sender stopped early")
			status = max(status, 1)
		} else {
			status = max(status, s.scannerVerdict(res, *maxSeries))
		}
	}

	base := filepath.Join(*outDir, sc.name)
	if err := s.writeCSV(base + ".csv"); err != nil {
		fmt.Fprintf(stderr, "soak: %v\n", err)
		status = max(status, 2)
	}
	if err := writeSoakPlot(base+".png", "soak "+sc.name, s.runs); err != nil {
		fmt.Fprintf(stderr, "soak: plot: %v\n", err)
		status = max(status, 2)
	}
	fmt.Fprintf(stdout, "wrote %s.csv and %s.png\n", base, base)
	if ctx.Err() != nil && status != 2 {
		// The run was not the one asked for, decided or not.
		fmt.Fprintln(stdout, "interrupted before the end of the load: exit status 1")
		return 1
	}
	return status
}

// isFlagSet reports whether the flag name was given.
func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
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
