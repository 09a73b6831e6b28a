// Package pathtable counts requests per raw path with bounded memory: the
// table behind "ingest serve"'s /top and the soak's ingest receiver. It is
// a keyed.Table of Stat values: at most a fixed number of paths get an
// entry of their own, each keyed by the table's own copy of the path, and
// the rest count under Other, so the totals stay exact.
package pathtable

import (
	"cmp"
	"math"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/keyed"
)

// Other is the key under which a Table counts the requests whose path it
// does not keep.
const Other = "<other>"

// Stat is what a Table keeps per path. Every count saturates at
// math.MaxInt64 instead of wrapping: a sum that reached it means "at least
// this much".
type Stat struct {
	Requests int64
	Bytes    int64
	// Status counts responses by class: Status[1] is 1xx ... Status[5] is
	// 5xx; Status[0] counts anything else.
	Status [6]int64
}

// addSat returns a+b for counts that are never negative, saturating at
// math.MaxInt64. A negative b counts as 0.
func addSat(a, b int64) int64 {
	if b <= 0 {
		return a
	}
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// Add counts r.
func (s *Stat) Add(r *ingest.Request) {
	s.Requests = addSat(s.Requests, 1)
	s.Bytes = addSat(s.Bytes, r.BodyBytesSent)
	class := r.Status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	s.Status[class] = addSat(s.Status[class], 1)
}

func (s *Stat) merge(o *Stat) {
	s.Requests = addSat(s.Requests, o.Requests)
	s.Bytes = addSat(s.Bytes, o.Bytes)
	for i, n := range o.Status {
		s.Status[i] = addSat(s.Status[i], n)
	}
}

// A Table aggregates requests per path with bounded memory: a
// keyed.Table[Stat] of at most maxPaths paths (see keyed for admission,
// eviction and the byte budget). A Table is an ingest.Handler and is safe
// for concurrent use.
type Table struct {
	t        *keyed.Table[Stat]
	maxPaths int
}

// New returns a Table that keeps at most maxPaths paths, within the
// default byte budget of keyed (keyed.DefaultMaxBytes, paths up to
// keyed.DefaultMaxKeyLen bytes); it fails when maxPaths is out of
// keyed's bounds.
func New(maxPaths int) (*Table, error) {
	t, err := keyed.New(keyed.Config[Stat]{MaxEntries: maxPaths, Merge: (*Stat).merge})
	if err != nil {
		return nil, err
	}
	return &Table{t: t, maxPaths: maxPaths}, nil
}

// MaxPaths returns the most paths the table keeps an entry for.
func (t *Table) MaxPaths() int { return t.maxPaths }

// ServeLine counts r under its path: a Table is an ingest.Handler. It
// allocates nothing when the path has an entry or gets none, and retains
// neither r nor its slices.
func (t *Table) ServeLine(r *ingest.Request) {
	t.t.Update(r.Path, func(s *Stat) { s.Add(r) })
}

// Row is one path and its counts, as Top copies them: Key is the path.
type Row = keyed.Entry[Stat]

// byRequests ranks the most requested first.
func byRequests(a, b *Stat) int { return cmp.Compare(b.Requests, a.Requests) }

// Top appends a copy of every kept entry to rows[:0], ranks them by
// requests, most first (ties by path), and returns the first n with the
// Other entry. It allocates only when rows has less capacity than the
// table has entries, which is at most MaxPaths: a caller that reuses rows
// holds at most MaxPaths rows, whatever the number of calls. The paths
// are the table's own strings, shared, not copied.
func (t *Table) Top(rows []Row, n int) ([]Row, Stat) { return t.t.Top(rows, n, byRequests) }

// Usage returns the table's budget for heapwatch.Monitor.Track: its keys
// are its own copies, counted here and nowhere else (keyed.Table.Usage).
func (t *Table) Usage() heapwatch.Usage { return t.t.Usage() }

// Stats returns the table's counters (keyed.Table.Stats).
func (t *Table) Stats() keyed.Stats { return t.t.Stats() }

// Len returns the number of paths kept, Other not included.
func (t *Table) Len() int { return t.t.Len() }
