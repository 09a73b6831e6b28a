//go:build !race

package heapwatch

import (
	"strings"
	"testing"
	"time"
)

// These tests replay series of samples through Analyze and a Monitor,
// window by window: a few seconds of arithmetic, ten times that under the
// race detector, with no concurrency to check (TestMonitor_ReportConcurrently
// checks the hold's).

// Analyze on its own names the noisy leak, then now and then lets go of
// it as the noise upsets a window's halves or its newest quarter. A
// Monitor asked for a report every second holds the verdict from the
// first one that said growing to the end, and its line says when it
// holds.
func TestMonitor_HoldsGrowth(t *testing.T) {
	letGo, held := 0, 0
	for _, gc := range []float64{7, 12} {
		for seed := range uint64(5) {
			s := noisyLeak(seed, gc)
			m := New(Config{})
			var named, analyzed bool
			for end := 1; end <= len(s); end++ {
				r := Analyze(s[:end], AnalyzeOptions{Window: time.Minute})
				m.Add(s[end-1])
				mr := m.Report()
				if analyzed && !r.Growth.Growing() {
					letGo++
				}
				analyzed = analyzed || r.Growth.Growing()
				switch {
				case named && !mr.Growth.Growing():
					t.Fatalf("GC every %vs, seed %d, %ds in: %s; Analyze: %s", gc, seed, end-1, mr, r)
				case mr.Held != (mr.Growth.Growing() && !r.Growth.Growing()):
					t.Fatalf("GC every %vs, seed %d, %ds in: held %v: %s; Analyze: %s", gc, seed, end-1, mr.Held, mr, r)
				case mr.Held && !strings.Contains(mr.String(), "; held: still rising") || !mr.Held && strings.Contains(mr.String(), "held"):
					t.Fatalf("GC every %vs, seed %d, %ds in: %s", gc, seed, end-1, mr)
				}
				if mr.Held {
					held++
				}
				named = named || mr.Growth.Growing()
			}
			if !named {
				t.Fatalf("GC every %vs, seed %d: never named", gc, seed)
			}
		}
	}
	if letGo == 0 || held != letGo {
		t.Fatalf("Analyze let go of the leak in %d windows, the Monitor held %d", letGo, held)
	}
	t.Logf("Analyze let go of the leak in %d windows after naming it, the Monitor held all of them", letGo)
}

// A leak that stops: the hold ends within a window, and nothing grows
// after.
func TestMonitor_HoldEndsWhenGrowthStops(t *testing.T) {
	for _, gc := range []float64{1, 3, 12} {
		for seed := range uint64(4) {
			p := flatProc(seed)
			p.seconds = 300
			p.gcPeriod = gc
			p.garbage, p.garbageObj = 20*mib/3*gc/3, 200e3/3*gc/3
			p.live = func(t float64) float64 { return 20*mib + 100*kib*min(t, 120) }
			p.objs = func(t float64) float64 { return 200e3 + 1000*min(t, 120) }
			p.retained = func(t float64) float64 { return 45*mib + 200*kib*min(t, 120) }
			p.rss = p.retained
			s := started(p.samples(), 0)
			m := New(Config{})
			var last Report
			for end := 1; end <= len(s); end++ {
				m.Add(s[end-1])
				last = m.Report()
				if age := end - 1; age >= 120+60 && last.Growth.Growing() {
					t.Fatalf("GC every %vs, seed %d, %ds in, %ds after the leak stopped: %s", gc, seed, age, age-120, last)
				}
			}
			if last.Growth != Flat {
				t.Errorf("GC every %vs, seed %d, at the end: %s", gc, seed, last)
			}
		}
	}
}

// Big buffers in flight are never named kept values, pinned buffers or
// memory outside the heap (TestAnalyze_TransientBuffers), so there is
// nothing of the kind to hold: the memory the runtime keeps afterwards is
// what a Monitor may name and hold.
func TestMonitor_TransientBuffersNotHeld(t *testing.T) {
	for seed := range uint64(10) {
		m := New(Config{})
		for i, s := range burst(seed).samples() {
			m.Add(s)
			switch r := m.Report(); r.Growth {
			case PinnedBuffers, PerKey, OffHeap:
				t.Fatalf("seed %d, %ds in: %s (%s)", seed, i, r, r.Reason)
			}
		}
	}
}
