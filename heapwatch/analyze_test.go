package heapwatch

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each kind of growth, under the GC sawtooth and noise, with GCs slower and
// faster than the sampling, over many seeds.
func TestAnalyze_Kinds(t *testing.T) {
	f := func(name string, want Growth, edit func(p *proc)) {
		t.Helper()
		for _, gc := range []float64{3, 0.7} {
			for seed := range uint64(20) {
				p := flatProc(seed)
				p.gcPeriod = gc
				p.garbage *= gc / 3 // garbage per cycle stays one live heap
				p.garbageObj *= gc / 3
				edit(&p)
				r := Analyze(p.samples(), AnalyzeOptions{})
				if !assert.Equal(t, want, r.Growth, "%s, GC every %vs, seed %d: %s (%s)", name, gc, seed, r, r.Reason) {
					return
				}
			}
		}
	}
	f("flat with sawtooth", Flat, func(p *proc) {})
	f("per key", PerKey, func(p *proc) {
		p.live = linear(20*mib, 100*kib) // +30% a minute
		p.objs = linear(200e3, 1000)     // +30% a minute, 100 B each
		p.retained = linear(45*mib, 200*kib)
		p.rss = linear(50*mib, 200*kib)
	})
	f("pinned buffers", PinnedBuffers, func(p *proc) {
		p.live = linear(20*mib, 100*kib) // +30% a minute
		p.objs = linear(200e3, 2)        // a pinned 64 KiB buffer per kept view
		p.retained = linear(45*mib, 200*kib)
		p.rss = linear(50*mib, 200*kib)
	})
	f("pinned buffers behind new keys", PinnedBuffers, func(p *proc) {
		// soak's views receiver: objects rise faster, in relative terms,
		// than bytes per object, but each new map entry keeps 32 KiB.
		p.live = linear(300*mib, 32*mib)
		p.objs = linear(10e3, 1000)
		p.retained = linear(600*mib, 64*mib)
		p.rss = linear(50*mib, 2*mib)
	})
	f("retained", Retained, func(p *proc) {
		p.retained = linear(45*mib, 150*kib) // +20% a minute
		p.rss = linear(50*mib, 150*kib)
	})
	f("goroutine leak", GoroutineLeak, func(p *proc) {
		p.goroutines = linear(10, 0.25) // +15 a minute
		p.live = linear(20*mib, 8*kib*0.25)
		p.retained = linear(45*mib, 8*kib*0.25)
	})
	f("off heap", OffHeap, func(p *proc) {
		p.rss = linear(50*mib, 100*kib) // +12% a minute
	})
	f("slow creep below the threshold", Flat, func(p *proc) {
		p.live = linear(20*mib, 5*kib) // +1.5% a minute
		p.objs = linear(200e3, 50)
	})
}

func TestAnalyze_Unknown(t *testing.T) {
	p := flatProc(1)
	p.seconds = 5
	r := Analyze(p.samples(), AnalyzeOptions{})
	assert.Equal(t, Unknown, r.Growth)
	assert.Equal(t, "unknown: 5 samples in the window, need 10", r.String())

	r = Analyze(nil, AnalyzeOptions{})
	assert.Equal(t, Unknown, r.Growth)

	// Retained memory rises with no GC: live heap or garbage, no telling.
	p = flatProc(1)
	p.gcPeriod = 0
	p.retained = linear(45*mib, 200*kib)
	r = Analyze(p.samples(), AnalyzeOptions{})
	assert.Equal(t, Unknown, r.Growth, r.String())
	assert.Contains(t, r.Reason, "0 GC cycles")
	assert.False(t, r.Live.Known())
	assert.False(t, r.Objects.Known())

	// Three GCs in the window are fewer than the default four.
	p = flatProc(1)
	p.gcPeriod = 20
	p.retained = linear(45*mib, 200*kib)
	r = Analyze(p.samples(), AnalyzeOptions{})
	assert.Equal(t, Unknown, r.Growth, r.String())
	assert.Equal(t, PerKey.String(), "per-key")
}

func TestAnalyze_IdleIsFlat(t *testing.T) {
	p := flatProc(1)
	p.gcPeriod = 0
	r := Analyze(p.samples(), AnalyzeOptions{})
	assert.Equal(t, Flat, r.Growth, r.String())
	assert.False(t, r.Live.Known())

	// RSS rising needs no GC to judge.
	p.rss = linear(50*mib, 100*kib)
	assert.Equal(t, OffHeap, Analyze(p.samples(), AnalyzeOptions{}).Growth)
}

func TestAnalyze_WindowRestartAndOrder(t *testing.T) {
	// Ten minutes: nine of growth, then a flat one. The default window
	// sees only the flat minute.
	p := flatProc(3)
	p.seconds = 600
	p.live = func(t float64) float64 { return 20*mib + 100*kib*min(t, 540) }
	p.objs = func(t float64) float64 { return 200e3 + 1000*min(t, 540) }
	p.retained = func(t float64) float64 { return 45*mib + 200*kib*min(t, 540) }
	p.rss = p.retained
	s := p.samples()
	r := Analyze(s, AnalyzeOptions{})
	assert.Equal(t, Flat, r.Growth, r.String())
	assert.Equal(t, 60*time.Second, r.Window, "the window includes both ends")
	assert.Equal(t, 61, r.Samples)
	assert.Equal(t, s[len(s)-1], r.Last)
	all := Analyze(s, AnalyzeOptions{Window: -1})
	assert.Equal(t, PerKey, all.Growth, all.String())
	assert.Equal(t, 600, all.Samples)
	assert.LessOrEqual(t, all.Retained.N, defaultMaxPoints)

	// Shuffled input is judged the same and left as it was.
	shuffled := slices.Clone(s[540:])
	slices.Reverse(shuffled)
	before := slices.Clone(shuffled)
	assert.Equal(t, r.Growth, Analyze(shuffled, AnalyzeOptions{}).Growth)
	assert.Equal(t, before, shuffled)

	// A restarted child: the GC count drops; only samples after it count.
	g := flatProc(4)
	g.live = linear(20*mib, 100*kib)
	g.objs = linear(200e3, 1000)
	g.retained = linear(45*mib, 200*kib)
	grow := g.samples()
	flat := flatProc(5).samples()
	for i := range flat {
		flat[i].Time = grow[len(grow)-1].Time.Add(time.Duration(i+1) * time.Second)
		flat[i].GCCycles -= 90 // fewer than before the restart
	}
	joined := append(slices.Clone(grow), flat...)
	r = Analyze(joined, AnalyzeOptions{Window: -1})
	assert.Equal(t, len(flat), r.Samples)
	assert.Equal(t, Flat, r.Growth, r.String())
}

func TestAnalyze_Thresholds(t *testing.T) {
	p := flatProc(2)
	p.live = linear(20*mib, 40*kib) // +11% a minute
	p.objs = linear(200e3, 400)
	p.retained = linear(45*mib, 80*kib)
	s := p.samples()
	assert.Equal(t, PerKey, Analyze(s, AnalyzeOptions{}).Growth)
	assert.Equal(t, Flat, Analyze(s, AnalyzeOptions{GrowthFraction: 0.2}).Growth)
	assert.Equal(t, Flat, Analyze(s, AnalyzeOptions{MinBytes: 8 * mib}).Growth)
	assert.Equal(t, Unknown, Analyze(s, AnalyzeOptions{MinGCCycles: 100}).Growth)
	assert.Equal(t, Unknown, Analyze(s, AnalyzeOptions{MinSamples: 61}).Growth)
	assert.Equal(t, Flat, Analyze(s, AnalyzeOptions{MinFit: 0.999}).Growth)
}

func TestAnalyze_TrendsAreMeasured(t *testing.T) {
	p := flatProc(6)
	p.noise = 0
	p.live = linear(20*mib, 100*kib)
	p.objs = linear(200e3, 1000)
	r := Analyze(p.samples(), AnalyzeOptions{})
	require.Equal(t, PerKey, r.Growth)
	assert.InDelta(t, 100*kib, r.Live.Slope, 1*kib)
	assert.InDelta(t, 1000, r.Objects.Slope, 100)
	assert.InDelta(t, 0, r.Retained.Slope, 1)
	assert.InDelta(t, 59, r.Live.Growth()/r.Live.Slope, 1e-6)
	assert.Equal(t, uint64(20), r.GCCycles)
	assert.Greater(t, r.Live.Fit, 0.9)
}

func TestReport_String(t *testing.T) {
	r := Report{
		Growth:  PerKey,
		Live:    Trend{Slope: 1.2 * mib / 60, Fit: 0.98, N: 10},
		Objects: Trend{Slope: 3100.0 / 60, Fit: 0.9, N: 10},
	}
	assert.Equal(t, "growing: values kept per distinct key (live +1.2 MiB/min, objects +3.1k/min, fit 0.98)", r.String())

	r = Report{Growth: Flat, Window: 59 * time.Second, GCCycles: 45,
		Live: Trend{Slope: -1024.0 / 60, N: 10}, Retained: Trend{N: 60}}
	assert.Equal(t, "flat over 59s, 45 GC cycles (live -1.0 KiB/min, retained +0 B/min)", r.String())

	kinds := Kinds()
	assert.Equal(t, Unknown, kinds[0])
	assert.Equal(t, Filling, kinds[len(kinds)-1])
	for i, g := range kinds {
		assert.Equal(t, Growth(i), g, "the kinds are contiguous")
		r := Report{Growth: g, Reason: "x"}
		assert.NotEmpty(t, r.String())
		assert.NotEmpty(t, g.Explain())
		assert.NotContains(t, g.String(), "growth(")
		assert.Equal(t, g > Flat && g != Filling, g.Growing())
		if g.Growing() {
			assert.True(t, strings.HasPrefix(r.String(), "growing: "+g.Phrase()), r.String())
		}
	}
	assert.Equal(t, "growth(99)", Growth(99).String())
}

func TestReport_Summary(t *testing.T) {
	r := Report{Growth: Unknown, Reason: "5 samples in the window, need 10", Last: Sample{
		Time: t0, LiveBytes: 123 * mib / 10, Objects: 45100, HeapObjects: 45100 * 286, Total: 33 * mib,
		HeapReleased: 28 * mib / 10, Goroutines: 12, GCCycles: 1234, RSS: 35 * mib, RSSKnown: true,
	}}
	assert.Equal(t, "live 12.3 MiB, objects 45.1k, 286 B/object, retained 30.2 MiB, RSS 35.0 MiB, "+
		"goroutines 12, GCs 1234; unknown: 5 samples in the window, need 10", r.Summary())
	r.Last.RSSKnown = false
	assert.Contains(t, r.Summary(), "RSS n/a,")
	assert.Equal(t, "no samples yet", Report{}.Summary())
}

func TestFormat(t *testing.T) {
	assert.Equal(t, "512 B", formatBytes(512))
	assert.Equal(t, "1.5 KiB", formatBytes(1536))
	assert.Equal(t, "2.0 GiB", formatBytes(2<<30))
	assert.Equal(t, "-3 B", signedBytes(-3))
	assert.Equal(t, "+0 B", signedBytes(-0.2))
	assert.Equal(t, "950", formatCount(950))
	assert.Equal(t, "2.5", formatCount(2.5))
	assert.Equal(t, "1.2M", formatCount(1.2e6))
	assert.Equal(t, "-3.1k", signedCount(-3100))
	assert.Equal(t, "+0", signedCount(-0.01))
}

// Retained memory rising about twice as fast as a live heap that rises just
// below its own threshold is live-heap growth, not fragmentation.
func TestAnalyze_RetainedExplainedByLive(t *testing.T) {
	p := flatProc(2)
	p.live = linear(20*mib, 14*kib) // +4% a minute, below the threshold
	p.objs = linear(200e3, 140)
	p.retained = linear(45*mib, 45*kib)
	r := Analyze(p.samples(), AnalyzeOptions{})
	opt := AnalyzeOptions{}.withDefaults()
	require.False(t, opt.rising(r.Live, opt.MinBytes), "live alone must not count: %+v", r.Live)
	require.True(t, opt.rising(r.Retained, opt.MinBytes), "%+v", r.Retained)
	assert.Equal(t, PerKey, r.Growth, r.String())

	p.live = constant(20 * mib)
	p.objs = constant(200e3)
	r = Analyze(p.samples(), AnalyzeOptions{})
	assert.Equal(t, Retained, r.Growth, r.String())
}
