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
}

// fit fits a Trend to the points (xs[i], ys[i]), xs in seconds since the
// window start, ascending; x0 and x1 are the window's start and end. With
// more than maxPoints points it fits maxPoints of them, evenly spaced by
// index and always including the first and the last, so the cost is bounded
// by maxPoints²/2 pairs. xs and ys are not modified.
func (f *fitter) fit(xs, ys []float64, x0, x1 float64) Trend {
	n := len(xs)
	if n < minTrendPoints {
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
	slices.Sort(f.slopes)
	slope := median(f.slopes)

	// The intercept is the median of y - slope·x, and Median the median of y.
	f.sorted = f.sorted[:0]
	for i := range n {
		f.sorted = append(f.sorted, ys[i]-slope*xs[i])
	}
	slices.Sort(f.sorted)
	intercept := median(f.sorted)
	f.sorted = append(f.sorted[:0], ys[:n]...)
	slices.Sort(f.sorted)

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
		Median: median(f.sorted),
		N:      n,
	}
}

// median returns the median of sorted, which is not empty.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
