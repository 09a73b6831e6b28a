package heapwatch

import (
	"strings"
	"testing"
	"time"
)

// burst is 200 concurrent HTTP responses of 6.8 MB each, built over 25
// seconds from t=20s and written out over the next 15: the live heap
// climbs by 1.3 GiB with a few objects per response, then falls back; the
// runtime keeps the memory it mapped.
func burst(seed uint64) proc {
	p := flatProc(seed)
	p.seconds = 120
	const peak = 200 * 6.8e6
	inFlight := func(t float64) float64 {
		switch {
		case t < 20:
			return 0
		case t < 45:
			return (t - 20) / 25
		case t < 60:
			return 1 - (t-45)/15
		}
		return 0
	}
	p.live = func(t float64) float64 { return 20*mib + peak*inFlight(t) }
	p.objs = func(t float64) float64 { return 200e3 + 2000*inFlight(t) }
	p.goroutines = func(t float64) float64 {
		if t >= 20 && t < 60 {
			return 10 + 200*(1-max(t-45, 0)/15)
		}
		return 10
	}
	p.retained = func(t float64) float64 { return 45*mib + 2*peak*inFlight(min(t, 45)) }
	p.rss = func(t float64) float64 { return 50*mib + 2*peak*inFlight(min(t, 45)) }
	return p
}

// Big buffers in flight for part of the window are not kept views: no
// window over the burst may call it pinned buffers or values per key.
func TestAnalyze_TransientBuffers(t *testing.T) {
	for seed := range uint64(10) {
		s := burst(seed).samples()
		waited := false
		for end := 10; end <= len(s); end++ {
			r := Analyze(s[:end], AnalyzeOptions{Window: time.Minute})
			switch r.Growth {
			case PinnedBuffers, PerKey, OffHeap:
				t.Fatalf("seed %d, window ending at %ds: %s (%s)", seed, end-1, r, r.Reason)
			case Unknown:
				waited = waited || strings.Contains(r.Reason, "not steadily over the window")
			}
		}
		if !waited {
			t.Fatalf("seed %d: no window said the live heap rose but not steadily", seed)
		}
	}
}
