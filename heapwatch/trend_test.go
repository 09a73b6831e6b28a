package heapwatch

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func line(n int, slope, intercept float64) (xs, ys []float64) {
	for i := range n {
		x := float64(i)
		xs = append(xs, x)
		ys = append(ys, intercept+slope*x)
	}
	return xs, ys
}

func olsSlope(xs, ys []float64) float64 {
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	return sxy / sxx
}

func TestTheilSen_KnownSlopes(t *testing.T) {
	f := func(slope, intercept float64) {
		t.Helper()
		var fi fitter
		xs, ys := line(40, slope, intercept)
		tr := fi.fit(xs, ys, 0, 39)
		assert.InDelta(t, slope, tr.Slope, 1e-9)
		assert.InDelta(t, intercept, tr.Start, 1e-6)
		assert.InDelta(t, intercept+39*slope, tr.End, 1e-6)
		assert.Equal(t, 40, tr.N)
		if slope == 0 {
			assert.Zero(t, tr.Fit, "a constant has no trend")
		} else {
			assert.InDelta(t, 1, tr.Fit, 1e-12)
		}
	}
	f(3, 7)
	f(-2.5, 1000)
	f(0, 5)
	f(1e6, 2e9)
}

func TestTheilSen_Outliers(t *testing.T) {
	xs, ys := line(50, 3, 7)
	for i := 0; i < 50; i += 5 { // 20% wild readings, all high
		ys[i] += 1000
	}
	var fi fitter
	tr := fi.fit(xs, ys, 0, 49)
	assert.InDelta(t, 3, tr.Slope, 0.05)
	assert.InDelta(t, 7, tr.Start, 1)
	assert.Greater(t, tr.Fit, 0.6)
	// The same data throws least squares off, so the test has teeth.
	assert.Greater(t, math.Abs(olsSlope(xs, ys)-3), 0.5)
}

func TestTheilSen_NoiseAndSawtoothHaveLowFit(t *testing.T) {
	var fi fitter
	xs, _ := line(60, 0, 0)
	saw := make([]float64, 60)
	for i := range saw {
		saw[i] = 100 + float64(i%3)*50 // GC every 3 samples
	}
	tr := fi.fit(xs, saw, 0, 59)
	assert.Less(t, tr.Fit, 0.1)
	assert.InDelta(t, 0, tr.Slope, 1e-9)

	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		ys := make([]float64, 60)
		for i := range ys {
			ys[i] = rng.NormFloat64()
		}
		tr := fi.fit(xs, ys, 0, 59)
		assert.Less(t, tr.Fit, defaultMinFit, "seed %d", seed)
	}
}

func TestTheilSen_NoisyGrowthHasHighFit(t *testing.T) {
	var fi fitter
	rng := rand.New(rand.NewPCG(7, 7))
	xs, ys := line(60, 1, 100) // +60 over the window
	for i := range ys {
		ys[i] += 10 * (2*rng.Float64() - 1) // ±10
	}
	tr := fi.fit(xs, ys, 0, 59)
	assert.InDelta(t, 1, tr.Slope, 0.15)
	assert.Greater(t, tr.Fit, 0.75)
}

func TestTheilSen_Degenerate(t *testing.T) {
	var fi fitter
	assert.Zero(t, fi.fit(nil, nil, 0, 1).N)
	assert.Zero(t, fi.fit([]float64{0, 1}, []float64{1, 2}, 0, 1).N, "two points are not a trend")
	// Equal x values give no slope; all equal gives no trend.
	assert.Zero(t, fi.fit([]float64{1, 1, 1}, []float64{1, 2, 3}, 0, 1).N)
	tr := fi.fit([]float64{0, 0, 1, 1}, []float64{0, 2, 10, 12}, 0, 1)
	assert.InDelta(t, 10, tr.Slope, 1e-9)
}

func TestTheilSen_CapsPoints(t *testing.T) {
	fi := fitter{maxPoints: 50}
	xs, ys := line(5000, 0.5, 3)
	tr := fi.fit(xs, ys, 0, 4999)
	assert.InDelta(t, 0.5, tr.Slope, 1e-9)
	assert.Equal(t, 50, tr.N)
	assert.LessOrEqual(t, len(fi.slopes), 50*49/2)
	require.InDelta(t, 3+0.5*4999, tr.End, 1e-6)
	assert.Equal(t, 5000, len(xs), "input not modified")
	assert.InDelta(t, 3+0.5*4999, ys[4999], 1e-9)
}

func TestTrend_Relative(t *testing.T) {
	tr := Trend{Slope: 2, Start: 100, End: 220, Median: 160, N: 5}
	assert.InDelta(t, 120, tr.Growth(), 1e-9)
	assert.InDelta(t, 0.75, tr.Relative(), 1e-9)
	assert.InDelta(t, 120, tr.PerMinute(), 1e-9)
	assert.Zero(t, Trend{}.Relative())
	assert.False(t, Trend{}.Known())
}

// median agrees with sorting on random, tied, sorted and reversed input.
func TestMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for n := 1; n < 60; n++ {
		for _, kind := range []string{"random", "ties", "sorted", "reversed"} {
			a := make([]float64, n)
			for i := range a {
				switch kind {
				case "random":
					a[i] = rng.NormFloat64()
				case "ties":
					a[i] = float64(rng.IntN(3))
				case "sorted":
					a[i] = float64(i)
				case "reversed":
					a[i] = float64(n - i)
				}
			}
			s := slices.Clone(a)
			slices.Sort(s)
			want := s[n/2]
			if n%2 == 0 {
				want = (s[n/2-1] + s[n/2]) / 2
			}
			require.Equal(t, want, median(a), "%s n=%d", kind, n)
			slices.Sort(a)
			require.Equal(t, s, a, "median only reorders")
		}
	}
}
