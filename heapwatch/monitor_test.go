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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMonitor_RingIsBounded(t *testing.T) {
	m := New(Config{Capacity: 5})
	_, ok := m.Last()
	assert.False(t, ok)
	assert.Empty(t, m.Samples())
	s := flatProc(1).samples()[:12]
	for i, x := range s {
		m.Add(x)
		last, ok := m.Last()
		require.True(t, ok)
		assert.Equal(t, x, last)
		assert.Len(t, m.Samples(), min(i+1, 5))
	}
	assert.Equal(t, s[7:], m.Samples(), "the newest five, oldest first")
	got := m.Samples()
	got[0].Objects = 1
	assert.Equal(t, s[7], m.Samples()[0], "Samples returns a copy")
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
	assert.Equal(t, want, m.Report())
	assert.Equal(t, Flat, want.Growth)

	m = New(Config{Capacity: 250, Window: -1}) // everything kept
	for _, x := range s[:250] {
		m.Add(x)
	}
	r := m.Report()
	assert.Equal(t, 250, r.Samples)
	assert.Equal(t, PerKey, r.Growth, r.String())
	assert.True(t, strings.HasPrefix(m.Summary(), "live "), m.Summary())
	assert.True(t, strings.HasSuffix(m.Summary(), "; "+r.String()), m.Summary())
}

func TestMonitor_SummaryBeforeSamples(t *testing.T) {
	assert.Equal(t, "no samples yet", New(Config{}).Summary())
}

func isGzip(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	z, err := gzip.NewReader(f)
	require.NoError(t, err, path)
	b, err := io.ReadAll(z)
	require.NoError(t, err, path)
	assert.NotEmpty(t, b)
}

func profileFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	slices.Sort(names)
	return names
}

func TestMonitor_WriteProfileKeepsBaselineAndNewest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "profiles") // created on demand
	m := New(Config{ProfileDir: dir, MaxProfiles: 3})
	var paths []string
	for _, reason := range []string{"baseline", "one", "Two words!", "", "five", "six"} {
		p, err := m.WriteProfile(reason)
		require.NoError(t, err)
		paths = append(paths, p)
	}
	assert.Regexp(t, `/heap-0001-\d{8}T\d{6}-baseline\.pb\.gz$`, paths[0])
	assert.Regexp(t, `/heap-0003-\d{8}T\d{6}-two-words\.pb\.gz$`, paths[2])
	assert.Regexp(t, `/heap-0004-\d{8}T\d{6}-manual\.pb\.gz$`, paths[3])
	want := []string{paths[0], paths[4], paths[5]}
	assert.Equal(t, want, profileFiles(t, dir), "the baseline and the newest, no temporary files")
	assert.Equal(t, want, m.Profiles())
	for _, p := range want {
		isGzip(t, p)
	}

	// A second Monitor in the same directory continues the numbering and
	// leaves the first one's files alone.
	m2 := New(Config{ProfileDir: dir, MaxProfiles: 2})
	for range 3 {
		_, err := m2.WriteProfile("again")
		require.NoError(t, err)
	}
	files := profileFiles(t, dir)
	assert.Len(t, files, 5)
	assert.Equal(t, want, files[:3])
	assert.Contains(t, files[3], "heap-0007-")
	assert.Contains(t, files[4], "heap-0009-")

	_, err := New(Config{}).WriteProfile("x")
	assert.ErrorIs(t, err, ErrNoProfileDir)
}

func TestCleanReason(t *testing.T) {
	assert.Equal(t, "pinned-buffers", cleanReason("pinned-buffers"))
	assert.Equal(t, "user-defined-signal-1", cleanReason("  User defined signal 1 "))
	assert.Equal(t, "a-b", cleanReason("../a/../b"))
	assert.Equal(t, "manual", cleanReason("--"))
	assert.Len(t, cleanReason(strings.Repeat("x", 100)), 40)
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
	require.Len(t, files, 1, "a baseline once a window is covered")
	assert.Contains(t, files[0], "-20261126T003100-baseline.pb.gz", "named after the sample time")

	for _, s := range all[120:300] {
		m.step(s)
	}
	files = profileFiles(t, dir)
	require.Len(t, files, 2, "one profile for the whole episode")
	assert.Contains(t, files[1], "heap-0002-")
	assert.Contains(t, files[1], "-per-key.pb.gz")
	assert.Contains(t, logs.String(), "heapwatch: heap growing")

	for _, s := range all[300:] {
		m.step(s)
	}
	assert.Len(t, profileFiles(t, dir), 2)
	assert.Contains(t, logs.String(), "heapwatch: heap flat again")

	// A new episode after the flat spell writes another.
	for _, s := range grow.samples() {
		s.Time = s.Time.Add(420 * time.Second)
		s.GCCycles += 3000
		m.step(s)
	}
	assert.Len(t, profileFiles(t, dir), 3)
	for _, f := range profileFiles(t, dir) {
		isGzip(t, f)
	}
}

func TestMonitor_RunStopsWithContext(t *testing.T) {
	defer goleak.VerifyNone(t)
	m := New(Config{Interval: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		m.Run(ctx)
		close(done)
	}()
	require.Eventually(t, func() bool { return len(m.Samples()) >= 3 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	s := m.Samples()
	for i := 1; i < len(s); i++ {
		assert.False(t, s[i].Time.Before(s[i-1].Time))
	}
	assert.NotZero(t, s[len(s)-1].Total)
}

func TestSample_JSON(t *testing.T) {
	s := flatProc(1).samples()[3]
	b, err := json.Marshal(s)
	require.NoError(t, err)
	for _, key := range []string{`"time"`, `"live_bytes"`, `"objects"`, `"heap_objects_bytes"`, `"heap_unused_bytes"`,
		`"heap_free_bytes"`, `"heap_released_bytes"`, `"total_bytes"`, `"goroutines"`, `"gc_cycles"`, `"rss_bytes"`, `"rss_known"`} {
		assert.Contains(t, string(b), key)
	}
	var back Sample
	require.NoError(t, json.Unmarshal(b, &back))
	assert.True(t, s.Time.Equal(back.Time))
	back.Time = s.Time
	assert.Equal(t, s, back)
	assert.Equal(t, s.Total-s.HeapReleased, s.Retained())
	assert.Zero(t, Sample{HeapReleased: 5}.Retained())
	assert.Zero(t, Sample{}.BytesPerObject())
	assert.InDelta(t, 64, Sample{HeapObjects: 6400, Objects: 100}.BytesPerObject(), 1e-9)
}
