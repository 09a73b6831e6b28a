package forward

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// testRestart sends a third of e2eLines lines to a real VictoriaLogs,
// stops it (SIGTERM: it writes what it holds), sends the second third
// while it is down, waits until an attempt at a batch has failed and
// e2eOutage has passed, starts it again on the same data and port, sends
// the rest, and returns the counters once Shutdown returned, with what
// the store holds. With untilDropped, lines are sent during the outage
// until the budget has dropped some, so that the test sees a full budget
// however fast the machine is.
func testRestart(t *testing.T, opt Options, untilDropped bool) (s SinkStats, lines, n, uniq int) {
	vl := startVictoriaLogs(t)
	opt.Logger = quiet
	opt.MinBackoff, opt.MaxBackoff = 50*time.Millisecond, 500*time.Millisecond
	fw, err := New([]string{"jsonline+http://" + vl.Addr + "/insert/jsonline"}, opt)
	if err != nil {
		t.Fatal(err)
	}
	sink := func() SinkStats { return fw.Stats().Sinks[0] }
	fd := feeder{fw: fw, format: mustFormat(t), base: time.Now().Add(-time.Hour).Truncate(time.Second)}
	third := e2eLines / 3
	fd.send(t, 0, third, e2eRate, e2ePath)
	waitFor(t, "a batch sent before the outage", 60*time.Second, func() bool { return sink().Sent > 0 })

	vl.Stop()
	down := time.Now()
	lines = 2 * third
	fd.send(t, third, lines, e2eRate, e2ePath)
	for untilDropped && sink().DroppedBudget == 0 && lines < 20*e2eLines {
		fd.send(t, lines, lines+third, e2eRate, e2ePath)
		lines += third
	}
	fw.Flush()
	waitFor(t, "an attempt failed during the outage", 60*time.Second, func() bool { return sink().FailedNetwork > 0 })
	time.Sleep(time.Until(down.Add(e2eOutage))) // the outage lasts e2eOutage at least
	t.Logf("down for %v, %d lines sent meanwhile, budget %d of %d bytes", time.Since(down), lines-third, fw.Stats().BudgetBytes, fw.Stats().BudgetLimit)
	vl.Start()

	rest := max(third, e2eLines-lines)
	fd.send(t, lines, lines+rest, e2eRate, e2ePath)
	lines += rest
	shutdown(t, fw)
	s = sink()
	t.Logf("%d lines; %+v", lines, s)
	n, uniq = vl.waitCount("*", lines-int(s.Dropped))
	ensure(t, fw.Stats().BudgetBytes == 0, "budget holds %d bytes after Shutdown", fw.Stats().BudgetBytes)
	return s, lines, n, uniq
}

// TestVictoriaLogs_Restart: with a budget that holds the outage, nothing is
// lost; a line may arrive twice only if it was retried.
func TestVictoriaLogs_Restart(t *testing.T) {
	s, lines, n, uniq := testRestart(t, Options{}, false)
	ensure(t, s.Dropped == 0 && s.Rejected == 0, "lost %d, rejected %d", s.Dropped, s.Rejected)
	ensure(t, s.Sent == uint64(lines), "sent %d of %d", s.Sent, lines)
	ensure(t, s.Retried > 0, "nothing was retried: the outage was not seen")
	ensure(t, uniq == lines, "stored %d distinct lines, want %d", uniq, lines)
	ensure(t, n-uniq <= int(s.Retried), "%d lines stored twice, more than the %d retried", n-uniq, s.Retried)
}

// TestVictoriaLogs_RestartSmallBudget: with a budget too small for the
// outage, exactly the lines counted as dropped are missing.
func TestVictoriaLogs_RestartSmallBudget(t *testing.T) {
	s, lines, n, uniq := testRestart(t, Options{MaxBytes: 1 << 20, BatchBytes: 64 << 10}, true)
	ensure(t, s.Dropped > 0 && s.DroppedBudget == s.Dropped, "dropped %+v", s)
	ensure(t, s.Rejected == 0, "rejected %d", s.Rejected)
	ensure(t, uniq == lines-int(s.Dropped), "stored %d distinct lines, want %d - %d dropped", uniq, lines, s.Dropped)
	ensure(t, n-uniq <= int(s.Retried), "%d lines stored twice, more than the %d retried", n-uniq, s.Retried)
	ensure(t, s.Sent+s.Dropped == uint64(lines), "sent %d + dropped %d != %d", s.Sent, s.Dropped, lines)
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
			// Lines until the budget is full and has dropped some.
			fd := feeder{fw: fw, format: mustFormat(t), base: time.Now()}
			start := time.Now()
			n := 0
			for n == 0 || fw.Stats().Sinks[0].DroppedBudget == 0 && n < 200_000 {
				fd.send(t, n, n+1000, 0, 512)
				n += 1000
			}
			sent := n
			took := time.Since(start)
			st := fw.Stats()
			ensure(t, st.BudgetBytes <= limit, "budget %d over its limit", st.BudgetBytes)
			waitFor(t, "a request reached the server", 60*time.Second, func() bool { return requests.Load() > 0 })
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
