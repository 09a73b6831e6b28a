package heapwatch

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	defaultInterval    = time.Second
	defaultCapacity    = 3600
	defaultMaxProfiles = 10
)

// Config configures a Monitor. The zero value samples every second, keeps an
// hour of samples, judges growth over a minute and writes no profiles.
type Config struct {
	// Interval between samples in Run. Default 1s.
	Interval time.Duration
	// Capacity is the number of samples kept; older ones are dropped.
	// Default 3600 (an hour at the default interval). A Sample is 168
	// bytes plus 56 per tracked structure, so the default ring holds about
	// 590 KiB, and about 200 KiB more per structure tracked.
	Capacity int
	// Window is the span trends are fitted over (AnalyzeOptions.Window).
	// Default 60s.
	Window time.Duration
	// Analyze tunes the analysis; its Window is replaced by Window.
	Analyze AnalyzeOptions
	// ProfileDir is the directory heap profiles are written into, created
	// if needed. "" means never write profiles.
	ProfileDir string
	// MaxProfiles bounds the profiles this Monitor keeps in ProfileDir: the
	// first one it wrote (the baseline) and the newest MaxProfiles-1.
	// Default 10; at least 2.
	MaxProfiles int
	// Logger, if set, receives growth episodes and profile writes.
	Logger *slog.Logger
	// ForceGC lets Run collect garbage itself, at a low and bounded rate,
	// in a program that collects too rarely for a verdict: the live heap
	// is only measured when a GC cycle ends, and a quiet daemon may go
	// minutes without one (the runtime forces one every 2 minutes at
	// most). When no cycle has ended for ForceGC, Run calls runtime.GC
	// before it samples, so Run forces at most one collection per ForceGC
	// and none in a program that collects often enough on its own.
	// runtime.GC blocks Run's goroutine for a full collection, whose cost
	// grows with the live heap: with 8 MiB live in 16,000 objects it took
	// 1.3 ms at best and 10.5 ms on average on a 2-vCPU VM whose load
	// average was 36.
	//
	// 0 (the default) never forces one. A negative value means
	// Window / (MinGCCycles+1), 12s with the defaults: enough cycles in
	// every window for a verdict. A positive value below one second is
	// raised to one second.
	ForceGC time.Duration
}

// minForceGC is the shortest interval between the collections Run forces.
const minForceGC = time.Second

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = defaultInterval
	}
	if c.Capacity <= 0 {
		c.Capacity = defaultCapacity
	}
	if c.Window == 0 {
		c.Window = defaultWindow
	}
	c.Analyze.Window = c.Window
	if c.MaxProfiles <= 0 {
		c.MaxProfiles = defaultMaxProfiles
	}
	c.MaxProfiles = max(c.MaxProfiles, 2)
	switch {
	case c.ForceGC < 0:
		cycles := c.Analyze.MinGCCycles
		if cycles == 0 {
			cycles = defaultMinGCCycles
		}
		w := c.Window
		if w < 0 {
			w = defaultWindow
		}
		c.ForceGC = max(w/time.Duration(cycles+1), minForceGC)
	case c.ForceGC > 0:
		c.ForceGC = max(c.ForceGC, minForceGC)
	}
	return c
}

// Monitor keeps a bounded ring of samples, judges their trend and writes heap
// profiles when the heap starts to grow. Its methods are safe for concurrent
// use.
type Monitor struct {
	cfg  Config
	read func() Sample // Read, or a fake in tests
	gc   func()        // runtime.GC, or a fake in tests

	mu   sync.Mutex
	ring []Sample // len == cfg.Capacity once full

	bmu     sync.Mutex
	tracked []tracked // at most MaxBudgets, in the order tracked
	next    int       // index of the oldest sample once the ring is full

	// Profile state, under pmu; only Run's goroutine touches the episode fields.
	pmu      sync.Mutex
	seq      int      // sequence number of the last profile named; 0 = dir not scanned yet
	written  []string // profiles this Monitor wrote and kept, oldest first
	baseline bool     // the baseline profile was attempted
	episode  Growth   // kind of the growth episode under way, or Unknown
	lastAuto time.Time

	// Forced collections (Config.ForceGC), touched only by Run's goroutine
	// but forced, read by ForcedGCs.
	gcSeen uint64    // GC cycles at the last sample that saw a new one
	gcAt   time.Time // when a cycle was last seen to end, or forced
	forced atomic.Uint64

	// The growing verdict Report holds, under hmu.
	hmu  sync.Mutex
	hold held
}

// New returns a Monitor for cfg. It starts nothing: call Run to sample.
func New(cfg Config) *Monitor {
	cfg = cfg.withDefaults()
	return &Monitor{cfg: cfg, read: Read, gc: runtime.GC, ring: make([]Sample, 0, min(cfg.Capacity, 1024))}
}

// Run samples this process every Interval until ctx is done, then returns.
// The caller owns the goroutine: run it as go m.Run(ctx) and cancel ctx to
// stop it. Run takes a sample at once, so a Summary is available right after
// it starts.
//
// With a ProfileDir, Run writes a baseline heap profile once the samples
// first cover a full Window (or the ring is full), and a profile when a
// growth episode starts: the first report that is growing after one that
// was not, or whose kind of growth differs from the episode's, at most once
// per Window. A Flat or Filling report ends the episode; an Unknown one does
// not. Filling is not an episode: the growth is within declared budgets.
//
// Each sample costs Run a Read (one small allocation, and one more for the
// budgets when structures are tracked), a copy of the window's samples and
// a fit of its trends: a cost that grows with the square of the points in
// the window, up to AnalyzeOptions.MaxPoints, and linearly with the
// structures tracked (BenchmarkAnalyze measures it). When neither
// ProfileDir nor Logger is set, Run only samples.
//
// With Config.ForceGC, Run also calls runtime.GC before a sample when no
// collection has ended for ForceGC, at most once per ForceGC.
//
// Run must not be called again until it has returned.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		m.step(m.sample())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sample reads a sample for Run, first forcing a collection when
// Config.ForceGC asks for one.
func (m *Monitor) sample() Sample {
	s := m.Read()
	if m.cfg.ForceGC <= 0 {
		return s
	}
	if m.gcAt.IsZero() || s.GCCycles != m.gcSeen {
		m.gcSeen, m.gcAt = s.GCCycles, s.Time
		return s
	}
	if s.Time.Sub(m.gcAt) < m.cfg.ForceGC {
		return s
	}
	m.gc()
	m.forced.Add(1)
	s = m.Read()
	m.gcSeen, m.gcAt = s.GCCycles, s.Time
	return s
}

// ForcedGCs returns how many collections Run has forced (Config.ForceGC).
func (m *Monitor) ForcedGCs() uint64 { return m.forced.Load() }

// step adds s and acts on the report: Run's work for one sample.
func (m *Monitor) step(s Sample) {
	m.Add(s)
	if m.cfg.ProfileDir == "" && m.cfg.Logger == nil {
		return
	}
	if m.cfg.ProfileDir != "" && !m.baseline {
		if span, full := m.span(); span >= m.cfg.Window || full {
			m.baseline = true
			m.autoProfile("baseline", s.Time)
		}
	}
	r := m.Report()
	switch {
	case r.Growth.Growing():
		if r.Growth == m.episode || (m.episode.Growing() && s.Time.Sub(m.lastAuto) < m.cfg.Window) {
			return
		}
		m.episode = r.Growth
		m.log(slog.LevelWarn, "heap growing", "growth", r.Growth.String(), "report", r.String())
		if m.cfg.ProfileDir != "" {
			m.lastAuto = s.Time
			m.autoProfile(r.Growth.String(), s.Time)
		}
	case (r.Growth == Flat || r.Growth == Filling) && m.episode.Growing():
		m.episode = Unknown
		m.log(slog.LevelInfo, "heap flat again", "report", r.String())
	}
}

func (m *Monitor) autoProfile(reason string, now time.Time) {
	if _, err := m.writeProfile(reason, now); err != nil {
		m.log(slog.LevelError, "heap profile failed", "reason", reason, "err", err)
	}
}

// span returns the time from the oldest to the newest sample, and whether
// the ring is full.
func (m *Monitor) span() (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.ring)
	if n == 0 {
		return 0, false
	}
	oldest, newest := m.ring[m.next%n], m.ring[(m.next+n-1)%n]
	return newest.Time.Sub(oldest.Time), n == m.cfg.Capacity
}

func (m *Monitor) log(level slog.Level, msg string, args ...any) {
	if m.cfg.Logger != nil {
		m.cfg.Logger.Log(context.Background(), level, "heapwatch: "+msg, args...)
	}
}

// Add appends a sample read elsewhere, for example a child process's sample
// received as a JSON line. Samples should be added oldest first. When the
// ring is full the oldest sample is dropped. Add does not write profiles:
// a profile of this process says nothing about another one.
func (m *Monitor) Add(s Sample) {
	m.mu.Lock()
	if len(m.ring) < m.cfg.Capacity {
		m.ring = append(m.ring, s)
	} else {
		m.ring[m.next] = s
		m.next = (m.next + 1) % len(m.ring)
	}
	m.mu.Unlock()
}

// Samples returns a copy of the samples kept, oldest first.
func (m *Monitor) Samples() []Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Sample, 0, len(m.ring))
	out = append(out, m.ring[m.next:]...)
	return append(out, m.ring[:m.next]...)
}

// Last returns the newest sample, and false if there is none.
func (m *Monitor) Last() (Sample, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.ring) == 0 {
		return Sample{}, false
	}
	i := m.next - 1
	if i < 0 {
		i = len(m.ring) - 1
	}
	return m.ring[i], true
}

// Report analyzes the samples of the last Window, with hysteresis: once a
// report has said growing, a later one that Analyze leaves Unknown or Flat
// (a rise that did not persist over its window, noise that kept it under
// a threshold, or warming up) says the same kind of growth again, with
// Report.Held set, while that growth still rises by half of what naming
// it took: its trend rises with half the Fit, half the growth and half the
// floor that AnalyzeOptions ask of a rise, and its newest points have not
// fallen below the fitted line by more than a quarter of the growth. A
// Filling report, any other Unknown or Flat one, and a report more than a
// Window after the last one that said growing end the hold; a leak that
// stops is let go within about a window. The hold only sees the reports
// asked for: a daemon that calls Report (or Summary) every few seconds, or
// Run with a Logger or a ProfileDir, which asks every Interval, gets it.
// Analyze, a pure function of its samples, has none.
func (m *Monitor) Report() Report {
	r := Analyze(m.windowSamples(), m.cfg.Analyze)
	m.hmu.Lock()
	m.hold.apply(&r, m.cfg.Analyze, m.cfg.Window)
	m.hmu.Unlock()
	return r
}

// windowSamples copies the samples no older than Window before the newest
// (all of them when Window is negative): Analyze needs no more, and copying
// the whole ring every Interval would churn the heap being watched.
func (m *Monitor) windowSamples() []Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.ring)
	if n == 0 {
		return nil
	}
	at := func(k int) Sample { return m.ring[(m.next+k)%n] } // k-th oldest
	newest := at(n - 1).Time
	k := n - 1
	for k > 0 && (m.cfg.Window < 0 || !at(k-1).Time.Before(newest.Add(-m.cfg.Window))) {
		k--
	}
	out := make([]Sample, 0, n-k)
	for ; k < n; k++ {
		out = append(out, at(k))
	}
	return out
}

// Summary returns the one-line heap summary of the newest sample and the
// trend (Report.Summary): live heap, objects, bytes per object, retained
// memory, RSS, goroutines, GC cycles and the kind of growth.
func (m *Monitor) Summary() string {
	return m.Report().Summary()
}
