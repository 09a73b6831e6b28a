package heapwatch_test

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
)

var keptViews map[int][]byte

// realRounds reads a sample of m after each of n rounds of work and a GC,
// stamped one second apart, so the real runtime's figures and a real
// structure's usage go through Analyze.
func realRounds(m *heapwatch.Monitor, n int, work func(round int)) []heapwatch.Sample {
	start := time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC)
	var s []heapwatch.Sample
	for i := range n {
		work(i)
		runtime.GC()
		x := m.Read()
		x.Time = start.Add(time.Duration(i) * time.Second)
		s = append(s, x)
	}
	return s
}

// trackInterner registers in the way a daemon does: the bytes of the
// stored values against MaxBytes, entries against MaxEntries, and the
// values refused or evicted.
func trackInterner(t *testing.T, m *heapwatch.Monitor, in *ingest.Interner, cfg ingest.InternerConfig) {
	t.Helper()
	err := m.Track("interner", func() heapwatch.Usage {
		st := in.Stats()
		return heapwatch.Usage{Bytes: int64(st.Bytes), LimitBytes: int64(cfg.MaxBytes),
			Entries: int64(st.Entries), LimitEntries: int64(cfg.MaxEntries), Refused: st.Rejected + st.Evictions}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// flood interns n distinct values of about 1000 bytes, each twice (the
// Interner stores a value on its second sighting).
func flood(in *ingest.Interner, next *int, n int) {
	b := []byte("/" + strings.Repeat("p", 990))
	for range n {
		b = strconv.AppendInt(b[:991], int64(*next), 10)
		*next++
		in.Intern(b)
		in.Intern(b)
	}
}

// An Interner filled by a flood of distinct values is Filling while it
// fills, then flat (at budget, as the flood goes on) once full; a map of
// views of big buffers kept beside a filling Interner is pinned buffers.
func TestAnalyze_RealBudgets(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 40 MiB")
	}
	opt := heapwatch.AnalyzeOptions{Window: -1}
	cfg := ingest.InternerConfig{MaxEntries: 1 << 16, MaxBytes: 8 << 20, MaxLen: 2048}

	in := ingest.NewInterner(cfg)
	m := heapwatch.New(heapwatch.Config{})
	trackInterner(t, m, in, cfg)
	next := 0
	// 300 values a round fill 8 MiB in about 28 rounds.
	s := realRounds(m, 50, func(int) { flood(in, &next, 300) })
	r := heapwatch.Analyze(s[:20], opt)
	if r.Growth != heapwatch.Filling || !strings.HasPrefix(r.String(), "filling declared budgets: interner ") {
		t.Fatalf("filling: %s (%s)", r, r.Reason)
	}
	r = heapwatch.Analyze(s[35:], opt)
	if r.Growth != heapwatch.Flat || r.Budgets[0].State != heapwatch.BudgetAtLimit ||
		!strings.Contains(r.String(), "; at budget: interner ") {
		t.Fatalf("full: %s (%s)", r, r.Reason)
	}
	t.Logf("filling: %s", heapwatch.Analyze(s[:20], opt))
	t.Logf("full: %s", r)
	runtime.KeepAlive(in)

	in = ingest.NewInterner(cfg)
	m = heapwatch.New(heapwatch.Config{})
	trackInterner(t, m, in, cfg)
	keptViews = make(map[int][]byte)
	s = realRounds(m, 20, func(round int) {
		flood(in, &next, 300)
		for k := range 8 {
			buf := make([]byte, 64<<10)
			keptViews[round*8+k] = buf[:16:16] // 16 bytes pin 64 KiB
		}
	})
	keptViews = nil
	r = heapwatch.Analyze(s, opt)
	if r.Growth != heapwatch.PinnedBuffers || !strings.Contains(r.String(), "also filling declared budgets: interner") {
		t.Fatalf("views beside: %s (%s)", r, r.Reason)
	}
	t.Logf("views beside: %s", r)
	runtime.KeepAlive(in)
}
