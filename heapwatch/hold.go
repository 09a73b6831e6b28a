package heapwatch

import (
	"math"
	"time"
)

// held is the growing verdict a Monitor's reports keep while the growth
// goes on: the hysteresis of Monitor.Report.
type held struct {
	growth Growth    // the kind held, one that Growing reports; Unknown when none
	at     time.Time // newest sample of the last report that said it
}

// apply applies the hysteresis to r, a report Analyze just made for the
// newest window, and updates h. A report that says growing is kept as the
// verdict to hold. An Unknown or Flat one, no more than window after the
// last report that said growing (any time, with a negative window), says
// that kind again while its growth still rises (Report.stillGrowing). Any
// other verdict ends the hold. A report on samples older than the last
// one judged (a concurrent call) is held or not as the others are, but
// changes nothing.
func (h *held) apply(r *Report, opt AnalyzeOptions, window time.Duration) {
	older := r.Last.Time.Before(h.at)
	switch {
	case r.Growth.Growing():
		if !older {
			*h = held{growth: r.Growth, at: r.Last.Time}
		}
	case (r.Growth == Unknown || r.Growth == Flat) && h.growth.Growing() && (window < 0 || r.Last.Time.Sub(h.at) <= window) &&
		r.stillGrowing(h.growth, opt.withDefaults()):
		r.Growth, r.Held, r.WarmingUp = h.growth, true, false
		if !older {
			h.at = r.Last.Time
		}
	default:
		if !older {
			*h = held{}
		}
	}
}

// stillGrowing reports whether the growth of kind g still rises over r's
// window by the looser test a held verdict needs, half of what naming it
// took: its trend rises with half the Fit, half the growth and half the
// floor that opt asks of a rise (holding), and its newest points have not
// fallen below the fitted line by more than a quarter of the growth. It
// does not ask, as Analyze does to name growth, for a rise in both halves
// of the window, most of it kept in the newest quarter, or the object
// count rising in step: those are what noisy points, five a minute, fail
// now and then while the heap keeps growing. A heap that stopped growing
// drops below the looser test as the window moves past the rise; on
// synthetic series (a leak of 100 KiB/s that stops, 1% noise, a collection
// every 1 to 12 s) the hold ended 18 to 51 s after the stop.
func (r *Report) stillGrowing(g Growth, opt AnalyzeOptions) bool {
	switch g {
	case PerKey, PinnedBuffers:
		t, floor, p := r.Live, r.liveFloor, r.livePersist
		if r.Unaccounted.Known() {
			t, floor, p = r.Unaccounted, r.restFloor, r.restPersist
			if t.Growth() <= opt.BudgetSlack*max(r.Tracked.Growth(), 0) {
				return false // the budgets hold the rise
			}
		}
		if p.fellBy(4) {
			return false
		}
		switch {
		case opt.holding(t, opt.MinBytes):
			r.judged = t
		case opt.holding(floor, opt.MinBytes):
			r.judged = floor
		default:
			return false
		}
		return true
	case Retained:
		return opt.holding(r.Retained, opt.MinBytes) && !r.retainedPersist.fellBy(4)
	case GoroutineLeak:
		return opt.holding(r.Goroutines, opt.MinGoroutines) && !r.goroutinesPersist.fellBy(4)
	case OffHeap:
		return opt.holding(r.rssAfter, opt.MinBytes) && !r.rssAfterPersist.fellBy(4)
	}
	return false
}

// holding is rising with half the thresholds: half of MinFit, of
// GrowthFraction and of floor.
func (o AnalyzeOptions) holding(t Trend, floor float64) bool {
	return t.N >= minTrendPoints && t.Slope > 0 && t.Fit >= o.MinFit/2 &&
		t.Growth() >= floor/2 && t.Growth() >= o.GrowthFraction/2*math.Abs(t.Median)
}
