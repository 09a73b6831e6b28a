package heapwatch

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Defaults of AnalyzeOptions; the fields say why.
const (
	defaultWindow         = 60 * time.Second
	defaultMinSamples     = 10
	defaultMinGCCycles    = 4
	defaultMinFit         = 0.6
	defaultGrowthFraction = 0.05
	defaultMinBytes       = 256 << 10
	defaultMinObjects     = 1000
	defaultMinGoroutines  = 3
	defaultMaxPoints      = 200
	defaultPinnedBytes    = 8 << 10
	defaultBudgetSlack    = 0.25
	defaultWarmUp         = 60 * time.Second
	defaultOffHeapBytes   = 4 << 20
)

// AnalyzeOptions tunes Analyze. The zero value uses the defaults; a zero
// field takes its default.
//
// A quantity counts as rising when its Trend has at least 3 points, a
// positive Slope, Fit >= MinFit, and grew over the window (End-Start) by at
// least GrowthFraction of its median level and by at least its absolute
// floor (MinBytes, MinObjects or MinGoroutines; bytes per object has no
// floor). Growth is therefore judged per window: with the defaults a heap
// must grow by 5% a minute to be seen, and a slower leak needs a longer
// Window (10 minutes sees 0.5% a minute).
type AnalyzeOptions struct {
	// Window is how far back from the newest sample to look. Default 60s.
	// Negative means every sample given.
	Window time.Duration
	// MinSamples is the fewest samples in the window to judge at all.
	// Default 10.
	MinSamples int
	// MinGCCycles is the fewest completed GC cycles in the window to judge
	// the live heap, objects and bytes per object. The live heap changes
	// only when a GC ends, so fewer cycles give too few points to fit a line
	// to. Default 4.
	MinGCCycles uint64
	// MinFit is the least Trend.Fit for a rise to count. Kendall's tau of
	// pure noise over 60 points has a standard deviation of about 0.09 and
	// a GC sawtooth stays near 0, while steady growth under noise scores
	// above 0.8. Default 0.6.
	MinFit float64
	// GrowthFraction is the least growth over the window, as a fraction of
	// the median level, for a rise to count. Default 0.05.
	GrowthFraction float64
	// MinBytes is the least growth over the window, in bytes, for live
	// heap, retained memory and RSS. It keeps a small process's runtime
	// noise (a few spans, a stack) from counting. Default 256 KiB.
	MinBytes float64
	// MinObjects is the least growth over the window of the object count.
	// Default 1000.
	MinObjects float64
	// MinGoroutines is the least growth over the window of the goroutine
	// count. Default 3.
	MinGoroutines float64
	// MaxPoints caps the points of one Theil-Sen fit (its cost is
	// quadratic): above it, MaxPoints points evenly spaced by index are
	// fitted. Default 200 (19,900 pairs).
	MaxPoints int
	// PinnedBytes is the live heap growth per new object above which a heap
	// whose objects rise is judged to pin buffers rather than to keep values
	// per key. A map entry with a kept path or struct adds tens to a few
	// thousand bytes per object; a small view kept as a map key that holds
	// a whole 64 KiB read buffer adds tens of kilobytes for the one or two
	// objects of its entry. Default 8 KiB.
	PinnedBytes float64
	// BudgetSlack is the share of the tracked structures' growth that the
	// unaccounted heap (live minus tracked bytes) may grow by and still
	// count as their overhead (size-class rounding, map buckets) rather
	// than growth beyond the budgets. Default 0.25: a leak beside a filling
	// structure is seen once it grows by more than a quarter of what the
	// structure grows by in the same window.
	BudgetSlack float64
	// WarmUp is how long a process warms up: its heap grows to its first
	// goals, the runtime maps its first spans and stacks, pools and caches
	// fill, and the RSS climbs with them. A process younger than WarmUp at
	// the newest sample (Sample.Start tells its age) is told it is warming
	// up rather than growing, unless the growth persists over the window
	// or, for the live heap, is strong (see Analyze), and RSS growth outside the Go heap is only judged
	// against the samples taken after it. Default 60s; negative means no
	// warm-up by time (samples without a Start have none either). A
	// process that has completed fewer than MinGCCycles GC cycles since it
	// started is warming up whatever its age.
	WarmUp time.Duration
	// OffHeapBytes is the least growth of the RSS beyond the growth of the
	// memory the runtime retains, over the samples after the warm-up, for
	// OffHeap. A healthy daemon's RSS moves by a few hundred kilobytes to a
	// few megabytes in its first minutes as the runtime and the kernel
	// settle (docs/heap-growth.md gives the figures measured); growth
	// outside the Go heap is named only above that. Default 4 MiB.
	OffHeapBytes float64
}

func (o AnalyzeOptions) withDefaults() AnalyzeOptions {
	if o.Window == 0 {
		o.Window = defaultWindow
	}
	if o.MinSamples <= 0 {
		o.MinSamples = defaultMinSamples
	}
	if o.MinGCCycles == 0 {
		o.MinGCCycles = defaultMinGCCycles
	}
	if o.MinFit <= 0 {
		o.MinFit = defaultMinFit
	}
	if o.GrowthFraction <= 0 {
		o.GrowthFraction = defaultGrowthFraction
	}
	if o.MinBytes <= 0 {
		o.MinBytes = defaultMinBytes
	}
	if o.MinObjects <= 0 {
		o.MinObjects = defaultMinObjects
	}
	if o.MinGoroutines <= 0 {
		o.MinGoroutines = defaultMinGoroutines
	}
	if o.PinnedBytes <= 0 {
		o.PinnedBytes = defaultPinnedBytes
	}
	if o.BudgetSlack <= 0 {
		o.BudgetSlack = defaultBudgetSlack
	}
	if o.MaxPoints < minTrendPoints {
		o.MaxPoints = defaultMaxPoints
	}
	if o.WarmUp == 0 {
		o.WarmUp = defaultWarmUp
	}
	if o.OffHeapBytes <= 0 {
		o.OffHeapBytes = defaultOffHeapBytes
	}
	return o
}

// rising reports whether t counts as a rise under o, with floor the least
// absolute growth over the window.
func (o AnalyzeOptions) rising(t Trend, floor float64) bool {
	return o.risingAgainst(t, floor, t.Median)
}

// risingAgainst is rising with the growth measured against level rather
// than t's own median: for a part of a quantity, such as the retained
// memory beyond the heap goal, whose own level may be near 0.
func (o AnalyzeOptions) risingAgainst(t Trend, floor, level float64) bool {
	return t.N >= minTrendPoints && t.Slope > 0 && t.Fit >= o.MinFit &&
		t.Growth() >= floor && t.Growth() >= o.GrowthFraction*math.Abs(level)
}

// Report is the result of Analyze: the kind of growth and the trends it was
// judged on.
type Report struct {
	Growth Growth
	// Reason says in a few words why Growth was chosen, in particular what
	// was missing when it is Unknown.
	Reason string
	// Window is the time from the first to the last sample analyzed (at
	// most AnalyzeOptions.Window), Samples their number and GCCycles the GC
	// cycles completed between them.
	Window   time.Duration
	Samples  int
	GCCycles uint64
	// Live, Objects and BytesPerObject are fitted to one point per GC cycle
	// or group of cycles and are unknown (N == 0) with fewer than
	// MinGCCycles cycles; see Analyze. Retained, Goroutines and RSS are
	// fitted to every sample; RSS is unknown where it is not measured.
	Live, Objects, BytesPerObject, Retained, Goroutines, RSS Trend
	// Last is the newest sample analyzed.
	Last Sample
	// Age is how long the process had run at the newest sample
	// (Last.Time - Last.Start), or 0 when its start is unknown.
	Age time.Duration
	// WarmingUp says the process is warming up: it has completed fewer
	// than MinGCCycles GC cycles since it started, or it is younger than
	// AnalyzeOptions.WarmUp and what rose has not risen steadily over the
	// window. Growth is then Unknown and String says "warming up (...)".
	WarmingUp bool
	// Held says the verdict is held (hysteresis): Monitor.Report said this
	// kind of growth for an earlier window, and the growth it named still
	// rises, though not steadily enough over this window for Analyze to
	// name it on its own (Reason says what Analyze found). Analyze never
	// sets it; see Monitor.Report.
	Held bool

	// Budgets are the structures tracked in the newest sample (at most
	// MaxBudgets), in its order, as the window saw them: the figures a
	// daemon exports per name. Nil when nothing is tracked.
	Budgets []BudgetReport
	// Tracked is the sum of the tracked structures' bytes and Unaccounted
	// the live heap minus it, fitted to the same points as Live;
	// UnaccountedObjects is the object count minus the tracked entries,
	// fitted like Objects. They are unknown when nothing is tracked or Live
	// is unknown. Growth beyond the budgets is judged on them.
	Tracked, Unaccounted, UnaccountedObjects Trend
	// Ceiling is the projected live heap once every tracked structure is
	// full: the unaccounted heap's median plus each structure's limit
	// (LimitBytes, or bytes per entry times LimitEntries). It is 0 when
	// unknown: nothing tracked, Live unknown, or a structure with no limit.
	// The runtime holds up to about twice the live heap (GOGC=100).
	Ceiling float64

	restBPO Trend // bytes per object outside the tracked structures
	// What persists judges the rises of Live and Unaccounted by.
	livePersist, restPersist persistence
	// The floors of Live and Unaccounted: the lowest of each run of a few
	// consecutive points, fitted over the window.
	liveFloor, restFloor Trend
	// judged is the trend of the live (or unaccounted) heap that rose: its
	// points, or its floor when only the floor rose steadily.
	judged Trend
	// retainedBeside: retained memory rose by more than the runtime needs
	// for the live growth judged (about twice it), so the line says so too.
	retainedBeside bool
	// What persists judges the rises of retained memory and goroutines by.
	retainedPersist, goroutinesPersist persistence
	// rssAfter and retainedAfter are fitted to the samples taken after the
	// warm-up only (all of them when the process's start is unknown): the
	// baseline growth outside the Go heap is judged against.
	rssAfter, retainedAfter Trend
	rssAfterPersist         persistence
	// heapBeyondGoal is the heap memory held beyond what the scavenger
	// keeps for the heap goal, outsideHeap what the runtime retains outside
	// the heap (stacks, metadata); unknown without heap goals.
	heapBeyondGoal, outsideHeap Trend
}

// Analyze judges how memory grew over the newest samples, which must be
// oldest first (they are sorted by time if they are not; the slice is not
// modified). It is a pure function.
//
// Samples after the last drop of the GC cycle count (a restarted child
// process) are the only ones used. The window is the samples no older than
// opt.Window before the newest.
//
// The live heap (/gc/heap/live:bytes) only changes when a GC cycle ends, so
// it is fitted to the samples that saw a new GC cycle, one point each. The
// object count and the heap-object bytes rise between collections with
// garbage not yet swept (the GC sawtooth), so they are fitted to the lower
// envelope: from the first sample that saw a new cycle on, the samples are
// cut into groups at GC boundaries of at least a few samples each, and each
// group gives its sample with the fewest objects, the one nearest a
// collection. With fewer than opt.MinGCCycles cycles in the window these
// three trends are not fitted.
//
// The live heap rises when its points do, or when their floor does: the
// lowest of each run of a few consecutive points, fitted only when some
// point lies above the floor's line by more than the floor grew. Big
// buffers live at some collections (a scrape being written every few
// seconds) put points far above the rest and break the steady order the fit
// counts; the floor is what every collection found live.
//
// The live heap counts as rising only when the rise persists: it rises in
// both halves of the window (the half that grew less by at least a quarter
// as fast as the other; a half of two points by the line through them),
// the newest quarter of the window keeps most of the rise and the newest
// points (the median of the newest three) have not fallen below the fitted
// line, each measured where it was taken, by more than a sixth of the
// rise. A step, a climb that began late in the window and a rise that fell
// back (big buffers held while responses are in flight, then freed) do not
// count; a leak counts once it has run for most of a window. One reading
// is not a fall back: a single low newest point (a process letting go of
// its state as it shuts down) or a single high point does not undo a
// steady rise. A strong rise counts too: its points rise in near-perfect
// order (Fit >= 0.9) through more than MinGCCycles collections, the object
// count rises with it, its newer half rises at least a quarter as fast as
// its older one, and its newest points have not fallen back. That names a
// leak that speeds up or began inside the window, and never a heap
// levelling off. The points are where the collections were: a process that
// collects every 12 seconds has five in a minute, the newest up to 12
// seconds old, and its rise is judged as steadily as a busier one's.
//
// When the samples carry budgets (Monitor.Track), the newest sample's
// structures (at most MaxBudgets) are tracked through the window: Tracked is
// their bytes at each live-heap point and Unaccounted the live heap minus
// them; UnaccountedObjects is the object count minus their entries.
//
// A process warms up (Report.WarmingUp): its heap grows to its first goals
// and the runtime maps its first spans, so its retained memory and RSS
// climb for a minute or two. It is warming up while it has completed fewer
// than MinGCCycles collections since it started, and in its first
// opt.WarmUp (its age comes from Sample.Start) any rise that has not
// persisted over the window (as the live heap's must, see above) leaves it
// warming up rather than growing; a live heap that rises persistently or
// strongly is named in the first minute, as soon as MinGCCycles
// collections show it. Retained memory counts as rising only
// when the memory beyond what the heap goal explains rises (samples that
// carry HeapGoal): the heap memory held above 1.1 times the goal (what the
// scavenger lets the heap keep), or the runtime's memory outside the heap
// by OffHeapBytes or more. Growth outside the Go heap is judged over the
// samples taken after the warm-up only: the RSS must rise, steadily and
// persistently, by OffHeapBytes more than the retained memory did.
//
// The kind of growth is decided in this order, each rule only if the ones
// before did not apply:
//
//  1. fewer than MinGCCycles collections since the process started:
//     Unknown, warming up; fewer than MinSamples samples: Unknown (warming
//     up in the first WarmUp);
//  2. goroutines rise: GoroutineLeak (a leak grows every other figure too),
//     unless the process is in its first WarmUp and the rise did not
//     persist (warming up);
//  3. too few GC cycles in the window: Unknown if retained memory rises
//     (live heap and garbage cannot be told apart; warming up in the first
//     WarmUp), OffHeap if the RSS rose outside the Go heap (see above),
//     else Flat (an idle process: nothing allocates, nothing grows);
//  4. with structures tracked: Filling if the live heap rises, the tracked
//     bytes grew and the unaccounted heap does not rise (or grew by no more
//     than BudgetSlack times the tracked growth), whether or not the rise
//     persists (a structure that filled early in the window and stopped at
//     its limit is still what the rise was); if the unaccounted heap rises
//     beyond that, Unknown with the reason (warming up in the first
//     WarmUp) unless the rise persists or is strong, and if it does or
//     is, the unaccounted heap, its objects and its bytes per object are
//     judged as rule 5 judges the whole heap, and the line names the
//     filling structures too;
//  5. live heap rises and the rise persists or is strong: when objects
//     rise too, PinnedBuffers if the live heap grows by PinnedBytes or
//     more per new object (the new objects are small views or keys that
//     keep big buffers alive), else PerKey; when objects do not rise,
//     PinnedBuffers if bytes per object rise; otherwise whichever of
//     objects and bytes per object grew more in relative terms (live
//     bytes are objects times bytes per object, so that one explains the
//     growth). This comes before retained
//     memory: a live heap that keeps growing makes the runtime hold more,
//     and the big buffers that saw above it make it hold more still, so
//     String names a retained rise of more than twice the live one second
//     ("; retained memory rises too, ...");
//  6. retained memory or RSS rises, with structures tracked whose growth
//     holds at least 1-BudgetSlack of the live heap's growth and the
//     unaccounted heap not rising: Filling (a live heap that rose too
//     unevenly to count on its own, as a process starved of CPU fills its
//     structures in fits);
//  7. retained memory or RSS rises while the live heap rose by at least a
//     quarter as much, but neither persisted nor was strong: Unknown,
//     with the reason (buffers in flight; judged again once the rise
//     persists or falls back), or warming up in the first WarmUp;
//  8. retained memory rises: Retained (in the first WarmUp only if the
//     heap goal is known and the rise persists, else warming up), unless
//     the live heap rose steadily (Fit >= MinFit) and persistently by at
//     least a quarter as many bytes, below its own thresholds: the runtime
//     holds about twice the live heap (GOGC=100), so that explains half the
//     rise, and rules 4 and 5 apply as if the live heap had risen;
//  9. the RSS rose outside the Go heap: OffHeap; an RSS rising otherwise
//     in the first WarmUp: warming up;
//  10. Flat, whose reason says when the RSS rose beyond the retained
//     memory by less than OffHeapBytes.
//
// Apart from the verdict, each tracked structure gets a BudgetState: at its
// limit (within 5%) with Usage.Refused rising is BudgetAtLimit, a tuning
// hint that String appends to any verdict, not a leak.
func Analyze(samples []Sample, opt AnalyzeOptions) Report {
	opt = opt.withDefaults()
	if len(samples) == 0 {
		return Report{Reason: "no samples"}
	}
	if !slices.IsSortedFunc(samples, cmpTime) {
		samples = slices.Clone(samples)
		slices.SortStableFunc(samples, cmpTime)
	}
	for i := len(samples) - 1; i > 0; i-- {
		if samples[i].GCCycles < samples[i-1].GCCycles {
			samples = samples[i:]
			break
		}
	}
	last := samples[len(samples)-1]
	w := samples
	if opt.Window > 0 {
		from := last.Time.Add(-opt.Window)
		i, _ := slices.BinarySearchFunc(samples, from, func(s Sample, t time.Time) int { return s.Time.Compare(t) })
		w = samples[i:]
	}

	r := Report{
		Window:   last.Time.Sub(w[0].Time),
		Samples:  len(w),
		GCCycles: last.GCCycles - w[0].GCCycles,
		Last:     last,
	}
	if !last.Start.IsZero() && last.Time.After(last.Start) {
		r.Age = last.Time.Sub(last.Start)
	}
	f := fitter{maxPoints: opt.MaxPoints}
	r.fitTrends(w, &f, opt)
	r.analyzeBudgets(w, budgetNames(last), &f, opt)
	r.project()
	r.Growth, r.Reason = classify(&r, opt)
	return r
}

func cmpTime(a, b Sample) int { return a.Time.Compare(b.Time) }

// fitTrends fills in the trends of r from the window w.
func (r *Report) fitTrends(w []Sample, f *fitter, opt AnalyzeOptions) {
	t0 := w[0].Time
	x1 := r.Window.Seconds()
	sec := func(s Sample) float64 { return s.Time.Sub(t0).Seconds() }

	xs := make([]float64, 0, len(w))
	ys := make([]float64, 0, len(w))
	series := func(keep func(Sample) bool, value func(Sample) float64) Trend {
		xs, ys = xs[:0], ys[:0]
		for _, s := range w {
			if keep == nil || keep(s) {
				xs = append(xs, sec(s))
				ys = append(ys, value(s))
			}
		}
		return f.fit(xs, ys, 0, x1)
	}
	r.Retained = series(nil, func(s Sample) float64 { return float64(s.Retained()) })
	r.retainedPersist = f.persistence(r.Retained, xs, ys, x1)
	if !slices.ContainsFunc(w, func(s Sample) bool { return s.HeapGoal == 0 }) {
		r.heapBeyondGoal = series(nil, heapBeyondGoal)
		r.outsideHeap = series(nil, func(s Sample) float64 { return float64(s.Retained()) - heapHeld(s) })
	}
	r.Goroutines = series(nil, func(s Sample) float64 { return float64(s.Goroutines) })
	r.goroutinesPersist = f.persistence(r.Goroutines, xs, ys, x1)
	r.RSS = series(func(s Sample) bool { return s.RSSKnown }, func(s Sample) float64 { return float64(s.RSS) })

	// The baseline for growth outside the Go heap: the samples after the
	// warm-up, fitted over their own span.
	warm := func(s Sample) bool { return s.Start.IsZero() || opt.WarmUp < 0 || s.Time.Sub(s.Start) >= opt.WarmUp }
	if i := slices.IndexFunc(w, warm); i >= 0 {
		after, from := w[i:], sec(w[i])
		xs, ys = xs[:0], ys[:0]
		for _, s := range after {
			xs = append(xs, sec(s))
			ys = append(ys, float64(s.Retained()))
		}
		r.retainedAfter = f.fit(xs, ys, from, x1)
		xs, ys = xs[:0], ys[:0]
		for _, s := range after {
			if s.RSSKnown {
				xs = append(xs, sec(s))
				ys = append(ys, float64(s.RSS))
			}
		}
		r.rssAfter = f.fit(xs, ys, from, x1)
		r.rssAfterPersist = f.persistenceFrom(r.rssAfter, xs, ys, from, x1)
	}

	if r.GCCycles < opt.MinGCCycles {
		return
	}
	// One live-heap point per sample that saw a new GC cycle; beside it the
	// tracked bytes of the same sample, and the live heap minus them.
	names := budgetNames(w[len(w)-1])
	first := -1
	xs, ys = xs[:0], ys[:0]
	var ts, us []float64
	for i := 1; i < len(w); i++ {
		if w[i].GCCycles != w[i-1].GCCycles {
			if first < 0 {
				first = i
			}
			xs = append(xs, sec(w[i]))
			ys = append(ys, float64(w[i].LiveBytes))
			if len(names) > 0 {
				tb, _ := trackedSums(w[i], names)
				ts = append(ts, tb)
				us = append(us, float64(w[i].LiveBytes)-tb)
			}
		}
	}
	if first < 0 {
		return
	}
	r.Live = f.fit(xs, ys, 0, x1)
	r.livePersist = f.persistence(r.Live, xs, ys, x1)
	r.liveFloor = f.fitFloor(xs, ys, x1)
	if len(names) > 0 {
		r.Tracked = f.fit(xs, ts, 0, x1)
		r.Unaccounted = f.fit(xs, us, 0, x1)
		r.restPersist = f.persistence(r.Unaccounted, xs, us, x1)
		r.restFloor = f.fitFloor(xs, us, x1)
	}

	// The lower envelope of objects: groups of whole GC runs, each at least
	// minGroup samples, each giving its sample with the fewest objects.
	covered := len(w) - first
	minGroup := min(4, max(1, covered/(2*minTrendPoints)))
	var ox, oy, bx, by, uoy, rbx, rby []float64
	flush := func(from, to int) {
		k := from
		for i := from + 1; i < to; i++ {
			if w[i].Objects < w[k].Objects {
				k = i
			}
		}
		ox = append(ox, sec(w[k]))
		oy = append(oy, float64(w[k].Objects))
		bx = append(bx, sec(w[k]))
		by = append(by, w[k].BytesPerObject())
		if len(names) > 0 {
			tb, te := trackedSums(w[k], names)
			objs := float64(w[k].Objects) - te
			uoy = append(uoy, objs)
			if objs > 0 {
				rbx = append(rbx, sec(w[k]))
				rby = append(rby, (float64(w[k].HeapObjects)-tb)/objs)
			}
		}
	}
	start := first
	for i := first + 1; i <= len(w); i++ {
		boundary := i == len(w) || w[i].GCCycles != w[i-1].GCCycles
		if !boundary || i-start < minGroup {
			continue
		}
		if len(w)-i < minGroup { // too few left for a group of their own
			i = len(w)
		}
		flush(start, i)
		start = i
	}
	if start < len(w) {
		flush(start, len(w))
	}
	r.Objects = f.fit(ox, oy, 0, x1)
	r.BytesPerObject = f.fit(bx, by, 0, x1)
	if len(names) > 0 {
		r.UnaccountedObjects = f.fit(ox, uoy, 0, x1)
		r.restBPO = f.fit(rbx, rby, 0, x1)
	}
}

// scavengeGoal is the share of the heap goal the runtime's scavenger lets
// the heap keep before it returns free memory to the OS: 10% above the goal.
const scavengeGoal = 1.1

// heapHeld is the heap memory s holds from the OS: objects, unused slots
// in spans, and free spans not returned.
func heapHeld(s Sample) float64 { return float64(s.HeapObjects + s.HeapUnused + s.HeapFree) }

// heapBeyondGoal is the heap memory of s beyond what the scavenger lets
// the heap keep for its goal. A heap growing into its goal between two
// rare collections adds nothing to it; fragmentation and spans that are
// never returned do.
func heapBeyondGoal(s Sample) float64 {
	return max(heapHeld(s)-scavengeGoal*float64(s.HeapGoal), 0)
}

// project sets r.Ceiling from the unaccounted heap and the budgets' limits.
func (r *Report) project() {
	if len(r.Budgets) == 0 || !r.Unaccounted.Known() {
		return
	}
	c := max(r.Unaccounted.Median, 0)
	for _, b := range r.Budgets {
		limit, ok := b.ceiling()
		if !ok {
			return
		}
		c += limit
	}
	r.Ceiling = c
}

// fitHalvesFrom fits the points before the middle of the span from x0 to x1
// and those from it on, each over its half of the span. A half of two
// points gets the line through them: the live heap has one point per
// collection, and a process that collects every 12 seconds has five in a
// minute. When a half holds fewer than two points and there are at least
// four, the points are halved by count instead, each half over the span of
// its own points; with fewer, the halves are unknown.
func (f *fitter) fitHalvesFrom(xs, ys []float64, x0, x1 float64) [2]Trend {
	mid := x0 + (x1-x0)/2
	k, _ := slices.BinarySearch(xs, mid)
	if k < 2 || len(xs)-k < 2 {
		if len(xs) < 4 {
			return [2]Trend{}
		}
		k = len(xs) / 2
		return [2]Trend{f.fitAtLeast(xs[:k], ys[:k], xs[0], xs[k-1], 2), f.fitAtLeast(xs[k:], ys[k:], xs[k], xs[len(xs)-1], 2)}
	}
	return [2]Trend{f.fitAtLeast(xs[:k], ys[:k], x0, mid, 2), f.fitAtLeast(xs[k:], ys[k:], mid, x1, 2)}
}

// persists reports whether a rise held: the median of the points of the
// newest quarter of the window keeps at least 5/8 of the fitted growth over
// the window (a steady rise keeps about 7/8), the newest points have not
// fallen back (see fellBack), and the rise shows in both halves of the
// window, the one that grew less by at least a quarter of the other. A
// steady rise passes; a step, a climb that began late in the window, and
// one that fell back do not. One reading is not a fall back: a single low
// newest point (a process tearing its state down) or a single high one (a
// big buffer in flight at one collection) moves neither the median nor the
// fitted line. A newest quarter without a point (the live heap has one
// point per collection, and a process may collect every 12 seconds) has
// nothing to judge, and with too few points to fit a half, the halves are
// not judged.
func persists(p persistence) bool {
	if fellBack(p) || p.t.Known() && p.quarter && p.lastQuarter < p.t.Start+p.t.Growth()*5/8 {
		return false
	}
	if !p.halves[0].Known() || !p.halves[1].Known() {
		return true
	}
	g1, g2 := p.halves[0].Slope, p.halves[1].Slope
	return g1 > 0 && g2 > 0 && min(g1, g2) >= max(g1, g2)/4
}

// fellBack reports whether the newest points of a rise fell back: the
// median of the newest three lies below the fitted line by more than a
// sixth of the growth over the window, each point measured against the
// line where it was taken. The points of a steady rise lie on the line
// wherever they were taken; measuring them against the line's end instead
// would count the age of the newest points as a fall: a process that
// collects every 12 seconds has its newest three live-heap points 12 to
// 36 seconds old, up to half of a window's growth below the line's end.
func fellBack(p persistence) bool { return p.fellBy(6) }

// fellBy reports whether the median of the newest points lies below the
// fitted line by more than 1/part of the growth over the window.
func (p persistence) fellBy(part float64) bool {
	return p.t.Known() && p.newest < -p.t.Growth()/part
}

// strongFit is the least Fit of a strong rise (see steady).
const strongFit = 0.9

// steady reports whether a rise of the live (or unaccounted) heap, its
// points' persistence p, counts: it persists, or it is strong: its points
// rise in near-perfect order (Fit >= strongFit) through more than
// MinGCCycles collections, the object count objs rises with it, the newer
// half of the window rises by at least a quarter as fast as the older one,
// and the newest points have not fallen back. Values kept per key raise
// both the live heap and the objects, the more steadily the more keys
// there are, while big buffers in flight raise the live heap with few
// objects each; a strong rise is named even when its older half grew more
// slowly than its newer one (a leak that speeds up with the load, or one
// that began after the window's start), never when it is levelling off.
func (o AnalyzeOptions) steady(p persistence, objs Trend) bool {
	if persists(p) {
		return true
	}
	return p.t.Fit >= strongFit && p.t.N > int(o.MinGCCycles) && o.rising(objs, o.MinObjects) && !fellBack(p) && newerRises(p)
}

// newerRises reports whether the newer half of the window rises by at
// least a quarter as fast as the older one, or the halves are unknown.
func newerRises(p persistence) bool {
	return !p.halves[1].Known() || p.halves[1].Slope > 0 && p.halves[1].Slope >= p.halves[0].Slope/4
}

// newestPoints is how many of the newest points persists takes the median
// of, so that a fall back shows in at least two of them.
const newestPoints = 3

// persistence is what persists judges a rise by: its trend, the trends of
// the window's halves, the median of the newest quarter's points and that
// of the newest points' distances from the fitted line.
type persistence struct {
	t           Trend
	halves      [2]Trend
	quarter     bool    // the newest quarter of the window holds a point
	lastQuarter float64 // median of the points of the newest quarter of the window
	newest      float64 // median of the newest newestPoints points minus the fitted line at each
}

func (f *fitter) persistence(t Trend, xs, ys []float64, x1 float64) persistence {
	return f.persistenceFrom(t, xs, ys, 0, x1)
}

// persistenceFrom is persistence over the span from x0 to x1, t fitted
// over the same span.
func (f *fitter) persistenceFrom(t Trend, xs, ys []float64, x0, x1 float64) persistence {
	p := persistence{t: t, halves: f.fitHalvesFrom(xs, ys, x0, x1)}
	if k, _ := slices.BinarySearch(xs, x0+(x1-x0)*3/4); k < len(ys) {
		f.sorted = append(f.sorted[:0], ys[k:]...)
		p.lastQuarter, p.quarter = median(f.sorted), true
	}
	if len(ys) > 0 {
		f.sorted = f.sorted[:0]
		for i := max(len(ys)-newestPoints, 0); i < len(ys); i++ {
			f.sorted = append(f.sorted, ys[i]-(t.Start+t.Slope*(xs[i]-x0)))
		}
		p.newest = median(f.sorted)
	}
	return p
}

// fitFloor fits the floor of the points: the lowest of each run of g
// consecutive points, g from 1 to 4 so that there are at least twice
// minTrendPoints runs. A GC that ran while big buffers were in flight (a
// response being built, a scrape being written) marks them live; the floor
// leaves such points out and keeps what every collection found live. The
// floor is only fitted (N > 0) when such points exist: some point lies
// above the floor's line by more than the floor grew over the window.
// Otherwise the points are noise around their own trend, which judges
// them.
func (f *fitter) fitFloor(xs, ys []float64, x1 float64) Trend {
	g := min(4, max(1, len(xs)/(2*minTrendPoints)))
	if g == 1 {
		return Trend{}
	}
	f.floorX, f.floorY = f.floorX[:0], f.floorY[:0]
	for i := 0; i < len(xs); i += g {
		k := i
		for j := i + 1; j < min(i+g, len(xs)); j++ {
			if ys[j] < ys[k] {
				k = j
			}
		}
		f.floorX = append(f.floorX, xs[k])
		f.floorY = append(f.floorY, ys[k])
	}
	t := f.fit(f.floorX, f.floorY, 0, x1)
	if !t.Known() || t.Growth() <= 0 {
		return Trend{}
	}
	for i, y := range ys {
		if y > t.Start+t.Slope*xs[i]+t.Growth() {
			return t
		}
	}
	return Trend{}
}

// notSteady is the reason for a rise that did not persist.
func notSteady(what string, t Trend) string {
	return fmt.Sprintf("%s rose by %s but not steadily over the window (a step, a late climb or a fall back, "+
		"as buffers in flight do); judging once it persists or falls back", what, formatBytes(t.Growth()))
}

// classify applies the decision order documented on Analyze.
func classify(r *Report, opt AnalyzeOptions) (Growth, string) {
	// The process is warming up while it has completed fewer than
	// MinGCCycles collections in its life, and, in its first WarmUp,
	// wherever a rise has not held over the window.
	young := !r.Last.Start.IsZero() && opt.WarmUp > 0 && r.Age < opt.WarmUp
	warmingYet := func(what, yet string) (Growth, string) {
		r.WarmingUp = true
		return Unknown, warmingReason(r, opt, what, yet)
	}
	warming := func(what string) (Growth, string) { return warmingYet(what, "not steadily yet") }
	if r.Last.GCCycles < opt.MinGCCycles {
		return warming("")
	}
	if r.Samples < opt.MinSamples {
		if young {
			return warming("")
		}
		return Unknown, fmt.Sprintf("%d samples in the window, need %d", r.Samples, opt.MinSamples)
	}
	if opt.rising(r.Goroutines, opt.MinGoroutines) {
		if young && !persists(r.goroutinesPersist) {
			return warming(fmt.Sprintf("goroutines rose by %.0f", r.Goroutines.Growth()))
		}
		return GoroutineLeak, "goroutines rise"
	}
	// Retained memory rises when it grows by more than the runtime needs
	// for its heap goal: a heap growing into its goal between two rare
	// collections, or behind a goal that rose with the live heap, holds
	// more memory the way a growing heap must. Outside the heap, the
	// runtime's metadata grows with the heap by a megabyte or two as a
	// process warms up: that part counts above OffHeapBytes.
	retainedUp := opt.rising(r.Retained, opt.MinBytes) && (!r.heapBeyondGoal.Known() ||
		opt.risingAgainst(r.heapBeyondGoal, opt.MinBytes, r.Retained.Median) ||
		opt.rising(r.outsideHeap, opt.OffHeapBytes))
	rssUp := opt.rising(r.RSS, opt.MinBytes)
	offHeap, offHeapWhy := offHeapRise(r, opt, young)
	if r.GCCycles < opt.MinGCCycles || !r.Live.Known() {
		switch {
		case retainedUp && young:
			return warming(fmt.Sprintf("retained memory rose by %s with %d GC cycles in the window", formatBytes(r.Retained.Growth()), r.GCCycles))
		case retainedUp:
			return Unknown, fmt.Sprintf("retained memory rises but %d GC cycles in the window, need %d to judge the live heap "+
				"(Config.ForceGC runs them)", r.GCCycles, opt.MinGCCycles)
		case offHeap:
			return OffHeap, "RSS rises beyond the retained memory (too few GC cycles to judge the live heap)"
		}
		return Flat, fmt.Sprintf("retained memory and RSS flat%s; %d GC cycles, too few to judge the live heap", offHeapWhy, r.GCCycles)
	}
	// The live heap rises when its points rise, or their floor does: big
	// buffers in flight at some collections (a scrape being written) put
	// points far above the rest and break the order the fit counts, while
	// the floor keeps rising with what the program keeps.
	liveRose := true
	switch {
	case opt.rising(r.Live, opt.MinBytes):
		r.judged = r.Live
	case opt.rising(r.liveFloor, opt.MinBytes):
		r.judged = r.liveFloor
	case retainedUp && r.Live.Slope > 0 && r.Live.Fit >= opt.MinFit && r.Live.Growth() >= r.Retained.Growth()/4:
		// The runtime holds about twice the live heap (GOGC=100), so a
		// steady live rise of a quarter of the retained rise explains
		// half of it: the live heap grows, just below its own threshold.
		r.judged = r.Live
	default:
		liveRose = false
	}
	liveUp := liveRose && opt.steady(r.livePersist, r.Objects)
	restRose := false
	if r.Unaccounted.Known() {
		restRose = (opt.rising(r.Unaccounted, opt.MinBytes) || opt.rising(r.restFloor, opt.MinBytes)) &&
			r.Unaccounted.Growth() > opt.BudgetSlack*max(r.Tracked.Growth(), 0)
		switch {
		case liveRose && !restRose && r.Tracked.Growth() > 0:
			// Filling needs no persistence: a structure that filled early
			// in the window and stopped at its limit is still what the rise
			// was.
			return Filling, "live heap rises within the tracked budgets, the rest flat"
		case restRose && !opt.steady(r.restPersist, r.UnaccountedObjects):
			if young {
				return warming(fmt.Sprintf("heap beyond the tracked budgets rose by %s", formatBytes(r.Unaccounted.Growth())))
			}
			return Unknown, notSteady("heap beyond the tracked budgets", r.Unaccounted)
		case restRose:
			liveUp = true
		}
		// Growth beyond the budgets is judged on the unaccounted heap.
		r.judged = r.Unaccounted
		if !opt.rising(r.Unaccounted, opt.MinBytes) && opt.rising(r.restFloor, opt.MinBytes) {
			r.judged = r.restFloor
		}
	}
	if liveUp {
		objs, bpo, what := r.Objects, r.BytesPerObject, "live heap"
		if r.Unaccounted.Known() {
			objs, bpo, what = r.UnaccountedObjects, r.restBPO, "heap beyond the tracked budgets"
		}
		live := r.judged
		// The runtime holds about twice the live heap: retained memory
		// that grew by more than that beside it is named second.
		r.retainedBeside = retainedUp && r.Retained.Growth() > 2*max(live.Growth(), 0)+opt.MinBytes
		objUp := opt.rising(objs, opt.MinObjects)
		bpoUp := opt.rising(bpo, 0)
		switch {
		case objUp && live.Slope >= opt.PinnedBytes*objs.Slope:
			return PinnedBuffers, fmt.Sprintf("%s rises by %s per new object", what, formatBytes(live.Slope/objs.Slope))
		case objUp:
			return PerKey, what + " and objects rise"
		case bpoUp && !objUp:
			return PinnedBuffers, what + " and bytes per object rise, objects flat"
		case young:
			// The heap's make-up changes as a process starts (the runtime's
			// first objects give way to the program's), and its first
			// collections give few points: the kind is named once the
			// objects or their size rise with the heap.
			return warmingYet(fmt.Sprintf("%s rose by %s", what, formatBytes(live.Growth())),
				"neither its objects nor their size steadily yet")
		case objs.Relative() >= bpo.Relative():
			return PerKey, what + " rises, mostly by more objects"
		default:
			return PinnedBuffers, what + " rises, mostly by bigger objects"
		}
	}
	if (retainedUp || rssUp) && r.Unaccounted.Known() && !restRose && r.Live.Growth() > 0 &&
		r.Tracked.Growth() >= (1-opt.BudgetSlack)*r.Live.Growth() {
		// The live heap rose too little or too unevenly to count on its
		// own (a receiver starved of CPU fills its structures in fits),
		// but the tracked structures hold the rise and the rest is flat:
		// the memory around it rose with the structures.
		return Filling, "live heap rises within the tracked budgets, unevenly; the rest flat"
	}
	if (retainedUp || rssUp) && r.Live.Slope > 0 && !opt.steady(r.livePersist, r.Objects) &&
		r.Live.Growth() >= max(r.Retained.Growth(), r.RSS.Growth())/4 {
		// The live heap climbed enough to explain the rest, but not steadily
		// over the window: big buffers in flight, a burst, or a leak that
		// started late in the window. Wait for it to persist or fall back.
		if young {
			return warming(fmt.Sprintf("live heap rose by %s", formatBytes(r.Live.Growth())))
		}
		return Unknown, notSteady("live heap", r.Live)
	}
	if retainedUp {
		// In the first minute the runtime maps its first spans: only
		// memory beyond what the heap goal explains, rising steadily,
		// counts then.
		if young && (!r.heapBeyondGoal.Known() || !persists(r.retainedPersist)) {
			return warming(fmt.Sprintf("retained memory rose by %s", formatBytes(r.Retained.Growth())))
		}
		return Retained, "retained memory rises beyond what the heap goal explains, live heap flat"
	}
	if offHeap {
		return OffHeap, "RSS rises beyond the retained memory, retained memory and live heap flat"
	}
	if young && rssUp {
		return warming(fmt.Sprintf("RSS rose by %s", formatBytes(r.RSS.Growth())))
	}
	return Flat, "live heap, retained memory, goroutines and RSS flat" + offHeapWhy
}

// offHeapRise reports whether the RSS grew outside the Go heap: over the
// samples after the warm-up, the RSS rose, steadily and persistently, by
// OffHeapBytes or more beyond what the retained memory grew. A process
// still warming up has no such baseline yet. When the RSS rose but not by
// that much, why says so, for the Flat line.
func offHeapRise(r *Report, opt AnalyzeOptions, young bool) (up bool, why string) {
	t := r.rssAfter
	if young || !opt.rising(t, opt.MinBytes) {
		return false, ""
	}
	beyond := t.Growth() - max(r.retainedAfter.Growth(), 0)
	if beyond >= opt.OffHeapBytes && persists(r.rssAfterPersist) {
		return true, ""
	}
	return false, fmt.Sprintf(" (RSS %s beyond the retained memory since the warm-up, under the %s floor for memory outside the Go heap)",
		signedBytes(beyond), formatBytes(opt.OffHeapBytes))
}

// warmingReason is the reason of a report on a process warming up:
// "warming up (2 of 4 GC cycles)", or "warming up (25s of 1m0s; retained
// memory rose by 1.2 MiB, not steadily yet)", yet saying what is missing.
func warmingReason(r *Report, opt AnalyzeOptions, what, yet string) string {
	if r.Last.GCCycles < opt.MinGCCycles {
		return fmt.Sprintf("warming up (%d of %d GC cycles)", r.Last.GCCycles, opt.MinGCCycles)
	}
	reason := fmt.Sprintf("warming up (%v of %v", r.Age.Round(time.Second), opt.WarmUp)
	if what != "" {
		reason += "; " + what + ", " + yet
	}
	return reason + ")"
}
