package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flatheap/ingest/internal/loadgen"
	"github.com/flatheap/ingest/routemetrics"
)

// The scanner scenario: a scanner's flood of distinct junk paths among an
// application's real routes (loadgen.ScannerMix), against the ingest
// receiver's route store. The child watches the real routes' series while
// the load runs and reports, at the end, what the store holds; the parent
// puts that beside what the sender sent and gives the verdict: every real
// route, the new one included, has its own series within scannerWait of
// its second line and keeps it to the end; no junk path seen once holds a
// key at the end, and the junk seen twice holds only keys no real route
// needed; sum(http_requests_total) equals the lines the receiver got; the
// RSS stays within the bound of the tracked budgets.

// scannerWait bounds the time from a real route's second line to its own
// series.
const scannerWait = 2 * time.Second

// scannerPoll is how often the child looks at the real routes' series.
const scannerPoll = 50 * time.Millisecond

// scannerRoute is what the child saw of one real route.
type scannerRoute struct {
	Route string `json:"route"`
	// HeldAt is when the child first saw the route with series of its
	// own; zero if never. LostAt is when it first saw them gone, or their
	// count go down (evicted and admitted again between two looks); zero
	// if never.
	HeldAt time.Time `json:"held_at"`
	LostAt time.Time `json:"lost_at"`
	// Requests is the count of the route's series at the end.
	Requests uint64 `json:"requests"`
	State    string `json:"state"`
	last     uint64 // the count at the last look
}

// scannerReport is the child's last report in the scanner scenario.
type scannerReport struct {
	Routes []scannerRoute `json:"routes"`
	// Keys held at the end, by kind of route.
	RealKeys, JunkOnceKeys, JunkTwiceKeys, CatchAllKeys, OtherKeys int
	Series, Limit                                                  int
	// Sum is the sum of http_requests_total over the exposition, and
	// Expired the lines of expired keys; Lines the lines the receiver
	// handled.
	Sum, Expired uint64
	Lines        int64
	// The Server's counts of datagrams dropped: by the kernel (its
	// receive buffer was full) and left unread at the stop.
	DroppedKernel, DroppedClosed uint64
	// The store's counters.
	Unadmitted, Overflows, Evicted, Halvings, Rotations uint64
	AdmissionBytes, LimitBytes                          int64
}

// watchRoutes looks at the real routes' series every scannerPoll until ctx
// ends, recording when each first held series and whether it lost them.
func (ir *ingestReceiver) watchRoutes(ctx context.Context) {
	t := time.NewTicker(scannerPoll)
	defer t.Stop()
	for {
		ir.lookAtRoutes(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// lookAtRoutes records the real routes' states at now.
func (ir *ingestReceiver) lookAtRoutes(now time.Time) {
	ir.scanMu.Lock()
	defer ir.scanMu.Unlock()
	vhost, get := []byte(loadgen.ScannerVHost), []byte("GET")
	for i := range ir.scanRoutes {
		r := &ir.scanRoutes[i]
		ex := ir.store.ExplainRoute(vhost, []byte(r.Route), get, false)
		r.State = ex.State
		switch {
		case ex.Series && r.HeldAt.IsZero():
			r.HeldAt = now
		case !r.HeldAt.IsZero() && r.LostAt.IsZero() && (!ex.Series || ex.Requests < r.last):
			r.LostAt = now
		}
		r.last, r.Requests = ex.Requests, ex.Requests
	}
}

// requestsLine matches a sample of http_requests_total: its route and
// value.
var requestsLine = regexp.MustCompile(`(?m)^http_requests_total\{[^}]*route="([^"]*)"[^}]*\} ([0-9]+)$`)

// scannerFinal returns the child's last report; the receiver has stopped.
func (ir *ingestReceiver) scannerFinal() *scannerReport {
	ir.lookAtRoutes(time.Now())
	var b bytes.Buffer
	ir.store.WritePrometheus(&b)
	st := ir.store.Stats()
	rep := &scannerReport{
		Routes: slices.Clone(ir.scanRoutes), Series: st.Series, Limit: st.Limit, Expired: st.ExpiredRequests,
		Lines: ir.lines.Load(), Unadmitted: st.Unadmitted, Overflows: st.Overflows, Evicted: st.Evicted,
		Halvings: st.Halvings, Rotations: st.Rotations, AdmissionBytes: st.AdmissionBytes, LimitBytes: st.LimitBytes,
	}
	if srv := ir.srv.Load(); srv != nil {
		sst := srv.Stats()
		rep.DroppedKernel, rep.DroppedClosed = sst.DroppedKernel, sst.DroppedClosed
	}
	real := map[string]bool{}
	for _, r := range ir.scanRoutes {
		real[r.Route] = true
	}
	for _, m := range requestsLine.FindAllStringSubmatch(b.String(), -1) {
		n, _ := strconv.ParseUint(m[2], 10, 64)
		rep.Sum += n
		rt := m[1]
		switch j, junk := loadgen.ScannerJunkIndex(rt, ir.scanSeed); {
		case real[rt]:
			rep.RealKeys++
		case junk && ir.scanMix.Repeated(j):
			rep.JunkTwiceKeys++
		case junk:
			rep.JunkOnceKeys++
		case rt == routemetrics.Overflow || rt == routemetrics.Unadmitted || rt == routemetrics.Unmatched:
			rep.CatchAllKeys++
		default:
			rep.OtherKeys++
		}
	}
	return rep
}

// scannerVerdict prints the scanner scenario's checks for the run of the
// ingest receiver and returns 0 when every one passed, 1 otherwise.
func (s *soaker) scannerVerdict(res loadgen.Result, maxSeries int) int {
	w := s.stdout
	var run *soakRun
	for _, r := range s.runs {
		if r.name == "ingest" {
			run = r
		}
	}
	budget := "the default budget"
	if maxSeries > 0 {
		budget = "--max-series " + strconv.Itoa(maxSeries)
	}
	fmt.Fprintf(w, "\nscanner verdict (%s):\n", budget)
	if run == nil || run.scanner == nil || res.Scanner == nil {
		fmt.Fprintln(w, "  FAIL: no report from the ingest receiver")
		return 1
	}
	rep, sent := run.scanner, res.Scanner
	var fails []string
	fail := func(format string, a ...any) { fails = append(fails, fmt.Sprintf(format, a...)) }

	fmt.Fprintf(w, "  %-26s %6s %12s %12s %8s  %s\n", "route", "lines", "second line", "own series", "after", "kept to the end")
	for i, sr := range sent.Routes {
		var rr scannerRoute
		if i < len(rep.Routes) {
			rr = rep.Routes[i]
		}
		name := sr.Route
		if i == len(sent.Routes)-1 {
			name += " (new)"
		}
		at := func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return "+" + t.Sub(s.start0).Round(10*time.Millisecond).String()
		}
		after, kept := "", "yes"
		if !rr.LostAt.IsZero() {
			kept = "no, lost at " + at(rr.LostAt)
		}
		switch {
		case rr.Route != sr.Route:
			fail("%s: no report", sr.Route)
		case sr.Lines < 2:
			fail("%s: %d lines sent, want at least 2", sr.Route, sr.Lines)
		case rr.HeldAt.IsZero():
			fail("%s: never got a series of its own (%s at the end)", sr.Route, rr.State)
		default:
			d := rr.HeldAt.Sub(sr.Second)
			after = d.Round(10 * time.Millisecond).String()
			if d > scannerWait {
				fail("%s: got its series %v after its second line", sr.Route, d.Round(time.Millisecond))
			}
		}
		if !rr.LostAt.IsZero() {
			fail("%s: lost its series at %s", sr.Route, at(rr.LostAt))
		}
		fmt.Fprintf(w, "  %-26s %6d %12s %12s %8s  %s\n", name, sr.Lines, at(sr.Second), at(rr.HeldAt), after, kept)
	}

	fmt.Fprintf(w, "  keys held at the end: %d of %d: %d of real routes, %d of junk seen twice, %d of junk seen once, %d catch-all, %d other\n",
		rep.Series, rep.Limit, rep.RealKeys, rep.JunkTwiceKeys, rep.JunkOnceKeys, rep.CatchAllKeys, rep.OtherKeys)
	if rep.JunkOnceKeys > 0 {
		fail("%d keys of junk paths seen once", rep.JunkOnceKeys)
	}
	if rep.OtherKeys > 0 {
		fail("%d keys of routes that are neither real nor junk", rep.OtherKeys)
	}
	// Junk seen twice holds only what the real routes left: every real
	// route held its series to the end (checked above), and a junk key
	// never took a place while a real route was refused one.
	fmt.Fprintf(w, "  junk sent: %d distinct paths, %d lines (%d repeats)\n", sent.JunkPaths, sent.JunkLines, sent.JunkLines-sent.JunkPaths)
	fmt.Fprintf(w, "  store: %d lines unadmitted, %d overflowed, %d keys evicted, %d halvings, %d doorkeeper rotations\n",
		rep.Unadmitted, rep.Overflows, rep.Evicted, rep.Halvings, rep.Rotations)

	// Every line the receiver got is counted once.
	fmt.Fprintf(w, "  lines: %d sent, %d received; the kernel dropped %d datagrams (receive buffer full, the sender shares the cores), %d left unread at the stop, %d send errors\n",
		res.Lines, rep.Lines, rep.DroppedKernel, rep.DroppedClosed, res.SendErrors)
	fmt.Fprintf(w, "  sum(http_requests_total) %d + %d expired = %d, lines received %d\n", rep.Sum, rep.Expired, rep.Sum+rep.Expired, rep.Lines)
	if rep.Sum+rep.Expired != uint64(rep.Lines) {
		fail("sum(http_requests_total) %d + %d expired, %d lines received", rep.Sum, rep.Expired, rep.Lines)
	}

	// The RSS stays within the budgets' bound: the RSS before the load,
	// plus twice the tracked budgets' limits (the Go heap may reach twice
	// the live heap before a collection, GOGC=100).
	if len(run.rows) > 0 {
		first := run.rows[0].sample
		var maxRSS uint64
		for _, row := range run.rows {
			maxRSS = max(maxRSS, row.sample.RSS)
		}
		var limits int64
		var parts []string
		for _, b := range run.rows[len(run.rows)-1].sample.Budgets {
			limits += b.LimitBytes
			parts = append(parts, fmt.Sprintf("%s %s", b.Name, mib(uint64(b.LimitBytes))))
		}
		bound := first.RSS + 2*uint64(limits)
		fmt.Fprintf(w, "  RSS: at most %s; bound %s (%s at the first sample + 2 x the budgets' limits: %s)\n",
			mib(maxRSS), mib(bound), mib(first.RSS), strings.Join(parts, ", "))
		if !first.RSSKnown {
			fail("RSS unknown")
		} else if maxRSS > bound {
			fail("RSS %s above the bound %s", mib(maxRSS), mib(bound))
		}
	}
	if len(fails) > 0 {
		fmt.Fprintf(w, "  FAIL: %s\n", strings.Join(fails, "; "))
		return 1
	}
	fmt.Fprintln(w, "  pass: every real route got its own series within "+scannerWait.String()+" of its second line and kept it; no junk seen once holds a key; every line received is counted once; the RSS stayed within its bound")
	return 0
}
