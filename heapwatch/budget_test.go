package heapwatch

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fillTo is a structure filling at perSec bytes a second up to limit, with
// one entry per 2 KiB value; from is when it starts.
func fillTo(limit, perSec float64) func(t float64) float64 {
	return func(t float64) float64 { return min(perSec*max(t, 0), limit) }
}

// interner is a synthetic Interner of 8 MiB holding fill(t) bytes in 2 KiB
// values (one object each), refusing refused(t) values so far.
func interner(fill func(float64) float64, refused func(float64) float64) synthBudget {
	return synthBudget{name: "interner", usage: func(t float64) Usage {
		b := fill(t)
		return Usage{Bytes: int64(b), LimitBytes: 8 * mib, Entries: int64(b / 2048), LimitEntries: 65536,
			Refused: uint64(refused(t))}
	}}
}

// withBudget adds what fill holds to p's live heap and objects, as the
// real structure would, and tracks it.
func withBudget(p *proc, fill func(float64) float64, reported func(float64) float64, refused func(float64) float64) {
	live, objs := p.live, p.objs
	p.live = func(t float64) float64 { return live(t) + fill(t) }
	p.objs = func(t float64) float64 { return objs(t) + fill(t)/2048 }
	p.budgets = append(p.budgets, interner(reported, refused))
}

// forEachProc runs check on a flat synthetic process edited by edit, under
// GCs slower and faster than the sampling, over many seeds.
func forEachProc(t *testing.T, seconds int, edit func(p *proc), check func(r Report) bool) {
	t.Helper()
	for _, gc := range []float64{3, 0.7} {
		for seed := range uint64(20) {
			p := flatProc(seed)
			p.seconds = seconds
			p.gcPeriod = gc
			p.garbage *= gc / 3
			p.garbageObj *= gc / 3
			edit(&p)
			r := Analyze(p.samples(), AnalyzeOptions{})
			if !check(r) {
				t.Fatalf("GC every %vs, seed %d: %s (%s)", gc, seed, r, r.Reason)
			}
		}
	}
}

func TestAnalyze_Filling(t *testing.T) {
	fill := fillTo(8*mib, 100*kib) // full after 82 s
	forEachProc(t, 60, func(p *proc) { withBudget(p, fill, fill, constant(0)) }, func(r Report) bool {
		return r.Growth == Filling && !r.Growth.Growing() && len(r.Budgets) == 1 &&
			r.Budgets[0].State == BudgetFilling &&
			strings.HasPrefix(r.String(), "filling declared budgets: interner 5.8 of 8.0 MiB (72%); the rest flat at ") && strings.Contains(r.String(), "; ceiling 2") &&
			r.Ceiling > 27.5*mib && r.Ceiling < 28.5*mib
	})
	// Full after 82 s: the window from 120 s to 180 s is flat.
	forEachProc(t, 180, func(p *proc) { withBudget(p, fill, fill, constant(0)) }, func(r Report) bool {
		return r.Growth == Flat && r.Budgets[0].State == BudgetSteady && r.Budgets[0].Bytes == 8*mib
	})
}

func TestAnalyze_FillingWithALeakBeside(t *testing.T) {
	fill := fillTo(8*mib, 100*kib)
	forEachProc(t, 60, func(p *proc) {
		p.live = linear(20*mib, 50*kib) // +15% a minute
		p.objs = linear(200e3, 500)     // 100 B each: values per key
		withBudget(p, fill, fill, constant(0))
	}, func(r Report) bool {
		s := r.String()
		return r.Growth == PerKey && strings.HasPrefix(s, "growing: values kept per distinct key beyond the declared budgets (unaccounted +") &&
			strings.Contains(s, "; also filling declared budgets: interner ")
	})
	forEachProc(t, 60, func(p *proc) {
		p.live = linear(20*mib, 64*kib) // a pinned 64 KiB buffer a second
		p.objs = linear(200e3, 1)
		withBudget(p, fill, fill, constant(0))
	}, func(r Report) bool {
		return r.Growth == PinnedBuffers && strings.Contains(r.String(), "also filling declared budgets: interner")
	})
}

func TestAnalyze_AtBudget(t *testing.T) {
	full := constant(8 * mib)
	forEachProc(t, 60, func(p *proc) { withBudget(p, full, full, linear(1e6, 1200)) }, func(r Report) bool {
		return r.Growth == Flat && r.Budgets[0].State == BudgetAtLimit &&
			strings.HasSuffix(r.String(), "; at budget: interner 8.0 of 8.0 MiB (100%), refusing 1,200/s")
	})
	// Full but refusing nothing, or refusing while far from the limit (an
	// Interner refuses first sightings): not at budget.
	forEachProc(t, 60, func(p *proc) { withBudget(p, full, full, constant(1e6)) }, func(r Report) bool {
		return r.Growth == Flat && r.Budgets[0].State == BudgetSteady && !strings.Contains(r.String(), "at budget")
	})
	half := constant(4 * mib)
	forEachProc(t, 60, func(p *proc) { withBudget(p, half, half, linear(0, 1200)) }, func(r Report) bool {
		return r.Growth == Flat && r.Budgets[0].State == BudgetSteady
	})
}

// A structure that reports half of what it holds: the other half is in
// the unaccounted heap, which grows, and is reported as a leak.
func TestAnalyze_BudgetThatLies(t *testing.T) {
	fill := fillTo(8*mib, 100*kib)
	half := func(t float64) float64 { return fill(t) / 2 }
	forEachProc(t, 60, func(p *proc) {
		live, objs := p.live, p.objs
		p.live = func(t float64) float64 { return live(t) + fill(t) }
		p.objs = func(t float64) float64 { return objs(t) + fill(t)/2048 }
		p.budgets = []synthBudget{{name: "liar", usage: func(t float64) Usage {
			return Usage{Bytes: int64(half(t)), LimitBytes: 8 * mib, Entries: int64(half(t) / 2048)}
		}}}
	}, func(r Report) bool {
		return r.Growth.Growing() && strings.Contains(r.String(), "beyond the declared budgets (unaccounted +")
	})
}

// A budget with an entry limit only projects its ceiling from its bytes
// per entry; one with no limit leaves the ceiling unknown.
func TestAnalyze_Ceiling(t *testing.T) {
	fill := fillTo(8*mib, 100*kib)
	paths := func(limit int64) synthBudget {
		return synthBudget{name: "paths", usage: func(t float64) Usage {
			n := int64(min(100*t, 9800))
			return Usage{Bytes: n * 100, Entries: n, LimitEntries: limit}
		}}
	}
	forEachProc(t, 60, func(p *proc) {
		withBudget(p, fill, fill, constant(0))
		p.budgets = append(p.budgets, paths(10_000))
	}, func(r Report) bool {
		s := r.String()
		return r.Growth == Filling && strings.Contains(s, "interner 5.8 of 8.0 MiB (72%), paths 5,900 of 10,000 (59%);") &&
			r.Ceiling > 28.3*mib && r.Ceiling < 29.3*mib && strings.Contains(s, "; ceiling 28.")
	})
	forEachProc(t, 60, func(p *proc) {
		withBudget(p, fill, fill, constant(0))
		p.budgets = append(p.budgets, paths(0))
	}, func(r Report) bool {
		return r.Growth == Filling && r.Ceiling == 0 && strings.HasSuffix(r.String(), "; no ceiling: paths has no limit")
	})
}

func TestMonitor_Track(t *testing.T) {
	m := New(Config{})
	m.read = func() Sample { return Sample{Time: t0, GCCycles: 1} }
	if s := m.Read(); s.Budgets != nil {
		t.Fatalf("no budgets tracked, got %v", s.Budgets)
	}
	n := int64(0)
	if err := m.Track("a", func() Usage { n++; return Usage{Bytes: n, LimitBytes: 10} }); err != nil {
		t.Fatal(err)
	}
	if err := m.Track("b", func() Usage { return Usage{Entries: 3} }); err != nil {
		t.Fatal(err)
	}
	s := m.Read()
	want := []BudgetSample{{"a", Usage{Bytes: 1, LimitBytes: 10}}, {"b", Usage{Entries: 3}}}
	if !equalBudgets(s.Budgets, want) {
		t.Fatalf("Read: %v, want %v", s.Budgets, want)
	}
	// Tracking a name again replaces it in place; nil removes it.
	if err := m.Track("a", func() Usage { return Usage{Bytes: 7} }); err != nil {
		t.Fatal(err)
	}
	if got := m.Budgets(); !equalBudgets(got, []BudgetSample{{"a", Usage{Bytes: 7}}, {"b", Usage{Entries: 3}}}) {
		t.Fatalf("after replacing a: %v", got)
	}
	if err := m.Track("a", nil); err != nil {
		t.Fatal(err)
	}
	if got := m.Budgets(); !equalBudgets(got, []BudgetSample{{"b", Usage{Entries: 3}}}) {
		t.Fatalf("after removing a: %v", got)
	}
	if err := m.Track("", func() Usage { return Usage{} }); err != ErrBudgetName {
		t.Fatalf("empty name: %v", err)
	}
	for i := range MaxBudgets - 1 {
		if err := m.Track(string(rune('c'+i)), func() Usage { return Usage{} }); err != nil {
			t.Fatal(i, err)
		}
	}
	if err := m.Track("one too many", func() Usage { return Usage{} }); err != ErrTooManyBudgets {
		t.Fatalf("past MaxBudgets: %v", err)
	}
	if err := m.Track("b", func() Usage { return Usage{} }); err != nil {
		t.Fatalf("replacing when full: %v", err)
	}
	if got := len(m.Read().Budgets); got != MaxBudgets {
		t.Fatalf("%d budgets read, want %d", got, MaxBudgets)
	}

	// Run's samples carry the budgets.
	m.step(m.Read())
	if last, _ := m.Last(); len(last.Budgets) != MaxBudgets {
		t.Fatalf("ring sample has %d budgets", len(last.Budgets))
	}
}

func equalBudgets(a, b []BudgetSample) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Samples with budgets survive JSON, the way soak's children send them,
// and are judged the same after.
func TestSample_BudgetsJSON(t *testing.T) {
	p := flatProc(1)
	fill := fillTo(8*mib, 100*kib)
	withBudget(&p, fill, fill, linear(0, 10))
	in := p.samples()
	b, err := json.Marshal(in[10])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"budgets":[{"name":"interner","bytes":1024000,"limit_bytes":8388608,"entries":500,"limit_entries":65536,"refused":100}]`) {
		t.Fatalf("JSON: %s", b)
	}
	var out []Sample
	for _, s := range in {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Sample
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		out = append(out, back)
	}
	if a, b := Analyze(in, AnalyzeOptions{}).String(), Analyze(out, AnalyzeOptions{}).String(); a != b {
		t.Fatalf("judged differently after JSON:\n%s\n%s", a, b)
	}
	if b, _ := json.Marshal(Sample{}); strings.Contains(string(b), "budgets") {
		t.Fatalf("empty budgets are written: %s", b)
	}
}

// Samples from another process may carry anything: more than MaxBudgets
// budgets, duplicates, negative figures. Analyze reads the first
// MaxBudgets distinct names and never fails.
func TestAnalyze_BadBudgets(t *testing.T) {
	p := flatProc(1)
	s := p.samples()
	for i := range s {
		for k := range 3 * MaxBudgets {
			s[i].Budgets = append(s[i].Budgets, BudgetSample{Name: string(rune('a' + k%20)),
				Usage: Usage{Bytes: -5, LimitBytes: -1, Entries: -3, Refused: uint64(k)}})
		}
	}
	r := Analyze(s, AnalyzeOptions{})
	if r.Growth != Flat || len(r.Budgets) != MaxBudgets {
		t.Fatalf("%s, %d budgets", r, len(r.Budgets))
	}
	if r.Tracked.Median != 0 {
		t.Fatalf("negative bytes counted: %+v", r.Tracked)
	}
}

// Track, Budgets, Report and Summary while Run samples: run with -race.
func TestMonitor_TrackDuringRun(t *testing.T) {
	m := New(Config{Interval: time.Millisecond, Window: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { m.Run(ctx) })
	for i := range 200 {
		name := "s" + strconv.Itoa(i%(MaxBudgets+4))
		err := m.Track(name, func() Usage { return Usage{Bytes: int64(i)} })
		if err != nil && err != ErrTooManyBudgets {
			t.Error(err)
		}
		if i%3 == 0 {
			m.Track(name, nil)
		}
		_ = m.Budgets()
		_ = m.Summary()
	}
	cancel()
	wg.Wait()
	if len(m.Budgets()) > MaxBudgets {
		t.Fatalf("%d budgets tracked", len(m.Budgets()))
	}
	for _, s := range m.Samples() {
		if len(s.Budgets) > MaxBudgets {
			t.Fatalf("a sample with %d budgets", len(s.Budgets))
		}
	}
}

func TestFormatRate(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{{1200, "1,200/s"}, {12.4, "12/s"}, {0.5, "0.5/s"}, {2.94, "2.9/s"}, {0.0163, "0.016/s"}, {0.0002, "<0.001/s"},
		{1234567, "1,234,567/s"}} {
		if got := formatRate(c.in); got != c.want {
			t.Errorf("formatRate(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in   int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {-9800, "-9,800"}, {10000, "10,000"}} {
		if got := groupDigits(c.in); got != c.want {
			t.Errorf("groupDigits(%d) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := formatBytesOf(6.1*mib, 8*mib); got != "6.1 of 8.0 MiB" {
		t.Errorf("formatBytesOf: %q", got)
	}
	if got := formatBytesOf(512, 1000); got != "512 of 1000 B" {
		t.Errorf("formatBytesOf: %q", got)
	}
}

// The words of the budget verdicts, on a Report built by hand.
func TestReport_BudgetWords(t *testing.T) {
	rising := Trend{Slope: 1, Start: 0, End: 60, N: 60}
	interner := BudgetReport{BudgetSample: BudgetSample{Name: "interner",
		Usage: Usage{Bytes: 61 * mib / 10, LimitBytes: 8 * mib, Entries: 3000, LimitEntries: 65536}},
		State: BudgetFilling, BytesTrend: rising}
	paths := BudgetReport{BudgetSample: BudgetSample{Name: "paths",
		Usage: Usage{Bytes: 9800 * 100, Entries: 9800, LimitEntries: 10000}},
		State: BudgetFilling, EntriesTrend: rising}
	r := Report{Growth: Filling, Budgets: []BudgetReport{interner, paths},
		Unaccounted: Trend{Median: 12 * mib, N: 30}, Ceiling: 12*mib + 8*mib + 10000*100}
	want := "filling declared budgets: interner 6.1 of 8.0 MiB (76%), paths 9,800 of 10,000 (98%); " +
		"the rest flat at 12.0 MiB (+0 B/min); ceiling 21.0 MiB live"
	if got := r.String(); got != want {
		t.Errorf("filling:\ngot  %s\nwant %s", got, want)
	}

	full := BudgetReport{BudgetSample: BudgetSample{Name: "interner",
		Usage: Usage{Bytes: 8 * mib, LimitBytes: 8 * mib, Refused: 1e6}}, State: BudgetAtLimit, RefusedPerSecond: 1200}
	r = Report{Growth: Flat, Window: time.Minute, GCCycles: 20, Retained: Trend{N: 60}, Budgets: []BudgetReport{full}}
	want = "flat over 1m0s, 20 GC cycles (retained +0 B/min); at budget: interner 8.0 of 8.0 MiB (100%), refusing 1,200/s"
	if got := r.String(); got != want {
		t.Errorf("at budget:\ngot  %s\nwant %s", got, want)
	}

	// Full by entries, its keys' bytes still below their limit: both sides.
	fullPaths := BudgetReport{BudgetSample: BudgetSample{Name: "paths",
		Usage: Usage{Bytes: 55 * mib / 10, LimitBytes: 63 * mib / 10, Entries: 10000, LimitEntries: 10000}},
		State: BudgetFilling, BytesTrend: rising}
	r = Report{Growth: Filling, Budgets: []BudgetReport{fullPaths},
		Unaccounted: Trend{Median: 2 * mib, N: 30}, Ceiling: 2*mib + 63*mib/10}
	want = "filling declared budgets: paths 10,000 of 10,000 (100%), 5.5 of 6.3 MiB; " +
		"the rest flat at 2.0 MiB (+0 B/min); ceiling 8.3 MiB live"
	if got := r.String(); got != want {
		t.Errorf("full by entries:\ngot  %s\nwant %s", got, want)
	}

	queue := BudgetReport{BudgetSample: BudgetSample{Name: "queue", Usage: Usage{Bytes: 3 * mib, Entries: 1200}},
		State: BudgetFilling, BytesTrend: rising}
	r = Report{Growth: PerKey, Budgets: []BudgetReport{queue},
		Unaccounted:        Trend{Slope: 1.2 * mib / 60, Fit: 0.98, N: 10},
		UnaccountedObjects: Trend{Slope: 3100.0 / 60, N: 10}}
	want = "growing: values kept per distinct key beyond the declared budgets (unaccounted +1.2 MiB/min, " +
		"objects +3.1k/min, fit 0.98); also filling declared budgets: queue 3.0 MiB, 1,200 entries (no limit)"
	if got := r.String(); got != want {
		t.Errorf("beyond:\ngot  %s\nwant %s", got, want)
	}
}
