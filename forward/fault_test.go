package forward

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// testRestart stops VictoriaLogs for 5 s in the middle of 100,000 lines
// sent at 20,000/s, restarts it on the same data, and checks what the
// store holds against the counters.
func testRestart(t *testing.T, opt Options) (Stats, int, int) {
	vl := startVictoriaLogs(t)
	opt.Logger = quiet
	opt.MinBackoff, opt.MaxBackoff = 50*time.Millisecond, 500*time.Millisecond
	fw, err := New([]string{"jsonline+http://" + vl.addr + "/insert/jsonline"}, opt)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	fd := feeder{fw: fw, format: mustFormat(t)}
	done := make(chan int)
	go func() { done <- fd.run(t, e2eLines, e2eRate, 2, e2ePath, base) }()
	// Stop it once a quarter of the lines went out, for 5 s.
	deadline := time.Now().Add(30 * time.Second)
	for fw.Stats().Sinks[0].Sent < uint64(e2eLines/4) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	vl.stop()
	down := time.Now()
	time.Sleep(5 * time.Second)
	t.Logf("down for %v, budget %d of %d bytes", time.Since(down), fw.Stats().BudgetBytes, fw.Stats().BudgetLimit)
	vl.start()
	sent := <-done
	ensure(t, sent == e2eLines, "sent %d lines", sent)
	shutdown(t, fw)
	st := fw.Stats()
	t.Logf("%+v", st.Sinks[0])
	n, uniq := vl.waitCount("*", e2eLines-int(st.Sinks[0].Dropped))
	return st, n, uniq
}

// TestVictoriaLogs_Restart: with a budget that holds the outage, nothing is
// lost; a line may arrive twice only if it was retried.
func TestVictoriaLogs_Restart(t *testing.T) {
	st, n, uniq := testRestart(t, Options{})
	s := st.Sinks[0]
	ensure(t, s.Dropped == 0 && s.Rejected == 0, "lost %d, rejected %d", s.Dropped, s.Rejected)
	ensure(t, s.Retried > 0, "nothing was retried: the outage was not seen")
	ensure(t, uniq == e2eLines, "stored %d distinct lines, want %d", uniq, e2eLines)
	ensure(t, n-uniq <= int(s.Retried), "%d lines stored twice, more than the %d retried", n-uniq, s.Retried)
}

// TestVictoriaLogs_RestartSmallBudget: with a budget too small for the
// outage, exactly the lines counted as dropped are missing.
func TestVictoriaLogs_RestartSmallBudget(t *testing.T) {
	st, n, uniq := testRestart(t, Options{MaxBytes: 1 << 20, BatchBytes: 64 << 10})
	s := st.Sinks[0]
	ensure(t, s.Dropped > 0 && s.DroppedBudget == s.Dropped, "dropped %+v", s)
	ensure(t, uniq == e2eLines-int(s.Dropped), "stored %d distinct lines, want %d - %d dropped", uniq, e2eLines, s.Dropped)
	ensure(t, n-uniq <= int(s.Retried), "%d lines stored twice, more than the %d retried", n-uniq, s.Retried)
	ensure(t, s.Sent+s.Dropped == uint64(e2eLines), "sent %d + dropped %d != %d", s.Sent, s.Dropped, e2eLines)
}

// TestBadServer: a store that answers 500, or never answers, costs bounded
// memory, every line is counted, and ServeLine does not wait (drop mode).
func TestBadServer(t *testing.T) {
	for _, mode := range []string{"500", "hang"} {
		t.Run(mode, func(t *testing.T) {
			var requests atomic.Int64
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				if mode == "hang" {
					select {
					case <-release:
					case <-r.Context().Done():
					}
					return
				}
				http.Error(w, "overloaded", http.StatusInternalServerError)
			}))
			defer srv.Close()
			defer close(release)
			const limit = 1 << 20
			fw, err := New([]string{"jsonline+" + srv.URL + "/insert/jsonline"}, Options{
				Logger: quiet, MaxBytes: limit, BatchBytes: 64 << 10, FlushInterval: 10 * time.Millisecond,
				Timeout: 200 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			n := map[bool]int{false: 30000, true: 3000}[raceEnabled]
			fd := feeder{fw: fw, format: mustFormat(t)}
			start := time.Now()
			sent := fd.run(t, n, 0, 2, 512, time.Now())
			took := time.Since(start)
			st := fw.Stats()
			ensure(t, st.BudgetBytes <= limit, "budget %d over its limit", st.BudgetBytes)
			ensure(t, requests.Load() > 0, "no request reached the server")
			ensure(t, st.Sinks[0].DroppedBudget > 0, "nothing dropped: %+v", st.Sinks[0])
			t.Logf("%d lines in %v (%.0f/s); %+v", sent, took, float64(sent)/took.Seconds(), st.Sinks[0])
			shutdownCtx(t, fw, 500*time.Millisecond)
			s := fw.Stats().Sinks[0]
			ensure(t, s.Sent == 0, "sent %d", s.Sent)
			ensure(t, s.Dropped == uint64(n), "dropped %d of %d: %+v", s.Dropped, n, s)
			ensure(t, fw.Stats().BudgetBytes == 0, "budget holds %d after Shutdown", fw.Stats().BudgetBytes)
		})
	}
}
