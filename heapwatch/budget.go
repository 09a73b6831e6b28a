package heapwatch

import (
	"errors"
	"slices"
	"strconv"
)

// MaxBudgets is the most structures one Monitor tracks, and the most budgets
// of one Sample that Analyze reads (the first MaxBudgets, by distinct name).
const MaxBudgets = 16

// budgetMargin is how close to its limit, as a fraction of the limit, a
// structure counts as at its limit.
const budgetMargin = 0.05

// Errors of Monitor.Track.
var (
	ErrBudgetName     = errors.New("heapwatch: a tracked structure needs a name")
	ErrTooManyBudgets = errors.New("heapwatch: more than MaxBudgets structures tracked")
)

// Usage is what a bounded structure (a cache, an interner, a table, a
// queue) reports about itself to a Monitor. Give the bytes, the entries or
// both; a zero limit means that side is not bounded.
type Usage struct {
	// Bytes is what the structure holds on the heap now, including its
	// per-entry overhead where it can tell (map entries, size-class
	// rounding). A structure that reports less than it holds leaves the
	// rest in the unaccounted heap, where it shows as growth.
	Bytes int64 `json:"bytes"`
	// LimitBytes is the most bytes the structure will hold; 0 = no byte
	// limit.
	LimitBytes int64 `json:"limit_bytes,omitempty"`
	// Entries is the number of values held now. Analyze counts each as one
	// heap object when it judges the objects beyond the budgets.
	Entries int64 `json:"entries,omitempty"`
	// LimitEntries is the most values the structure will hold; 0 = no
	// entry limit.
	LimitEntries int64 `json:"limit_entries,omitempty"`
	// Refused is the cumulative count of values refused, or evicted,
	// because the structure is at its limit. It only ever grows; Analyze
	// reads its rate. A structure that also refuses values for other
	// reasons may count them here: a structure is only reported at budget
	// when it is near its limit as well.
	Refused uint64 `json:"refused,omitempty"`
}

// BudgetSample is the usage of one tracked structure in a Sample.
type BudgetSample struct {
	// Name is the name the structure was tracked under.
	Name string `json:"name"`
	Usage
}

type tracked struct {
	name  string
	usage func() Usage
}

// Track registers a bounded structure under name, so that the Monitor's
// samples carry its usage and Analyze can tell the structure filling its
// budget from a leak:
//
//	m.Track("interner", func() heapwatch.Usage { st := in.Stats(); return heapwatch.Usage{...} })
//
// usage is called once per sample from Run's goroutine, and from Read and
// Budgets, so it must be safe for concurrent use with the structure, quick,
// and must not call back into the Monitor. Tracking a name again replaces
// its function; a nil usage removes the name. Track is safe to call before
// and during Run. It fails with ErrBudgetName for an empty name and with
// ErrTooManyBudgets past MaxBudgets names.
func (m *Monitor) Track(name string, usage func() Usage) error {
	if name == "" {
		return ErrBudgetName
	}
	m.bmu.Lock()
	defer m.bmu.Unlock()
	i := slices.IndexFunc(m.tracked, func(t tracked) bool { return t.name == name })
	switch {
	case usage == nil:
		if i >= 0 {
			m.tracked = slices.Delete(m.tracked, i, i+1)
		}
	case i >= 0:
		m.tracked[i].usage = usage
	case len(m.tracked) >= MaxBudgets:
		return ErrTooManyBudgets
	default:
		m.tracked = append(m.tracked, tracked{name, usage})
	}
	return nil
}

// Budgets returns the usage of every tracked structure now, in the order
// they were first tracked, or nil if none is.
func (m *Monitor) Budgets() []BudgetSample {
	return m.appendBudgets(nil)
}

// Read reads a sample of this process now, as the package function Read
// does, with the usage of every tracked structure in its Budgets. It is
// what Run adds to the ring; a process that sends its samples to another
// one (as JSON lines) sends these.
func (m *Monitor) Read() Sample {
	s := m.read()
	s.Budgets = m.appendBudgets(s.Budgets[:0:0])
	if len(s.Budgets) == 0 {
		s.Budgets = nil
	}
	return s
}

// appendBudgets calls each usage function outside the lock, so that a slow
// or re-entrant one cannot block Track.
func (m *Monitor) appendBudgets(dst []BudgetSample) []BudgetSample {
	var regs [MaxBudgets]tracked
	m.bmu.Lock()
	n := copy(regs[:], m.tracked)
	m.bmu.Unlock()
	if n == 0 {
		return dst
	}
	dst = slices.Grow(dst, n)
	for _, t := range regs[:n] {
		dst = append(dst, BudgetSample{Name: t.name, Usage: t.usage()})
	}
	return dst
}

// BudgetState is what a tracked structure was doing over the window.
type BudgetState int

const (
	// BudgetSteady: below its limit (or without one) and not filling.
	BudgetSteady BudgetState = iota
	// BudgetFilling: its bytes or entries rose steadily over the window.
	BudgetFilling
	// BudgetAtLimit: within 5% of a limit and refusing or evicting values
	// (Usage.Refused rose over the window). A tuning hint, not a leak.
	BudgetAtLimit
)

var budgetStateLabels = [...]string{
	BudgetSteady:  "steady",
	BudgetFilling: "filling",
	BudgetAtLimit: "at-budget",
}

// String returns "steady", "filling" or "at-budget".
func (s BudgetState) String() string {
	if s < 0 || int(s) >= len(budgetStateLabels) {
		return "budget-state(" + strconv.Itoa(int(s)) + ")"
	}
	return budgetStateLabels[s]
}

// BudgetReport is one tracked structure as Analyze saw it: its usage in the
// newest sample, its trends over the window and its state.
type BudgetReport struct {
	// BudgetSample is the structure's usage in the newest sample.
	BudgetSample
	// State is what the structure did over the window.
	State BudgetState
	// BytesTrend and EntriesTrend are fitted to every sample of the window
	// that carries the structure.
	BytesTrend, EntriesTrend Trend
	// RefusedPerSecond is the rate of Usage.Refused over the window.
	RefusedPerSecond float64
}

// Fraction returns how full the structure is: the larger of Bytes/LimitBytes
// and Entries/LimitEntries, or 0 when it has no limit.
func (b BudgetReport) Fraction() float64 {
	f := 0.0
	if b.LimitBytes > 0 {
		f = float64(max(b.Bytes, 0)) / float64(b.LimitBytes)
	}
	if b.LimitEntries > 0 {
		f = max(f, float64(max(b.Entries, 0))/float64(b.LimitEntries))
	}
	return f
}

// ceiling returns the most bytes the structure can hold: LimitBytes, or
// with only an entry limit its bytes per entry times LimitEntries; false
// when it has no limit to project from.
func (b BudgetReport) ceiling() (float64, bool) {
	switch {
	case b.LimitBytes > 0:
		return float64(b.LimitBytes), true
	case b.LimitEntries > 0 && b.Entries > 0:
		return float64(max(b.Bytes, 0)) / float64(b.Entries) * float64(b.LimitEntries), true
	case b.LimitEntries > 0 && b.Bytes <= 0:
		return 0, true // reports entries only, holds no bytes it knows of
	}
	return 0, false
}

// budgetNames returns the distinct names among the first MaxBudgets budgets
// of s.
func budgetNames(s Sample) []string {
	var names []string
	for _, b := range s.Budgets[:min(len(s.Budgets), MaxBudgets)] {
		if !slices.Contains(names, b.Name) {
			names = append(names, b.Name)
		}
	}
	return names
}

// budgetOf returns the budget called name among the first MaxBudgets of s;
// hint is where it is expected (the same order as the newest sample).
func budgetOf(s Sample, name string, hint int) (Usage, bool) {
	bs := s.Budgets[:min(len(s.Budgets), MaxBudgets)]
	if hint < len(bs) && bs[hint].Name == name {
		return bs[hint].Usage, true
	}
	for _, b := range bs {
		if b.Name == name {
			return b.Usage, true
		}
	}
	return Usage{}, false
}

// trackedSums returns the bytes and entries the named budgets of s hold;
// negative figures count as 0.
func trackedSums(s Sample, names []string) (bytes, entries float64) {
	for j, name := range names {
		if u, ok := budgetOf(s, name, j); ok {
			bytes += float64(max(u.Bytes, 0))
			entries += float64(max(u.Entries, 0))
		}
	}
	return bytes, entries
}

// analyzeBudgets fills in r.Budgets from the window w: the structures of the
// newest sample, their trends, refusal rates and states.
func (r *Report) analyzeBudgets(w []Sample, names []string, f *fitter, opt AnalyzeOptions) {
	if len(names) == 0 {
		return
	}
	t0 := w[0].Time
	x1 := r.Window.Seconds()
	last := w[len(w)-1]
	var xs, bys, eys []float64
	r.Budgets = make([]BudgetReport, 0, len(names))
	for j, name := range names {
		u, _ := budgetOf(last, name, j)
		b := BudgetReport{BudgetSample: BudgetSample{Name: name, Usage: u}}
		xs, bys, eys = xs[:0], bys[:0], eys[:0]
		var first Usage
		var firstAt float64
		seen := false
		for _, s := range w {
			v, ok := budgetOf(s, name, j)
			if !ok {
				continue
			}
			x := s.Time.Sub(t0).Seconds()
			if !seen {
				first, firstAt, seen = v, x, true
			}
			xs = append(xs, x)
			bys = append(bys, float64(max(v.Bytes, 0)))
			eys = append(eys, float64(max(v.Entries, 0)))
		}
		b.BytesTrend = f.fit(xs, bys, 0, x1)
		b.EntriesTrend = f.fit(xs, eys, 0, x1)
		if span := x1 - firstAt; seen && span > 0 && u.Refused > first.Refused {
			b.RefusedPerSecond = float64(u.Refused-first.Refused) / span
		}
		near := (u.LimitBytes > 0 && float64(u.Bytes) >= (1-budgetMargin)*float64(u.LimitBytes)) ||
			(u.LimitEntries > 0 && float64(u.Entries) >= (1-budgetMargin)*float64(u.LimitEntries))
		switch {
		case near && b.RefusedPerSecond > 0:
			b.State = BudgetAtLimit
		case opt.rising(b.BytesTrend, 0) || opt.rising(b.EntriesTrend, 0):
			b.State = BudgetFilling
		}
		r.Budgets = append(r.Budgets, b)
	}
}
