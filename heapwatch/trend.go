package heapwatch

import (
	"math"
	"slices"
)

// Trend is a robust straight-line fit of one quantity over the window.
//
// Slope is the Theil-Sen estimate: the median of the slopes between every
// pair of points, in units per second. Half the points can be wild (a GC
// sawtooth, a burst, one bad reading) without moving it much, which an
// ordinary least-squares slope cannot survive.
//
// Fit is the Kendall rank correlation between time and value (tau-a), taken
// in the direction of the slope: the share of point pairs that move the way
// the slope does minus the share that move against it. It is 1 when every
// later point lies beyond every earlier one, near 0 for noise, a sawtooth or
// a constant, and 0 when the slope is 0. It measures how steadily the
// quantity moves, not how close the points are to the line, so it does not
// care about the size of the noise or of outliers, only about their order;
// it is the rank test that goes with the Theil-Sen slope (Mann-Kendall).
//
// Start and End are the fitted line's values at the start and the end of the
// window (the first and last sample), so End-Start is the growth over the
// window. Median is the median of the points, the level relative growth is
// measured against. N is the number of points fitted; 0 means there was no
// trend to fit (too few points, or a quantity that is not known) and every
// other field is 0.
type Trend struct {
	Slope  float64 // units per second
	Fit    float64 // 0..1, Kendall's tau in the direction of Slope
	Start  float64 // fitted value at the window start
	End    float64 // fitted value at the window end
	Median float64 // median of the fitted points
	N      int     // points fitted; 0 = unknown
}

// Known reports whether the trend was fitted.
func (t Trend) Known() bool { return t.N > 0 }

// Growth returns End - Start, the fitted change over the window.
func (t Trend) Growth() float64 { return t.End - t.Start }

// Relative returns the growth over the window as a fraction of Median, or 0
// when Median is 0.
func (t Trend) Relative() float64 {
	if t.Median == 0 {
		return 0
	}
	return t.Growth() / math.Abs(t.Median)
}

// PerMinute returns Slope in units per minute.
func (t Trend) PerMinute() float64 { return t.Slope * 60 }

// minTrendPoints is the fewest points a trend is fitted to.
const minTrendPoints = 3

// fitter fits trends, reusing its buffers between calls.
type fitter struct {
	maxPoints int
	xs, ys    []float64
	slopes    []float64
	sorted    []float64
	// The floor's points (fitFloor), apart from xs and ys, which fit
	// reuses when it thins the points out.
	floorX, floorY []float64
}

// fit fits a Trend to the points (xs[i], ys[i]), xs in seconds since the
// window start, ascending; x0 and x1 are the window's start and end. With
// more than maxPoints points it fits maxPoints of them, evenly spaced by
// index and always including the first and the last, so the cost is bounded
// by maxPoints²/2 pairs. xs and ys are not modified.
func (f *fitter) fit(xs, ys []float64, x0, x1 float64) Trend {
	return f.fitAtLeast(xs, ys, x0, x1, minTrendPoints)
}

// fitAtLeast is fit with least points at the fewest; with two, the line
// is the one through them.
func (f *fitter) fitAtLeast(xs, ys []float64, x0, x1 float64, least int) Trend {
	n := len(xs)
	if n < max(least, 2) {
		return Trend{}
	}
	if limit := f.maxPoints; limit >= minTrendPoints && n > limit {
		f.xs, f.ys = f.xs[:0], f.ys[:0]
		for k := range limit {
			i := int(math.Round(float64(k) * float64(n-1) / float64(limit-1)))
			f.xs = append(f.xs, xs[i])
			f.ys = append(f.ys, ys[i])
		}
		xs, ys, n = f.xs, f.ys, limit
	}

	f.slopes = f.slopes[:0]
	up, down := 0, 0
	for i := range n {
		for j := i + 1; j < n; j++ {
			dx := xs[j] - xs[i]
			if dx == 0 {
				continue
			}
			dy := ys[j] - ys[i]
			switch {
			case dy > 0 && dx > 0, dy < 0 && dx < 0:
				up++
			case dy != 0:
				down++
			}
			f.slopes = append(f.slopes, dy/dx)
		}
	}
	if len(f.slopes) == 0 {
		return Trend{}
	}
	pairs := len(f.slopes)
	slope := median(f.slopes)

	// The intercept is the median of y - slope·x, and Median the median of y.
	f.sorted = f.sorted[:0]
	for i := range n {
		f.sorted = append(f.sorted, ys[i]-slope*xs[i])
	}
	intercept := median(f.sorted)
	f.sorted = append(f.sorted[:0], ys[:n]...)
	level := median(f.sorted)

	var fit float64
	switch {
	case slope > 0:
		fit = float64(up-down) / float64(pairs)
	case slope < 0:
		fit = float64(down-up) / float64(pairs)
	}
	return Trend{
		Slope:  slope,
		Fit:    max(fit, 0),
		Start:  intercept + slope*x0,
		End:    intercept + slope*x1,
		Median: level,
		N:      n,
	}
}

// median returns the median of a, which is not empty, reordering a. It
// selects instead of sorting: linear time on average, which matters for the
// up to MaxPoints²/2 pairwise slopes.
func median(a []float64) float64 {
	n := len(a)
	hi := selectKth(a, n/2)
	if n%2 == 1 {
		return hi
	}
	// After selection a[:n/2] holds the n/2 smallest; the largest of them
	// is the other middle value.
	return (slices.Max(a[:n/2]) + hi) / 2
}

// selectKth reorders a so that a[k] is the k-th smallest (from 0), with
// nothing greater before it and nothing smaller after it, and returns it.
// The partition is three-way, so runs of equal values (a flat series has
// many zero slopes) cost no more than distinct ones.
func selectKth(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		// Median of three as the pivot: sorted or reversed input stays linear.
		mid := lo + (hi-lo)/2
		x, y, z := a[lo], a[mid], a[hi]
		pivot := max(min(x, y), min(max(x, y), z))
		// a[lo:lt] < pivot, a[lt:i] == pivot, a[gt+1:hi+1] > pivot.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch {
			case a[i] < pivot:
				a[lt], a[i] = a[i], a[lt]
				lt++
				i++
			case a[i] > pivot:
				a[i], a[gt] = a[gt], a[i]
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return a[k]
		}
	}
	return a[k]
}
