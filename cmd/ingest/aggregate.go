package main

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"sync"
	"unsafe"

	"github.com/flatheap/ingest"
)

// otherPath is the key under which pathTable counts requests whose path it
// does not keep.
const otherPath = "<other>"

// pathStat is what pathTable keeps per path. Every count saturates at
// math.MaxInt64 instead of wrapping: a sum that reached it means "at least
// this much".
type pathStat struct {
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

func (s *pathStat) add(r *ingest.Request) {
	s.Requests = addSat(s.Requests, 1)
	s.Bytes = addSat(s.Bytes, r.BodyBytesSent)
	class := r.Status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	s.Status[class] = addSat(s.Status[class], 1)
}

func (s *pathStat) merge(o *pathStat) {
	s.Requests = addSat(s.Requests, o.Requests)
	s.Bytes = addSat(s.Bytes, o.Bytes)
	for i, n := range o.Status {
		s.Status[i] = addSat(s.Status[i], n)
	}
}

// pathTable aggregates requests per path with bounded memory, the way a
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
// A pathTable is safe for concurrent use.
type pathTable struct {
	paths    *ingest.Interner
	maxPaths int

	mu    sync.Mutex
	stats map[string]*pathStat
	other pathStat
}

func newPathTable(paths *ingest.Interner, maxPaths int) *pathTable {
	return &pathTable{
		paths:    paths,
		maxPaths: maxPaths,
		stats:    make(map[string]*pathStat),
	}
}

// add counts r under its path. It allocates nothing when the path is
// already kept.
func (t *pathTable) add(r *ingest.Request) {
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
			st = new(pathStat)
			t.stats[key] = st
		}
	}
	st.add(r)
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
func (t *pathTable) evictOneLocked() bool {
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

// pathRow is one path and its counts, as a snapshot copies them.
type pathRow struct {
	path string
	pathStat
}

// snapshot appends a copy of every kept entry to rows[:0], sorted by
// requests, most first (ties by path), and returns it with the "<other>"
// entry. It allocates only when rows has less capacity than the table
// has entries, which is at most maxPaths: a caller that reuses rows holds
// at most maxPaths rows, whatever the number of calls. The paths are the
// interned strings, shared, not copied.
func (t *pathTable) snapshot(rows []pathRow) ([]pathRow, pathStat) {
	rows = rows[:0]
	t.mu.Lock()
	for path, st := range t.stats {
		rows = append(rows, pathRow{path, *st})
	}
	other := t.other
	t.mu.Unlock()
	slices.SortFunc(rows, func(a, b pathRow) int {
		if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
			return c
		}
		return cmp.Compare(a.path, b.path)
	})
	return rows, other
}

// usage returns the number of paths kept and the bytes of the keys that
// only the table holds: those the Interner has evicted since. The keys it
// still stores, the same strings, are in its own budget; counting them here
// too would count them twice, and each eviction would then move bytes out of
// both budgets while the heap kept them. It looks every key up (no lock in
// the Interner, about a millisecond for 10,000 keys, under the table's lock).
func (t *pathTable) usage() (entries int, keyBytes int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.stats {
		if s, ok := t.paths.Lookup(unsafe.Slice(unsafe.StringData(k), len(k))); !ok || unsafe.StringData(s) != unsafe.StringData(k) {
			keyBytes += int64(len(k))
		}
	}
	return len(t.stats), keyBytes
}

// len returns the number of paths kept, "<other>" not included.
func (t *pathTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.stats)
}

// appendTopRow appends one object of /top's JSON array, preceded by a
// comma and a newline unless it is the first.
func appendTopRow(dst []byte, path string, st *pathStat, first bool) []byte {
	if !first {
		dst = append(dst, ",\n"...)
	}
	dst = append(dst, `{"path":`...)
	dst = ingest.AppendJSONString(dst, path)
	dst = appendJSONInt(dst, `,"requests":`, st.Requests)
	dst = appendJSONInt(dst, `,"bytes":`, st.Bytes)
	dst = appendJSONInt(dst, `,"status_1xx":`, st.Status[1])
	dst = appendJSONInt(dst, `,"status_2xx":`, st.Status[2])
	dst = appendJSONInt(dst, `,"status_3xx":`, st.Status[3])
	dst = appendJSONInt(dst, `,"status_4xx":`, st.Status[4])
	dst = appendJSONInt(dst, `,"status_5xx":`, st.Status[5])
	dst = appendJSONInt(dst, `,"status_other":`, st.Status[0])
	return append(dst, '}')
}

// appendJSONInt appends key, which holds the JSON punctuation around the
// name, and v.
func appendJSONInt(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(dst, key...), v, 10)
}
