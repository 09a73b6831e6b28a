package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/internal/loadgen"
)

// loadFor is how long TestMigrateUnderLoad sends: 20 s in CI; the long
// run is
//
//	go test ./examples/migrate -run UnderLoad -v -timeout 10m -args -load 60s
var loadFor = flag.Duration("load", 20*time.Second, "how long TestMigrateUnderLoad sends 1,500 lines/s")

// startDaemon runs a daemon on a free loopback port until the test ends,
// and returns it with its address.
func startDaemon(t *testing.T, cfg config) (*daemon, string, func()) {
	t.Helper()
	cfg.listen = "127.0.0.1:0"
	d, err := newDaemon(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for d.srv.LocalAddr() == nil {
		if time.Now().After(deadline) {
			t.Fatal("not listening after 20s")
		}
		time.Sleep(time.Millisecond)
	}
	stop := sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return within 30s of its context's end")
		}
	})
	t.Cleanup(stop)
	return d, d.srv.LocalAddr().String(), stop
}

// waitParsed waits until the daemon has handled or refused n lines.
func waitParsed(t *testing.T, d *daemon, n uint64) ingest.Stats {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := d.srv.Stats()
		if st.Lines+st.DroppedKernel >= n {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %v; want %d lines", st, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// truth replays the lines cfg makes, as loadgen.Send made them, and
// returns the lines of each pool path ("/p..."), and the number of lines
// with a unique path ("/u...", each sent once).
func truth(t *testing.T, cfg loadgen.Config, lines int64) (pool map[string]int64, unique int64) {
	t.Helper()
	cfg, err := cfg.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	g, err := loadgen.NewLineGen(cfg, loadgen.SyslogHostname())
	if err != nil {
		t.Fatal(err)
	}
	pool = map[string]int64{}
	var p ingest.Parser
	var r ingest.Request
	var buf []byte
	now := time.Now()
	for range lines {
		buf = g.AppendLine(buf[:0], now)
		if err := p.Parse(&r, buf); err != nil {
			t.Fatalf("a generated line does not parse: %v", err)
		}
		if strings.HasPrefix(string(r.Path), "/u") {
			unique++
		} else {
			pool[string(r.Path)]++
		}
	}
	return pool, unique
}

// TestMigrateOnePath: 100 requests for one 2 KiB path count 100 under
// that path.
func TestMigrateOnePath(t *testing.T) {
	d, addr, _ := startDaemon(t, config{maxPaths: 10000, heapEvery: time.Hour})
	cfg := loadgen.Config{Targets: []string{addr}, Count: 100, PathLength: 2048, Syslog: "3164"}
	res, err := loadgen.Send(context.Background(), cfg, nil)
	if err != nil || res.Lines != 100 || res.SendErrors != 0 {
		t.Fatalf("Send = %+v, %v; want 100 lines sent", res, err)
	}
	st := waitParsed(t, d, 100)
	if st.Parsed != 100 {
		t.Fatalf("%v; want 100 lines parsed", st)
	}
	pool, _ := truth(t, cfg, 100)
	if len(pool) != 1 {
		t.Fatalf("the load has %d paths, want 1", len(pool))
	}
	for path := range pool {
		if len(path) != 2048 {
			t.Fatalf("the path has %d bytes, want 2048", len(path))
		}
		v, ok := d.paths.Get([]byte(path))
		if !ok || v.Requests != 100 {
			t.Fatalf("the path counts %d (held %v), want 100", v.Requests, ok)
		}
	}
}

// liveHeap collects and returns the live heap.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestMigrateUnderLoad sends the original daemon's load (1,500 lines/s of
// 2 KiB paths, half of them never seen before, behind an RFC 3164 header)
// for -load (20 s), and checks that every line is counted once, under its
// path or under other; that every pool path keeps its own entry and its
// exact count; that the table stays within its budgets; that the heap
// monitor never calls the heap growing; and that the live heap is flat
// once the table is full.
func TestMigrateUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("sends for 20s")
	}
	d, addr, stop := startDaemon(t, config{maxPaths: 10000, heapEvery: time.Hour})
	cfg := loadgen.Config{
		Targets: []string{addr}, Rate: 1500, Duration: *loadFor,
		PathLength: 2048, Paths: 1000, Unique: 0.5, Syslog: "3164", Seed: 7,
	}
	type sent struct {
		res loadgen.Result
		err error
	}
	done := make(chan sent, 1)
	go func() {
		res, err := loadgen.Send(context.Background(), cfg, nil)
		done <- sent{res, err}
	}()

	// While the load runs: the heap monitor's verdict every second, and
	// the live heap once the table is full and at the end.
	var full, growing []string
	var liveFull uint64
	var s sent
	for tick := time.NewTicker(time.Second); ; {
		select {
		case s = <-done:
			tick.Stop()
		case <-tick.C:
			r := d.monitor.Report()
			if r.Growth.Growing() {
				growing = append(growing, r.Summary())
			}
			if liveFull == 0 && d.paths.Stats().Rejected > 0 {
				liveFull = liveHeap()
				full = append(full, r.Summary())
			}
			continue
		}
		break
	}
	if s.err != nil || s.res.SendErrors != 0 {
		t.Fatalf("Send = %+v, %v", s.res, s.err)
	}
	sentLines := s.res.Lines
	st := waitParsed(t, d, uint64(sentLines))
	liveEnd := liveHeap()
	summary := d.monitor.Summary()
	stop()
	st = d.srv.Stats()
	t.Logf("sent %d lines in %v; %v", sentLines, s.res.Elapsed, st)
	t.Logf("heap: %s", summary)

	// Every line counted once.
	if st.Lines+st.DroppedKernel != uint64(sentLines) || st.Parsed != st.Lines {
		t.Fatalf("%v; want %d lines, every one parsed", st, sentLines)
	}
	entries, other := d.paths.Snapshot(nil)
	var held int64
	for _, e := range entries {
		held += e.Value.Requests
	}
	if held+other.Requests != int64(st.Parsed) {
		t.Fatalf("held %d + other %d = %d, want %d", held, other.Requests, held+other.Requests, st.Parsed)
	}

	// Every pool path keeps its own entry, with its exact count when the
	// kernel dropped nothing; a unique path counts 1.
	pool, unique := truth(t, cfg, sentLines)
	if len(pool) != 1000 {
		t.Fatalf("the load has %d pool paths, want 1000", len(pool))
	}
	got := map[string]int64{}
	uniqueHeld := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Key, "/u") {
			uniqueHeld++
			if e.Value.Requests != 1 {
				t.Errorf("a unique path counts %d", e.Value.Requests)
			}
			continue
		}
		got[e.Key] = e.Value.Requests
	}
	for path, n := range pool {
		c, ok := got[path]
		switch {
		case !ok:
			t.Errorf("pool path %.20s... has no entry (%d lines)", path, n)
		case st.DroppedKernel == 0 && c != n, c > n:
			t.Errorf("pool path %.20s... counts %d, was sent %d times", path, c, n)
		}
	}
	ps := d.paths.Stats()
	t.Logf("table: %+v; %d unique paths sent, %d held", ps, unique, uniqueHeld)
	if ps.Entries > ps.MaxEntries || ps.Bytes > ps.MaxBytes {
		t.Errorf("over budget: %+v", ps)
	}
	if u := d.paths.Usage(); u.Bytes > u.LimitBytes {
		t.Errorf("Usage over its limit: %+v", u)
	}

	// The heap: never growing by the monitor, and flat once the table is
	// full (the receive buffers and the table were allocated by then).
	if len(growing) > 0 {
		t.Errorf("the heap monitor saw growth %d times, first: %s", len(growing), growing[0])
	}
	if liveFull == 0 {
		t.Fatal("the table never filled")
	}
	t.Logf("live heap: %d B when the table filled (%s), %d B at the end", liveFull, full[0], liveEnd)
	if liveEnd > liveFull+1<<20 {
		t.Errorf("the live heap grew from %d to %d B after the table filled", liveFull, liveEnd)
	}
}
