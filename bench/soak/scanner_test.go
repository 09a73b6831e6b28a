package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/internal/loadgen"
)

// TestScannerVerdict checks the scanner scenario's verdict on made-up
// reports: a run that meets every check passes, and breaking any one
// check fails it with a line that says which.
func TestScannerVerdict(t *testing.T) {
	start := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	const mib = 1 << 20
	good := func() (*soaker, loadgen.Result) {
		sent := &loadgen.ScannerResult{JunkPaths: 1000, JunkLines: 1100}
		rep := &scannerReport{Series: 30, Limit: 200, RealKeys: 2, JunkTwiceKeys: 24, CatchAllKeys: 4,
			Sum: 1110, Lines: 1110}
		for i, r := range []string{"/api/v2/cart/{id}", "/api/v2/checkout/{id}"} {
			second := start.Add(time.Duration(i+1) * time.Second)
			sent.Routes = append(sent.Routes, loadgen.ScannerRoute{Route: r, Lines: 5, First: second.Add(-time.Second), Second: second})
			rep.Routes = append(rep.Routes, scannerRoute{Route: r, HeldAt: second.Add(time.Second), Requests: 4, State: "admitted"})
		}
		budgets := []heapwatch.BudgetSample{{Name: "routes", Usage: heapwatch.Usage{LimitBytes: 10 * mib}}}
		run := &soakRun{name: "ingest", scanner: rep, rows: []soakRow{
			{sample: heapwatch.Sample{RSS: 10 * mib, RSSKnown: true, Budgets: budgets}},
			{sample: heapwatch.Sample{RSS: 25 * mib, RSSKnown: true, Budgets: budgets}},
		}}
		return &soaker{runs: []*soakRun{run}, start0: start}, loadgen.Result{Lines: 1110, Scanner: sent}
	}
	verdict := func(s *soaker, res loadgen.Result) (int, string) {
		var out bytes.Buffer
		s.stdout = &out
		return s.scannerVerdict(res, 200), out.String()
	}
	s, res := good()
	if status, out := verdict(s, res); status != 0 || !strings.Contains(out, "  pass: ") {
		t.Fatalf("status %d:\n%s", status, out)
	}
	for _, c := range []struct {
		want    string
		breakIt func(*soaker, loadgen.Result)
	}{
		{"got its series 3s after its second line", func(s *soaker, _ loadgen.Result) {
			s.runs[0].scanner.Routes[1].HeldAt = s.runs[0].scanner.Routes[1].HeldAt.Add(2 * time.Second)
		}},
		{"/api/v2/cart/{id}: never got a series of its own", func(s *soaker, _ loadgen.Result) {
			s.runs[0].scanner.Routes[0].HeldAt = time.Time{}
		}},
		{"/api/v2/cart/{id}: lost its series", func(s *soaker, _ loadgen.Result) {
			s.runs[0].scanner.Routes[0].LostAt = start.Add(5 * time.Second)
		}},
		{"3 keys of junk paths seen once", func(s *soaker, _ loadgen.Result) { s.runs[0].scanner.JunkOnceKeys = 3 }},
		{"1 keys of routes that are neither", func(s *soaker, _ loadgen.Result) { s.runs[0].scanner.OtherKeys = 1 }},
		{"sum(http_requests_total) 1109", func(s *soaker, _ loadgen.Result) { s.runs[0].scanner.Sum-- }},
		{"RSS 30.1 MiB above the bound 30.0 MiB", func(s *soaker, _ loadgen.Result) {
			s.runs[0].rows[1].sample.RSS = 30*mib + mib/10
		}},
		{"1 lines sent, want at least 2", func(_ *soaker, res loadgen.Result) { res.Scanner.Routes[1].Lines = 1 }},
		{"no report from the ingest receiver", func(s *soaker, _ loadgen.Result) { s.runs[0].scanner = nil }},
	} {
		s, res := good()
		c.breakIt(s, res)
		status, out := verdict(s, res)
		if status != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, c.want) {
			t.Errorf("%s: status %d:\n%s", c.want, status, out)
		}
	}
}

// TestScannerFlags checks the scanner scenario's usage errors: the mix
// sets the length of the load, and the budget is not negative.
func TestScannerFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--scenario", "scanner", "--duration", "10s"},
		{"--scenario", "scanner", "--extend", "0s"},
		{"--scenario", "scanner", "--max-series", "-1"},
	} {
		var stdout, stderr bytes.Buffer
		if code := runSoak(append(args, "--out", t.TempDir()), &stdout, &stderr); code != 2 || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, stderr.String())
		}
	}
}
