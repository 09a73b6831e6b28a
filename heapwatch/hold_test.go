package heapwatch

import (
	"sync"
	"testing"
	"time"
)

// noisyLeak is a leak of 100 KiB/s and 1,000 objects a second whose
// readings are noisy (3% of the level: a busy machine's collector marks
// garbage allocated during a mark as live), collected every gc seconds,
// from the process's start.
func noisyLeak(seed uint64, gc float64) []Sample {
	p := flatProc(seed)
	p.seconds = 240
	p.gcPeriod = gc
	p.garbage, p.garbageObj = 20*mib/gc, 200e3/gc
	p.noise = 0.03
	p.live = linear(20*mib, 100*kib)
	p.objs = linear(200e3, 1000)
	p.retained = linear(45*mib, 200*kib)
	p.rss = linear(50*mib, 200*kib)
	return started(p.samples(), 0)
}

func TestHeld_Apply(t *testing.T) {
	rising := Trend{Slope: 1 * mib / 60, Fit: 0.5, End: 1 * mib, Median: 10 * mib, N: 5}
	at := func(sec int, g Growth) Report {
		return Report{Growth: g, Reason: "x", Last: Sample{Time: t0.Add(time.Duration(sec) * time.Second)},
			Live: rising, livePersist: persistence{t: rising}}
	}
	var h held
	r := at(0, Unknown)
	if h.apply(&r, AnalyzeOptions{}, time.Minute); r.Growth != Unknown || r.Held {
		t.Fatalf("nothing to hold: %s", r)
	}
	r = at(10, PerKey)
	if h.apply(&r, AnalyzeOptions{}, time.Minute); r.Held || h.growth != PerKey || h.at != r.Last.Time {
		t.Fatalf("growing: %s, %+v", r, h)
	}
	for _, c := range []struct {
		name string
		r    Report
		held bool
		at   int // h.at after, in seconds
	}{
		{"rising, unknown", at(20, Unknown), true, 20},
		{"rising, flat", at(30, Flat), true, 30},
		{"an older report", at(25, Unknown), true, 30},
		{"more than a window later", at(91, Unknown), false, -1},
	} {
		r := c.r
		h.apply(&r, AnalyzeOptions{}, time.Minute)
		if r.Held != c.held || c.held && r.Growth != PerKey || !c.held && r.Growth != c.r.Growth {
			t.Errorf("%s: held %v, %s", c.name, r.Held, r)
		}
		if c.at >= 0 && h.at != t0.Add(time.Duration(c.at)*time.Second) || c.at < 0 && h.growth != Unknown {
			t.Errorf("%s: %+v", c.name, h)
		}
	}

	// Filling, a fall back and a rise too slow even for the hold end it.
	fell := at(40, Unknown)
	fell.livePersist.newest = -rising.Growth() / 3
	slow := at(40, Unknown)
	slow.Live.End = 100 * kib
	for name, r := range map[string]Report{"filling": at(40, Filling), "fell back": fell, "too slow": slow} {
		h = held{growth: PerKey, at: t0.Add(30 * time.Second)}
		g := r.Growth
		if h.apply(&r, AnalyzeOptions{}, time.Minute); r.Held || r.Growth != g || h.growth != Unknown {
			t.Errorf("%s: %s, %+v", name, r, h)
		}
	}
}

// Reports asked from several goroutines while samples arrive share one
// hold; the race detector checks it.
func TestMonitor_ReportConcurrently(t *testing.T) {
	s := noisyLeak(1, 7)[:90]
	m := New(Config{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, x := range s {
			m.Add(x)
		}
	})
	for range 3 {
		wg.Go(func() {
			for range 30 {
				if r := m.Report(); r.Held && !r.Growth.Growing() {
					t.Errorf("held, not growing: %s", r)
				}
			}
		})
	}
	wg.Wait()
	if r := m.Report(); !r.Growth.Growing() {
		t.Errorf("after %d samples: %s", len(s), r)
	}
}
