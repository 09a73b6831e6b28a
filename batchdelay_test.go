package ingest

import (
	"errors"
	"testing"
	"time"
)

func TestBatchDelayConfig(t *testing.T) {
	h := HandlerFunc(func(*Request) {})
	for _, d := range []time.Duration{-time.Millisecond, time.Second + 1} {
		_, err := NewServer(Config{Handler: h, BatchDelay: d})
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "BatchDelay" || !errors.Is(err, ErrConfig) {
			t.Errorf("BatchDelay %v: NewServer error %v, want a *ConfigError naming BatchDelay", d, err)
		}
	}
	for _, d := range []time.Duration{0, time.Nanosecond, time.Second} {
		if _, err := NewServer(Config{Handler: h, BatchDelay: d}); err != nil {
			t.Errorf("BatchDelay %v: %v", d, err)
		}
	}
}

// TestPacerPause: a wait lasts BatchDelay unless the reads since the last
// wait began, at their rate, would fill the budget sooner.
func TestPacerPause(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := func(budget, cost float64, elapsed, want time.Duration) {
		t.Helper()
		p := &pacer{delay: 100 * time.Millisecond, budget: budget, since: t0, cost: cost}
		if got := p.pause(t0.Add(elapsed), false); got != want {
			t.Errorf("budget %v, cost %v over %v: pause %v, want %v", budget, cost, elapsed, got, want)
		}
		// After a wait for traffic, the first wait is a 16th at most.
		p = &pacer{delay: 100 * time.Millisecond, budget: budget, since: t0, cost: cost}
		if got := p.pause(t0.Add(elapsed), true); got != min(want, 100*time.Millisecond/16) {
			t.Errorf("budget %v, cost %v over %v, after a wait for traffic: pause %v, want %v", budget, cost, elapsed, got, min(want, 100*time.Millisecond/16))
		}
		if p.cost != 0 || !p.since.Equal(t0.Add(elapsed)) {
			t.Errorf("the count did not restart: cost %v since %v", p.cost, p.since)
		}
	}
	f(0, 1e9, time.Second, 100*time.Millisecond)              // buffer size unknown
	f(1<<20, 0, time.Second, 100*time.Millisecond)            // nothing read
	f(1<<20, 1<<10, time.Hour, 100*time.Millisecond)          // a slow rate
	f(1<<20, 1<<20, 40*time.Millisecond, 40*time.Millisecond) // the budget in 40ms
	f(1<<20, 4<<20, 100*time.Millisecond, 25*time.Millisecond)
	f(1<<20, 1<<20, 100*time.Millisecond, 100*time.Millisecond)
}
