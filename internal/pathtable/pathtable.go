// Package pathtable counts requests per raw path with bounded memory: the
// table behind "ingest serve"'s /top and the soak's ingest receiver. Keys
// are interned, so a kept key never pins the buffer of the line it came
// from, and at most a fixed number of paths get an entry of their own; the
// rest count under Other, so the totals stay exact.
package pathtable

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/flatheap/ingest"
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

// A Table aggregates requests per path with bounded memory, the way a
// daemon should: the keys are interned strings, so a kept key never pins
// the buffer of the line it came from, and at most maxPaths of them are
// kept. A path gets its own entry only once the Interner has stored it,
// which needs a second sighting, so one-off paths (scans, unique IDs in
// paths) go to the "<other>" entry and displace nothing. Paths longer than
// the Interner's MaxLen are keyed by its shortened form (prefix and
// checksum).
//
// When the table is full, a newly stored path may take the place of an
// entry that has counted only one request (see evictOneLocked).
//
// A Table is safe for concurrent use.
type Table struct {
	paths    *ingest.Interner
	maxPaths int

	mu    sync.Mutex
	stats map[string]*Stat
	other Stat
}

// New returns a Table that interns its keys with paths and keeps at most
// maxPaths of them.
func New(paths *ingest.Interner, maxPaths int) *Table {
	return &Table{
		paths:    paths,
		maxPaths: maxPaths,
		stats:    make(map[string]*Stat),
	}
}

// Interner returns the Interner the table keys paths with.
func (t *Table) Interner() *ingest.Interner { return t.paths }

// MaxPaths returns the most paths the table keeps an entry for.
func (t *Table) MaxPaths() int { return t.maxPaths }

// ServeLine counts r under its path: a Table is an ingest.Handler. It
// allocates nothing when the path is already kept, and retains neither r
// nor its slices.
func (t *Table) ServeLine(r *ingest.Request) {
	key, stored := t.paths.Lookup(r.Path)
	if !stored {
		// Counts the sighting; the copy it returns when it does not store
		// the path is garbage at once.
		t.paths.Intern(r.Path)
		key, stored = t.paths.Lookup(r.Path)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.stats[key]
	if st == nil {
		if !stored || (len(t.stats) >= t.maxPaths && !t.evictOneLocked()) {
			st = &t.other
		} else {
			st = new(Stat)
			t.stats[key] = st
		}
	}
	st.Add(r)
}

// evictSample is how many entries evictOneLocked looks at.
const evictSample = 8

// evictOneLocked makes room for a path by moving one of a few entries
// that counted a single request into "<other>", and reports whether it
// did. Such entries are mostly one-off paths the Interner took for repeated
// ones (its frequency sketch errs that way now and then, more often under
// a flood of distinct paths); without this, they would fill the table for
// good and every path that came later would count under "<other>". A path
// that has counted two requests is never evicted, and the totals do not
// change. The entries looked at are the first of a map iteration, which
// starts at a random place.
func (t *Table) evictOneLocked() bool {
	n := 0
	for key, st := range t.stats {
		if st.Requests <= 1 {
			t.other.merge(st)
			delete(t.stats, key)
			return true
		}
		if n++; n == evictSample {
			break
		}
	}
	return false
}

// Row is one path and its counts, as Snapshot copies them.
type Row struct {
	Path string
	Stat
}

// Snapshot appends a copy of every kept entry to rows[:0], sorted by
// requests, most first (ties by path), and returns it with the "<other>"
// entry. It allocates only when rows has less capacity than the table
// has entries, which is at most MaxPaths: a caller that reuses rows holds
// at most MaxPaths rows, whatever the number of calls. The paths are the
// interned strings, shared, not copied.
func (t *Table) Snapshot(rows []Row) ([]Row, Stat) {
	rows = rows[:0]
	t.mu.Lock()
	for path, st := range t.stats {
		rows = append(rows, Row{path, *st})
	}
	other := t.other
	t.mu.Unlock()
	slices.SortFunc(rows, func(a, b Row) int {
		if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
			return c
		}
		return cmp.Compare(a.Path, b.Path)
	})
	return rows, other
}

// Usage returns the number of paths kept and the bytes of the keys that
// only the table holds: those the Interner has evicted since. The keys it
// still stores, the same strings, are in its own budget; counting them here
// too would count them twice, and each eviction would then move bytes out of
// both budgets while the heap kept them. It looks every key up (no lock in
// the Interner, about a millisecond for 10,000 keys, under the table's lock).
func (t *Table) Usage() (entries int, keyBytes int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.stats {
		if s, ok := t.paths.Lookup(unsafe.Slice(unsafe.StringData(k), len(k))); !ok || unsafe.StringData(s) != unsafe.StringData(k) {
			keyBytes += int64(len(k))
		}
	}
	return len(t.stats), keyBytes
}

// Len returns the number of paths kept, Other not included.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.stats)
}
