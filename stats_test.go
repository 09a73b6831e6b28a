package ingest

import (
	"sync"
	"testing"
)

// TestCountersWholeBatches: Stats never sums part of a batch. One goroutine
// publishes batches whose datagrams, lines and parsed lines are equal, the
// way a reader does; another reads the counters all the while and must
// always find the three equal.
func TestCountersWholeBatches(t *testing.T) {
	var c counters
	const batches = 100_000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var t tally
		for i := range batches {
			n := uint64(1 + i%16)
			t.datagrams, t.lines, t.parsed = n, n, n
			c.publish(&t)
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	reads, torn := 0, 0
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true // one last read after the last publish
		default:
		}
		var s Stats
		c.addTo(&s)
		reads++
		if s.Datagrams != s.Lines || s.Lines != s.Parsed {
			torn++
			if torn == 1 {
				t.Errorf("read part of a batch: datagrams %d, lines %d, parsed %d", s.Datagrams, s.Lines, s.Parsed)
			}
		}
	}
	var s Stats
	c.addTo(&s)
	if want := uint64(batches / 16 * (16 * 17 / 2)); s.Datagrams != want || s.Parsed != want {
		t.Errorf("final datagrams %d, parsed %d, want %d", s.Datagrams, s.Parsed, want)
	}
	t.Logf("%d reads during %d publishes, %d torn", reads, batches, torn)
}
