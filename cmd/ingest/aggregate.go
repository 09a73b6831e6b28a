package main

import (
	"cmp"
	"slices"
	"sync"

	"github.com/flatheap/ingest"
)

// otherPath is the key under which pathTable counts requests whose path it
// does not keep.
const otherPath = "<other>"

// pathStat is what pathTable keeps per path.
type pathStat struct {
	Requests int64 `json:"requests"`
	Bytes    int64 `json:"bytes"`
	// Status counts responses by class: Status[1] is 1xx ... Status[5] is
	// 5xx; Status[0] counts anything else.
	Status [6]int64 `json:"-"`
}

func (s *pathStat) add(r *ingest.Request) {
	s.Requests++
	s.Bytes += r.BodyBytesSent
	class := r.Status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	s.Status[class]++
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

func (s *pathStat) merge(o *pathStat) {
	s.Requests += o.Requests
	s.Bytes += o.Bytes
	for i, n := range o.Status {
		s.Status[i] += n
	}
}

// pathCount is one row of pathTable.top.
type pathCount struct {
	Path string `json:"path"`
	pathStat
	Status1xx int64 `json:"status_1xx"`
	Status2xx int64 `json:"status_2xx"`
	Status3xx int64 `json:"status_3xx"`
	Status4xx int64 `json:"status_4xx"`
	Status5xx int64 `json:"status_5xx"`
}

func newPathCount(path string, st pathStat) pathCount {
	return pathCount{
		Path: path, pathStat: st,
		Status1xx: st.Status[1], Status2xx: st.Status[2], Status3xx: st.Status[3],
		Status4xx: st.Status[4], Status5xx: st.Status[5],
	}
}

// top returns the n paths with the most requests, most first (ties by
// path), followed by the "<other>" entry when it counted anything.
func (t *pathTable) top(n int) []pathCount {
	t.mu.Lock()
	rows := make([]pathCount, 0, len(t.stats))
	for path, st := range t.stats {
		rows = append(rows, newPathCount(path, *st))
	}
	other := t.other
	t.mu.Unlock()
	slices.SortFunc(rows, func(a, b pathCount) int {
		if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
			return c
		}
		return cmp.Compare(a.Path, b.Path)
	})
	rows = rows[:min(n, len(rows))]
	if other.Requests > 0 {
		rows = append(rows, newPathCount(otherPath, other))
	}
	return rows
}

// len returns the number of paths kept, "<other>" not included.
func (t *pathTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.stats)
}
