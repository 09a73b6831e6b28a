package heapwatch

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMonitor_RingIsBounded(t *testing.T) {
	m := New(Config{Capacity: 5})
	if _, ok := m.Last(); ok || len(m.Samples()) != 0 {
		t.Fatal("a new Monitor has samples")
	}
	s := flatProc(1).samples()[:12]
	for i, x := range s {
		m.Add(x)
		last, ok := m.Last()
		if !ok || !reflect.DeepEqual(last, x) {
			t.Fatalf("sample %d: Last %+v, %v", i, last, ok)
		}
		if n := len(m.Samples()); n != min(i+1, 5) {
			t.Fatalf("sample %d: %d kept", i, n)
		}
	}
	if !reflect.DeepEqual(m.Samples(), s[7:]) {
		t.Fatal("not the newest five, oldest first")
	}
	got := m.Samples()
	got[0].Objects = 1
	if !reflect.DeepEqual(m.Samples()[0], s[7]) {
		t.Fatal("Samples does not return a copy")
	}
}

func TestMonitor_ReportUsesTheWindow(t *testing.T) {
	p := flatProc(3)
	p.seconds = 300
	p.live = func(t float64) float64 { return 20*mib + 100*kib*min(t, 200) }
	p.objs = func(t float64) float64 { return 200e3 + 1000*min(t, 200) }
	s := p.samples()
	m := New(Config{Capacity: 250, Window: 60 * time.Second})
	for _, x := range s {
		m.Add(x)
	}
	want := Analyze(s, AnalyzeOptions{Window: 60 * time.Second})
	if got := m.Report(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Report:\n%+v\nwant Analyze's:\n%+v", got, want)
	}
	if want.Growth != Flat {
		t.Fatalf("the last minute: %s", want)
	}

	m = New(Config{Capacity: 250, Window: -1}) // everything kept
	for _, x := range s[:250] {
		m.Add(x)
	}
	r := m.Report()
	if r.Samples != 250 || r.Growth != PerKey {
		t.Fatalf("%d samples: %s", r.Samples, r)
	}
	if sum := m.Summary(); !strings.HasPrefix(sum, "live ") || !strings.HasSuffix(sum, "; "+r.String()) {
		t.Fatalf("Summary: %s", sum)
	}
}

func TestMonitor_SummaryBeforeSamples(t *testing.T) {
	if got := New(Config{}).Summary(); got != "no samples yet" {
		t.Fatal(got)
	}
}

func isGzip(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(path, err)
	}
	b, err := io.ReadAll(z)
	if err != nil || len(b) == 0 {
		t.Fatalf("%s: %d bytes, %v", path, len(b), err)
	}
}

func profileFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func TestMonitor_WriteProfileKeepsBaselineAndNewest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "profiles") // created on demand
	m := New(Config{ProfileDir: dir, MaxProfiles: 3})
	var paths []string
	for _, reason := range []string{"baseline", "one", "Two words!", "", "five", "six"} {
		p, err := m.WriteProfile(reason)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for i, re := range map[int]string{
		0: `/heap-0001-\d{8}T\d{6}-baseline\.pb\.gz$`,
		2: `/heap-0003-\d{8}T\d{6}-two-words\.pb\.gz$`,
		3: `/heap-0004-\d{8}T\d{6}-manual\.pb\.gz$`,
	} {
		if !regexp.MustCompile(re).MatchString(paths[i]) {
			t.Errorf("profile %d: %s does not match %s", i, paths[i], re)
		}
	}
	want := []string{paths[0], paths[4], paths[5]}
	if got := profileFiles(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files %v, want the baseline and the newest, no temporary files: %v", got, want)
	}
	if got := m.Profiles(); !slices.Equal(got, want) {
		t.Fatalf("Profiles %v, want %v", got, want)
	}
	for _, p := range want {
		isGzip(t, p)
	}

	// A second Monitor in the same directory continues the numbering and
	// leaves the first one's files alone.
	m2 := New(Config{ProfileDir: dir, MaxProfiles: 2})
	for range 3 {
		if _, err := m2.WriteProfile("again"); err != nil {
			t.Fatal(err)
		}
	}
	files := profileFiles(t, dir)
	if len(files) != 5 || !slices.Equal(files[:3], want) ||
		!strings.Contains(files[3], "heap-0007-") || !strings.Contains(files[4], "heap-0009-") {
		t.Fatalf("files %v", files)
	}

	if _, err := New(Config{}).WriteProfile("x"); err != ErrNoProfileDir {
		t.Fatalf("no directory: %v", err)
	}
}

func TestCleanReason(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := cleanReason(in); got != want {
			t.Errorf("cleanReason(%q) = %q, want %q", in, got, want)
		}
	}
	f("pinned-buffers", "pinned-buffers")
	f("  User defined signal 1 ", "user-defined-signal-1")
	f("../a/../b", "a-b")
	f("--", "manual")
	f(strings.Repeat("x", 100), strings.Repeat("x", 40))
}

// step drives the automatic profiles with synthetic samples: a baseline
// after the first full window, one profile per growth episode.
func TestMonitor_AutomaticProfiles(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	m := New(Config{ProfileDir: dir, Window: 60 * time.Second, Capacity: 1000,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	flat := flatProc(1)
	flat.seconds = 120
	grow := flatProc(2)
	grow.seconds = 180
	grow.live = linear(20*mib, 100*kib)
	grow.objs = linear(200e3, 1000)
	var all []Sample
	all = append(all, flat.samples()...)
	for _, s := range grow.samples() {
		s.Time = s.Time.Add(120 * time.Second)
		s.GCCycles += 1000
		all = append(all, s)
	}
	for _, s := range flat.samples() {
		s.Time = s.Time.Add(300 * time.Second)
		s.GCCycles += 2000
		all = append(all, s)
	}

	for _, s := range all[:120] {
		m.step(s)
	}
	files := profileFiles(t, dir)
	if len(files) != 1 || !strings.Contains(files[0], "-20261126T003100-baseline.pb.gz") {
		t.Fatalf("want one baseline named after the sample time once a window is covered: %v", files)
	}

	for _, s := range all[120:300] {
		m.step(s)
	}
	files = profileFiles(t, dir)
	if len(files) != 2 || !strings.Contains(files[1], "heap-0002-") || !strings.Contains(files[1], "-per-key.pb.gz") {
		t.Fatalf("want one profile for the whole episode: %v", files)
	}
	if !strings.Contains(logs.String(), "heapwatch: heap growing") {
		t.Fatalf("log: %s", logs.String())
	}

	for _, s := range all[300:] {
		m.step(s)
	}
	if n := len(profileFiles(t, dir)); n != 2 {
		t.Fatalf("%d profiles after a flat spell", n)
	}
	if !strings.Contains(logs.String(), "heapwatch: heap flat again") {
		t.Fatalf("log: %s", logs.String())
	}

	// A new episode after the flat spell writes another.
	for _, s := range grow.samples() {
		s.Time = s.Time.Add(420 * time.Second)
		s.GCCycles += 3000
		m.step(s)
	}
	if n := len(profileFiles(t, dir)); n != 3 {
		t.Fatalf("%d profiles after a second episode", n)
	}
	for _, f := range profileFiles(t, dir) {
		isGzip(t, f)
	}
}

// noLeftGoroutines records the goroutine count; the function it returns
// fails t unless the count comes back to it within 5 seconds.
func noLeftGoroutines(t *testing.T) func() {
	before := runtime.NumGoroutine()
	return func() {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutines left, %d before", runtime.NumGoroutine(), before)
			}
		}
	}
}

func TestMonitor_RunStopsWithContext(t *testing.T) {
	defer noLeftGoroutines(t)()
	m := New(Config{Interval: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		m.Run(ctx)
		close(done)
	}()
	waitFor(t, func() bool { return len(m.Samples()) >= 3 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	s := m.Samples()
	for i := 1; i < len(s); i++ {
		if s[i].Time.Before(s[i-1].Time) {
			t.Fatalf("sample %d is older than the one before", i)
		}
	}
	if s[len(s)-1].Total == 0 {
		t.Fatal("samples not read")
	}
}

func TestSample_JSON(t *testing.T) {
	s := flatProc(1).samples()[3]
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"time"`, `"live_bytes"`, `"objects"`, `"heap_objects_bytes"`, `"heap_unused_bytes"`,
		`"heap_free_bytes"`, `"heap_released_bytes"`, `"total_bytes"`, `"goroutines"`, `"gc_cycles"`, `"rss_bytes"`, `"rss_known"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("no %s in %s", key, b)
		}
	}
	var back Sample
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !s.Time.Equal(back.Time) {
		t.Fatalf("time %v, want %v", back.Time, s.Time)
	}
	back.Time = s.Time
	if !reflect.DeepEqual(s, back) {
		t.Fatalf("round trip:\n%+v\nwant\n%+v", back, s)
	}
	if s.Retained() != s.Total-s.HeapReleased || (Sample{HeapReleased: 5}).Retained() != 0 {
		t.Error("Retained")
	}
	if (Sample{}).BytesPerObject() != 0 || !near((Sample{HeapObjects: 6400, Objects: 100}).BytesPerObject(), 64, 1e-9) {
		t.Error("BytesPerObject")
	}
}

// fakeRuntime is a process for Monitor.sample: each read is a second after
// the last, and its GC count rises every natural reads, or when the
// Monitor forces a collection.
type fakeRuntime struct {
	reads, natural int
	cycles         uint64
	forced         int
}

func (f *fakeRuntime) read() Sample {
	f.reads++
	if f.natural > 0 && f.reads%f.natural == 0 {
		f.cycles++
	}
	return Sample{Time: t0.Add(time.Duration(f.reads) * time.Second), GCCycles: f.cycles}
}

func (f *fakeRuntime) gc() { f.forced++; f.cycles++ }

func TestMonitor_ForceGC(t *testing.T) {
	f := func(cfg Config, natural, seconds, want int) {
		t.Helper()
		rt := &fakeRuntime{natural: natural}
		m := New(cfg)
		m.read, m.gc = rt.read, rt.gc
		for range seconds {
			m.step(m.sample())
		}
		if rt.forced != want || m.ForcedGCs() != uint64(want) {
			t.Errorf("%+v, a GC every %d s, %d s: forced %d (ForcedGCs %d), want %d", cfg, natural, seconds, rt.forced, m.ForcedGCs(), want)
		}
	}
	f(Config{}, 0, 120, 0)                          // off by default
	f(Config{ForceGC: -1}, 0, 120, 9)               // every 12s of a minute's window: at 13, 26, ... 117 s
	f(Config{ForceGC: 30 * time.Second}, 0, 120, 3) // at 31, 62, 93 s
	// Raised to 1s: each read after the first finds the last collection a
	// second old (the fake's reads are a second apart, the one after a
	// forced collection too).
	f(Config{ForceGC: time.Millisecond}, 0, 10, 9)
	f(Config{ForceGC: -1}, 5, 120, 0)                          // the program collects often enough on its own
	f(Config{ForceGC: -1}, 20, 120, 6)                         // not often enough: one forced between two of its own
	f(Config{ForceGC: -1, Window: 30 * time.Second}, 0, 60, 9) // 30s / 5 = 6s
}

// A real run: an idle test process collects rarely, so Run forces a
// collection about once per ForceGC, never more often, and the samples
// then carry enough GC cycles for a verdict.
func TestMonitor_ForceGCRealRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a few seconds")
	}
	m := New(Config{Interval: 20 * time.Millisecond, Window: 5 * time.Second, ForceGC: -1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); m.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for m.ForcedGCs() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	elapsed := time.Since(start)
	forced := m.ForcedGCs()
	if forced < 3 {
		t.Fatalf("forced %d collections in %v", forced, elapsed)
	}
	// 5s / 5 = 1s between forced collections, at most.
	if limit := uint64(elapsed/time.Second) + 1; forced > limit {
		t.Errorf("forced %d collections in %v, more than one a second", forced, elapsed)
	}
	s := m.Samples()
	if got := s[len(s)-1].GCCycles - s[0].GCCycles; got < forced {
		t.Errorf("%d GC cycles in the samples, %d forced", got, forced)
	}
}
