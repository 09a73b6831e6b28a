package heapwatch

import (
	"math"
	"math/rand/v2"
	"time"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

var t0 = time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC)

// proc describes a synthetic process sampled once a second: its true live
// heap, the garbage it makes (the GC sawtooth), and the rest. A nil function
// is the flat default.
type proc struct {
	seconds    int                     // samples, one a second; default 60
	gcPeriod   float64                 // seconds between GCs; 0 = no GC at all
	gcBefore   uint64                  // with gcPeriod 0: GC cycles completed before the first sample
	gcTimes    []float64               // with gcPeriod 0: when each GC ended, ascending (after gcBefore)
	live       func(t float64) float64 // live bytes at time t
	objs       func(t float64) float64 // live objects at time t
	garbage    float64                 // bytes of garbage made per second
	garbageObj float64                 // objects of garbage made per second
	retained   func(t float64) float64
	goroutines func(t float64) float64
	rss        func(t float64) float64
	noise      float64 // relative jitter of each reading
	seed       uint64
	budgets    []synthBudget // tracked structures, read at each sample's time
}

// synthBudget is a tracked structure of a synthetic process. Its bytes and
// entries must also be in the process's live and objs to be honest.
type synthBudget struct {
	name  string
	usage func(t float64) Usage
}

func constant(v float64) func(float64) float64 { return func(float64) float64 { return v } }

func linear(v0, perSec float64) func(float64) float64 {
	return func(t float64) float64 { return v0 + perSec*t }
}

// flatProc is a steady daemon: 20 MiB and 200k objects live, a GC every 3
// seconds, as much garbage per cycle as live heap (GOGC=100), 10±2
// goroutines, 1% noise.
func flatProc(seed uint64) proc {
	return proc{
		seconds:    60,
		gcPeriod:   3,
		live:       constant(20 * mib),
		objs:       constant(200e3),
		garbage:    20 * mib / 3,
		garbageObj: 200e3 / 3,
		retained:   constant(45 * mib),
		goroutines: constant(10),
		rss:        constant(50 * mib),
		noise:      0.01,
		seed:       seed,
	}
}

func (p proc) samples() []Sample {
	rng := rand.New(rand.NewPCG(p.seed, 42))
	jitter := func(v float64) float64 { return v * (1 + p.noise*(2*rng.Float64()-1)) }
	n := p.seconds
	if n == 0 {
		n = 60
	}
	phase := rng.Float64()
	out := make([]Sample, n)
	for i := range out {
		t := float64(i)
		cycles := p.gcBefore
		tg := 0.0 // time of the last GC end
		if p.gcPeriod > 0 {
			c := math.Floor(t/p.gcPeriod + phase)
			cycles = uint64(c) + 100
			tg = (c - phase) * p.gcPeriod
		}
		for _, at := range p.gcTimes {
			if at <= t {
				cycles++
				tg = at
			}
		}
		since := t - tg
		liveAtGC := p.live(max(tg, 0))
		retained := p.retained(t)
		const released = 3 * mib
		s := Sample{
			Time:         t0.Add(time.Duration(i) * time.Second),
			LiveBytes:    uint64(jitter(liveAtGC)),
			Objects:      uint64(jitter(p.objs(t) + p.garbageObj*since)),
			HeapObjects:  uint64(jitter(p.live(t) + p.garbage*since)),
			HeapReleased: released,
			Total:        uint64(jitter(retained)) + released,
			Goroutines:   uint64(math.Round(p.goroutines(t) + float64(rng.IntN(5)-2))),
			GCCycles:     cycles,
			RSS:          uint64(jitter(p.rss(t))),
			RSSKnown:     true,
		}
		s.HeapFree = s.Total / 4
		for _, b := range p.budgets {
			s.Budgets = append(s.Budgets, BudgetSample{Name: b.name, Usage: b.usage(t)})
		}
		out[i] = s
	}
	return out
}
