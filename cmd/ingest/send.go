package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/flatheap/ingest/internal/loadgen"
)

var sendUsage = `Usage: ingest send (--count N | --duration D) [flags]

Send generated nginx "combined" access-log lines over UDP, the load a web
server's access_log syslog: target would send. Every datagram goes to each
--addr. The run is bounded: set --count, --duration or both (whichever is
reached first ends it); no run lasts longer than ` + loadgen.MaxRunTime.String() + `.

Paths: a --unique fraction of the lines carry a path never sent before;
the others cycle through a pool of --paths repeating paths, which is one
path unless --paths says more. The soak's load (bench/soak, scenario
long-paths), to point at a receiver of your own:

  ingest send --rate 1500 --duration 60s --path-length 2048 --paths 1000 --unique 0.5

Add --syslog 3164 for the header nginx's access_log syslog: writes.

A progress line goes to stderr every second, and a summary to stdout at the
end, also after SIGINT or SIGTERM. A datagram refused by the kernel (for
example ECONNREFUSED when nothing listens on a target) is counted, not fatal.

With --routes-mix the lines are route-metrics traffic: paths from about 50
API templates (/api/v1/users/{id}/orders/{uuid}) with random IDs, a --unique
fraction of junk paths of --path-length bytes (default 2048) instead, and
the virtual host, request time and upstream response time at the end of the
line, in this nginx log_format (printed alone by --print-format):

  ` + loadgen.RoutesLogFormat + `

The summary then says how many lines each template made: the truth a
receiver's per-route counts should match. The same --seed makes the same
lines, but for their times.

Exit status: 0 when every datagram was handed to the kernel, 1 when some
were refused, 2 for a usage error or when a socket cannot be opened or
written.

Flags:
`

func runSend(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("send", sendUsage, stderr)
	addr := fs.String("addr", loadgen.DefaultAddr, "target UDP `address`es, comma-separated; each gets every datagram")
	rate := fs.Int("rate", loadgen.DefaultRate, "lines per second; 0 sends as fast as possible")
	duration := fs.Duration("duration", 0, "stop after this long (at most "+loadgen.MaxRunTime.String()+")")
	count := fs.Int64("count", 0, "stop after this many lines")
	pathLength := fs.Int("path-length", loadgen.DefaultPathLength, "bytes in each request path")
	paths := fs.Int("paths", 1, "size of the pool of repeating paths the lines that are not --unique cycle through")
	unique := fs.Float64("unique", 0, "fraction 0..1 of lines with a path never sent before, the rest from the --paths pool; 1 makes every path unique")
	syslogName := fs.String("syslog", "none", "syslog header: none, 3164 or 5424, as nginx writes them")
	lpd := fs.Int("lines-per-datagram", 1, "lines per datagram, joined with newlines; fewer when a datagram would exceed 65507 bytes")
	batch := fs.Int("batch", loadgen.DefaultBatch, "datagrams per sendmmsg call on Linux; 1 for one write per datagram")
	seed := fs.Int64("seed", 1, "seed of the generated paths and fields")
	routesMix := fs.Bool("routes-mix", false, "send route-metrics traffic in the log_format --print-format prints (see above)")
	printFormat := fs.Bool("print-format", false, "print the nginx log_format of --routes-mix lines and exit")
	sources := fs.Int("sources", 1, "source sockets (ports) per target; batches take turns over them")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ingest send: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *printFormat {
		fmt.Fprintln(stdout, loadgen.RoutesLogFormat)
		return 0
	}
	pathLengthSet := false
	fs.Visit(func(f *flag.Flag) { pathLengthSet = pathLengthSet || f.Name == "path-length" })
	cfg := loadgen.Config{
		Rate:             *rate,
		Duration:         *duration,
		Count:            *count,
		PathLength:       *pathLength,
		Paths:            *paths,
		Unique:           *unique,
		Syslog:           *syslogName,
		LinesPerDatagram: *lpd,
		Batch:            *batch,
		Seed:             *seed,
		Routes:           *routesMix,
		Sources:          *sources,
	}
	if *routesMix && !pathLengthSet {
		cfg.PathLength = 0 // the junk paths' default
	}
	for a := range strings.SplitSeq(*addr, ",") {
		cfg.Targets = append(cfg.Targets, strings.TrimSpace(a))
	}
	// Zero values select defaults in loadgen.Config; on the command line they
	// are mistakes, except for the limits and the rate.
	for _, f := range []struct {
		name string
		v    int
	}{{"path-length", *pathLength}, {"paths", *paths}, {"lines-per-datagram", *lpd}, {"batch", *batch}, {"sources", *sources}} {
		if f.v <= 0 {
			fmt.Fprintf(stderr, "ingest send: --%s %d out of range: want 1 or more\n", f.name, f.v)
			return 2
		}
	}
	if _, err := cfg.Normalize(); err != nil {
		if errors.Is(err, loadgen.ErrUnbounded) {
			fmt.Fprintln(stderr, "ingest send: the load must be bounded: set --count, --duration or both")
		} else {
			fmt.Fprintf(stderr, "ingest send: %v\n", err)
		}
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := loadgen.Send(ctx, cfg, stderr)
	writeSummary(stdout, res)
	if err != nil {
		fmt.Fprintf(stderr, "ingest send: %v\n", err)
		return 2
	}
	if res.SendErrors > 0 {
		return 1
	}
	return 0
}

// writeSummary writes the totals, then one line per target, then for
// route traffic one line per route template and one for the junk paths.
func writeSummary(w io.Writer, r loadgen.Result) {
	fmt.Fprintf(w, "sent lines=%d datagrams=%d bytes=%d errors=%d elapsed=%s rate=%.0f lines/s targets=%d\n",
		r.Lines, r.Datagrams, r.Bytes, r.SendErrors, r.Elapsed.Truncate(time.Millisecond), r.LinesPerSecond(), len(r.PerTarget))
	for _, t := range r.PerTarget {
		rate := 0.0
		if r.Elapsed > 0 {
			rate = float64(t.Lines) / r.Elapsed.Seconds()
		}
		fmt.Fprintf(w, "target %s lines=%d datagrams=%d bytes=%d errors=%d calls=%d rate=%.0f lines/s\n",
			t.Addr, t.Lines, t.Datagrams, t.Bytes, t.SendErrors, t.Calls, rate)
	}
	for _, rc := range r.Routes {
		fmt.Fprintf(w, "route %s lines=%d\n", rc.Route, rc.Lines)
	}
	if r.Routes != nil {
		fmt.Fprintf(w, "junk lines=%d\n", r.Junk)
	}
}
