package heapwatch

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
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

// near reports whether a and b differ by at most tol.
func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestTheilSen_KnownSlopes(t *testing.T) {
	f := func(slope, intercept float64) {
		t.Helper()
		var fi fitter
		xs, ys := line(40, slope, intercept)
		tr := fi.fit(xs, ys, 0, 39)
		if !near(tr.Slope, slope, 1e-9) || !near(tr.Start, intercept, 1e-6) ||
			!near(tr.End, intercept+39*slope, 1e-6) || tr.N != 40 {
			t.Errorf("slope %v, intercept %v: %+v", slope, intercept, tr)
		}
		if slope == 0 && tr.Fit != 0 {
			t.Errorf("a constant has no trend: fit %v", tr.Fit)
		}
		if slope != 0 && !near(tr.Fit, 1, 1e-12) {
			t.Errorf("slope %v: fit %v, want 1", slope, tr.Fit)
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
	if !near(tr.Slope, 3, 0.05) || !near(tr.Start, 7, 1) || tr.Fit <= 0.6 {
		t.Errorf("%+v", tr)
	}
	// The same data throws least squares off, so the test has teeth.
	if ols := olsSlope(xs, ys); math.Abs(ols-3) <= 0.5 {
		t.Errorf("least squares slope %v is not thrown off", ols)
	}
}

func TestTheilSen_NoiseAndSawtoothHaveLowFit(t *testing.T) {
	var fi fitter
	xs, _ := line(60, 0, 0)
	saw := make([]float64, 60)
	for i := range saw {
		saw[i] = 100 + float64(i%3)*50 // GC every 3 samples
	}
	tr := fi.fit(xs, saw, 0, 59)
	if tr.Fit >= 0.1 || !near(tr.Slope, 0, 1e-9) {
		t.Errorf("sawtooth: %+v", tr)
	}

	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		ys := make([]float64, 60)
		for i := range ys {
			ys[i] = rng.NormFloat64()
		}
		if tr := fi.fit(xs, ys, 0, 59); tr.Fit >= defaultMinFit {
			t.Errorf("noise, seed %d: fit %v", seed, tr.Fit)
		}
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
	if !near(tr.Slope, 1, 0.15) || tr.Fit <= 0.75 {
		t.Errorf("%+v", tr)
	}
}

func TestTheilSen_Degenerate(t *testing.T) {
	var fi fitter
	if n := fi.fit(nil, nil, 0, 1).N; n != 0 {
		t.Errorf("no points: N %d", n)
	}
	if n := fi.fit([]float64{0, 1}, []float64{1, 2}, 0, 1).N; n != 0 {
		t.Errorf("two points are not a trend: N %d", n)
	}
	// Equal x values give no slope; all equal gives no trend.
	if n := fi.fit([]float64{1, 1, 1}, []float64{1, 2, 3}, 0, 1).N; n != 0 {
		t.Errorf("equal x: N %d", n)
	}
	if tr := fi.fit([]float64{0, 0, 1, 1}, []float64{0, 2, 10, 12}, 0, 1); !near(tr.Slope, 10, 1e-9) {
		t.Errorf("pairs of equal x: %+v", tr)
	}
}

func TestTheilSen_CapsPoints(t *testing.T) {
	fi := fitter{maxPoints: 50}
	xs, ys := line(5000, 0.5, 3)
	tr := fi.fit(xs, ys, 0, 4999)
	if !near(tr.Slope, 0.5, 1e-9) || tr.N != 50 || !near(tr.End, 3+0.5*4999, 1e-6) {
		t.Errorf("%+v", tr)
	}
	if len(fi.slopes) > 50*49/2 {
		t.Errorf("%d slopes for 50 points", len(fi.slopes))
	}
	if len(xs) != 5000 || !near(ys[4999], 3+0.5*4999, 1e-9) {
		t.Error("input modified")
	}
}

func TestTrend_Relative(t *testing.T) {
	tr := Trend{Slope: 2, Start: 100, End: 220, Median: 160, N: 5}
	if !near(tr.Growth(), 120, 1e-9) || !near(tr.Relative(), 0.75, 1e-9) || !near(tr.PerMinute(), 120, 1e-9) {
		t.Errorf("growth %v, relative %v, per minute %v", tr.Growth(), tr.Relative(), tr.PerMinute())
	}
	if (Trend{}).Relative() != 0 || (Trend{}).Known() {
		t.Error("the zero Trend is unknown and has no relative growth")
	}
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
			if got := median(a); got != want {
				t.Fatalf("%s n=%d: median %v, want %v", kind, n, got, want)
			}
			slices.Sort(a)
			if !slices.Equal(s, a) {
				t.Fatalf("%s n=%d: median changed the values, not only their order", kind, n)
			}
		}
	}
}
