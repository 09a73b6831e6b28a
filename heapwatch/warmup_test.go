package heapwatch

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// quietSeries reads a recorded series of samples, one JSON Sample a line.
func quietSeries(t *testing.T, path string) []Sample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Sample
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s Sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The first three minutes of a quiet daemon, recorded: an ingest.Server
// handling 1,500 lines/s into an Interner, a map of at most 10,000 paths
// and a routemetrics.Store written out every 15s, sampled every second
// with Monitor.Read (bench/quietd; the load is "ingest send --rate 1500
// --duration 180s" with 2 KiB paths, half of them new, or with 100
// 32-byte paths). Its RSS climbs from 5 to 21 MiB and its retained memory
// from 7 to 21 MiB while the heap grows into its first goals; the short
// paths' daemon completes 3 GC cycles in three minutes. Replayed as a
// Monitor sees it, a window of a minute ending at every second, no
// verdict may be growth, the first ones say they are warming up, and no
// summary prints a live heap of 0 B. The third series is the short paths'
// daemon for two minutes with Config.ForceGC: -1, which forces a
// collection when none has ended for 12s: its verdict is decided from
// the first minute on. The fourth is examples/migrate for three minutes
// beside the daemon it replaced, under the same load, recorded by
// examples/migrate/compare.sh (2026-12-06, load average 3.0 to 5.5): its
// path table fills in 14 s, its live heap steps from 3.6 to 11.6 MiB
// over its first three collections and then stays within 0.2 MiB, one
// collection every 12 to 13 s (ForceGC: -1). A Monitor fed the samples
// one by one, its Report asked after each, says no more than Analyze.
func TestAnalyze_QuietDaemon(t *testing.T) {
	for _, name := range []string{"quiet-long-paths", "quiet-short-paths", "quiet-short-paths-forcegc", "quiet-migrate-long-paths"} {
		s := quietSeries(t, "testdata/"+name+".jsonl")
		if len(s) < 120 {
			t.Fatalf("%s: %d samples", name, len(s))
		}
		warming := 0
		m := New(Config{})
		for end := 1; end <= len(s); end++ {
			r := Analyze(s[:end], AnalyzeOptions{Window: time.Minute})
			if r.Growth.Growing() {
				t.Fatalf("%s, %ds in: %s", name, end-1, r)
			}
			m.Add(s[end-1])
			if mr := m.Report(); mr.Growth != r.Growth || mr.Held {
				t.Fatalf("%s, %ds in: Monitor %s, Analyze %s", name, end-1, mr, r)
			}
			sum := r.Summary()
			if strings.Contains(sum, "live 0 B") {
				t.Fatalf("%s, %ds in: %s", name, end-1, sum)
			}
			if r.WarmingUp {
				warming++
				if !strings.HasPrefix(r.String(), "warming up (") || strings.Contains(r.String(), "unknown") {
					t.Fatalf("%s, %ds in: %s", name, end-1, r)
				}
			}
			if end == 1 && r.String() != "warming up (0 of 4 GC cycles)" {
				t.Errorf("%s, first sample: %s", name, r)
			}
			if end == 1 && !strings.HasPrefix(sum, "live n/a (no GC yet), ") {
				t.Errorf("%s, first sample: %s", name, sum)
			}
		}
		last := Analyze(s, AnalyzeOptions{Window: time.Minute})
		t.Logf("%s: warming up in %d of %d windows; last: %s", name, warming, len(s), last)
		if strings.HasSuffix(name, "-forcegc") {
			for end := 62; end <= len(s); end++ { // past the first minute
				if r := Analyze(s[:end], AnalyzeOptions{Window: time.Minute}); r.Growth == Unknown {
					t.Errorf("%s, %ds in: %s", name, end-1, r)
				}
			}
		}
	}
}

// warmProc is a process started at t0 whose runtime warms up over its
// first minute: retained memory and RSS climb by 12 MiB, fast at first and
// then slower (an exponential approach, 20s), while the live heap is flat
// and collected every 3 seconds.
func warmProc(seed uint64) proc {
	p := flatProc(seed)
	warm := func(base float64) func(float64) float64 {
		return func(t float64) float64 { return base + 12*mib*(1-math.Exp(-t/20)) }
	}
	p.retained = warm(20 * mib)
	p.rss = warm(25 * mib)
	return p
}

// started stamps the samples with a process start at the first one, minus
// before.
func started(s []Sample, before time.Duration) []Sample {
	for i := range s {
		s[i].Start = s[0].Time.Add(-before)
	}
	return s
}

func TestAnalyze_WarmUpIsNotGrowth(t *testing.T) {
	s := started(warmProc(1).samples(), 0)
	for end := 1; end <= len(s); end++ {
		r := Analyze(s[:end], AnalyzeOptions{})
		if r.Growth.Growing() || r.Growth == Unknown && !r.WarmingUp {
			t.Fatalf("%ds in: %s", end-1, r)
		}
	}
	// The same samples from a process whose start is not known: the rise
	// is judged as any other (it does not persist: the second half of the
	// window grows less than a quarter of the first).
	s = warmProc(1).samples()
	if r := Analyze(s[:30], AnalyzeOptions{}); !r.Growth.Growing() {
		t.Errorf("no start, 30s: %s", r)
	}
}

func TestAnalyze_LeakInTheFirstMinute(t *testing.T) {
	// A map that grows from the start: the rise persists over the window,
	// so the first minute does not hide it.
	p := flatProc(2)
	p.live = linear(20*mib, 100*kib)
	p.objs = linear(200e3, 1000)
	s := started(p.samples(), 0)
	r := Analyze(s[:40], AnalyzeOptions{})
	if r.Growth != PerKey || r.WarmingUp || r.Age != 39*time.Second {
		t.Errorf("40s in: %s, age %v", r, r.Age)
	}
	// Goroutines that pile up from the start persist too.
	p = flatProc(2)
	p.goroutines = linear(10, 1)
	if r = Analyze(started(p.samples(), 0)[:40], AnalyzeOptions{}); r.Growth != GoroutineLeak {
		t.Errorf("goroutines, 40s in: %s", r)
	}
	// A climb of goroutines in the first minute that stops (servers
	// starting) is not.
	p.goroutines = func(t float64) float64 { return 10 + 20*min(t/20, 1) }
	if r = Analyze(started(p.samples(), 0)[:40], AnalyzeOptions{}); r.Growth.Growing() {
		t.Errorf("goroutine step, 40s in: %s", r)
	}
}

func TestAnalyze_WarmingUpByGCCycles(t *testing.T) {
	// An idle pure-Go daemon: no GC yet, its RSS still creeping up.
	p := flatProc(3)
	p.gcPeriod = 0
	p.rss = linear(8*mib, 20*kib)
	s := started(p.samples(), 2*time.Minute)
	r := Analyze(s, AnalyzeOptions{})
	if r.Growth != Unknown || !r.WarmingUp || r.String() != "warming up (0 of 4 GC cycles)" {
		t.Errorf("no GC: %s", r)
	}
	if sum := r.Summary(); !strings.HasPrefix(sum, "live n/a (no GC yet), ") || !strings.HasSuffix(sum, "; warming up (0 of 4 GC cycles)") {
		t.Errorf("no GC: %s", sum)
	}
	p.gcBefore = 2
	if r = Analyze(p.samples(), AnalyzeOptions{}); r.String() != "warming up (2 of 4 GC cycles)" {
		t.Errorf("two GCs: %s", r)
	}
	if sum := r.Summary(); strings.HasPrefix(sum, "live n/a") {
		t.Errorf("two GCs: %s", sum)
	}
}

func TestAnalyze_OffHeapFloor(t *testing.T) {
	f := func(name string, rssGrowth float64, before time.Duration, want Growth) {
		t.Helper()
		p := flatProc(4)
		p.rss = linear(50*mib, rssGrowth/59)
		s := p.samples()
		if before >= 0 {
			s = started(s, before)
		}
		r := Analyze(s, AnalyzeOptions{})
		if r.Growth != want {
			t.Errorf("%s: %s (%s)", name, r, r.Reason)
		}
	}
	f("3 MiB after the warm-up", 3*mib, 2*time.Minute, Flat)
	f("6 MiB after the warm-up", 6*mib, 2*time.Minute, OffHeap)
	f("6 MiB, start unknown", 6*mib, -1, OffHeap)
	f("12 MiB in the first minute", 12*mib, 0, Unknown)

	// Half of the window is past the warm-up: the baseline is that half,
	// where the RSS rose by 3 of the 6 MiB.
	f("6 MiB, half of it after the warm-up", 6*mib, 30*time.Second, Flat)
	f("12 MiB, half of it after the warm-up", 12*mib, 30*time.Second, OffHeap)

	p := flatProc(4)
	p.rss = linear(50*mib, 3*mib/59.0)
	r := Analyze(started(p.samples(), 2*time.Minute), AnalyzeOptions{})
	if !strings.Contains(r.Reason, "under the 4.0 MiB floor for memory outside the Go heap") {
		t.Errorf("reason: %s", r.Reason)
	}
}

// goalSamples is a process collecting every 3 seconds whose live heap is
// flat at 10 MiB (a heap goal of 20 MiB): between collections its heap
// objects saw from 10 to 20 MiB. heldAbove is, at time t, the memory it
// holds beyond the 1.1 x goal the scavenger keeps (unused slots in spans:
// fragmentation), and fill is how far its heap has grown into the goal
// (1: all of it), for a daemon that collects rarely.
func goalSamples(n int, gcs bool, heldAbove, fill func(t float64) float64) []Sample {
	out := make([]Sample, n)
	for i := range out {
		t := float64(i)
		s := Sample{
			Time: t0.Add(time.Duration(i) * time.Second), LiveBytes: 10 * mib, HeapGoal: 20 * mib,
			Objects: 100e3, Goroutines: 10, GCCycles: 50, RSSKnown: true,
		}
		if gcs {
			s.GCCycles += uint64(i / 3)
		}
		objs := 10*mib + 10*mib*fill(t)
		s.HeapObjects = uint64(objs)
		s.HeapUnused = uint64(1*mib + heldAbove(t))
		s.HeapFree = uint64(max(22*mib-objs, 0)) // free spans, down to the scavenger's goal
		s.HeapReleased = 2 * mib
		s.Total = s.HeapObjects + s.HeapUnused + s.HeapFree + s.HeapReleased + 5*mib // 5 MiB of stacks and metadata
		s.RSS = s.Total - s.HeapReleased
		out[i] = s
	}
	return out
}

func TestAnalyze_RetainedAgainstTheHeapGoal(t *testing.T) {
	none := constant(0)
	// A daemon that has not collected in the window: its heap grows into
	// its goal, which holds more memory but not more than the goal allows.
	s := goalSamples(60, false, none, func(t float64) float64 { return t / 60 })
	if r := Analyze(s, AnalyzeOptions{}); r.Growth != Flat {
		t.Errorf("heap growing into its goal: %s (%s)", r, r.Reason)
	}
	// The same memory held in fragmented spans beyond the goal, live heap
	// flat: memory not returned.
	s = goalSamples(60, true, linear(0, 100*kib), constant(0.5))
	if r := Analyze(s, AnalyzeOptions{}); r.Growth != Retained {
		t.Errorf("fragmentation: %s (%s)", r, r.Reason)
	}
	// Without heap goals (samples of an older heapwatch), retained memory
	// that rises is judged as it rises.
	for i := range s {
		s[i].HeapGoal = 0
	}
	if r := Analyze(s, AnalyzeOptions{}); r.Growth != Retained {
		t.Errorf("no goal: %s (%s)", r, r.Reason)
	}
}

// The daemon examples/migrate replaced (examples/migrate/before: a string
// made of each datagram, split into a struct of strings, and a map keyed
// by the path) beside it under the load of examples/migrate/compare.sh:
// 1,500 lines/s, 2 KiB paths, half of them new (2026-12-06, the second
// series while other jobs raised the load average from 8 to 17). Its live
// heap rises by 100 MiB a minute with 1,200 bytes per kept object, and
// with Config.ForceGC: -1 it collects every 12 to 13 s once its heap
// passes 60 MiB: five live-heap points a minute, the newest of them up to
// 12 s old. Before the live heap's newest points were judged where they
// lie, the first series was first called growing at 55 s and then flapped
// between growing and "not steadily" with every collection. Now every
// window from the first minute on, and every one after the first growing
// verdict, says values kept per key: Analyze on its own, and a Monitor
// fed the samples one by one, with nothing to hold. In its first seconds
// the object count is too noisy to tell the kind (the second series' was
// flat over its first four collections): the process is warming up until
// it tells.
func TestAnalyze_NaiveDaemon(t *testing.T) {
	for _, name := range []string{"naive-long-paths", "naive-long-paths-busy"} {
		s := quietSeries(t, "testdata/"+name+".jsonl")
		if len(s) < 180 {
			t.Fatalf("%s: %d samples", name, len(s))
		}
		m := New(Config{})
		var first time.Duration = -1
		for end := 1; end <= len(s); end++ {
			r := Analyze(s[:end], AnalyzeOptions{Window: time.Minute})
			m.Add(s[end-1])
			mr := m.Report()
			if mr.Growth != r.Growth || mr.Held {
				t.Fatalf("%s, %v in: Monitor %s, Analyze %s", name, r.Age, mr, r)
			}
			if first < 0 && r.Growth.Growing() {
				first = r.Age
			}
			if (first >= 0 || r.Age >= time.Minute) && r.Growth != PerKey {
				t.Fatalf("%s, %v in, first growing at %v: %s (%s)", name, r.Age.Round(time.Second), first.Round(time.Second), r, r.Reason)
			}
		}
		t.Logf("%s: first growing at %v of age", name, first.Round(time.Second))
	}
}
