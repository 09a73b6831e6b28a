package routemetrics

import (
	"slices"
	"time"
)

// Expire removes the keys that saw no line for SeriesIdle before now, and
// returns how many it removed (counted in ingest_series_expired_total).
// A removed key's counts leave the exposition with it (Stats counts them
// in ExpiredRequests): Prometheus sees its series end, and a later line
// for the same key starts it again from zero, which rate() and increase()
// handle as a counter reset. A route that comes back after its keys
// expired is admitted again as a new one (see Config.AdmitAfter).
//
// Idleness is measured on the store's clock, which Expire and
// WritePrometheus advance to the time they are called with: a line is
// stamped with the clock's last value, which costs a load and not a
// time.Now. A key is removed when its stamp is older than both
// now-SeriesIdle and the clock's value before this call, so a key that saw
// a line since the clock last moved is never removed, however late Expire
// comes; a key may be removed up to one interval between such calls
// early. Call Expire (or scrape) at least ten times per SeriesIdle. Expire
// starts no goroutine: the owner calls it, for example from a ticker or
// before each scrape. Its clock also ages the admission filter (see
// Config.AdmitWindow).
func (s *Store) Expire(now time.Time) int {
	t := now.UnixNano()
	prev := s.advance(t)
	// A line stamps the clock's last value: keys stamped since the clock
	// last moved stay, whatever the time since.
	cutoff := min(t-s.idle, prev)
	removed := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		t := sh.t.Load()
		var emptied []*group
		t.each(func(g *group) {
			if g.kind == kindRegular {
				// Read every count at least once between two halvings
				// of the filter, so that it ages exactly.
				s.freq(g)
			}
			n, empty := s.expireGroup(g, cutoff)
			removed += n
			if empty {
				emptied = append(emptied, g)
			}
		})
		if len(emptied) > 0 {
			sh.t.Store(t.without(emptied))
		}
		sh.mu.Unlock()
	}
	if removed > 0 {
		// Drop the cache's groups, which may be among the removed: the
		// next lines look them up again.
		for i := range s.catchCache {
			s.catchCache[i].Store(nil)
		}
	}
	s.expired.Add(uint64(removed))
	return removed
}

// without returns a copy of t without the groups gone.
func (t *table) without(gone []*group) *table {
	n := &table{m: make(map[uint64]*group, len(t.m))}
	for h, g := range t.m {
		n.m[h] = g
	}
	for _, g := range gone {
		if n.m[g.hash] == g {
			delete(n.m, g.hash)
		}
	}
	for k, g := range t.coll {
		if !slices.Contains(gone, g) {
			if n.coll == nil {
				n.coll = make(map[string]*group)
			}
			n.coll[k] = g
		}
	}
	return n
}

// advance moves the clock forward to t, gives it to the admission filter,
// and returns the clock's value before.
func (s *Store) advance(t int64) int64 {
	for {
		c := s.clock.Load()
		if t <= c {
			return c
		}
		if s.clock.CompareAndSwap(c, t) {
			s.adm.Tick(time.Unix(0, t))
			return c
		}
	}
}

// expireGroup removes g's entries last seen before cutoff, and reports how
// many it removed and whether g is left empty; the shard's mutex is held.
// Each entry's stamp is read once: a line may stamp it again at any time,
// and what is removed must be what is counted as removed. The counts of
// removed entries, and of histograms whose class has no entry left, go to
// the store's sink (see retire.go), which Stats reads.
func (s *Store) expireGroup(g *group, cutoff int64) (int, bool) {
	old := *g.entries.Load()
	var kept, gone []*entry // nil until an entry is removed
	var used [numClasses]bool
	for i, e := range old {
		if e.seen.Load() >= cutoff {
			if kept != nil {
				kept = append(kept, e)
			}
			used[statusClass(e.status)] = true
			continue
		}
		if kept == nil {
			kept = make([]*entry, i, len(old))
			copy(kept, old[:i])
		}
		gone = append(gone, e)
	}
	if gone == nil {
		return 0, false
	}
	var before uint64
	if g.kind == kindRegular {
		before = g.total()
	}
	removed := len(old) - len(kept)
	size := int64(removed) * entryBytes
	if len(kept) == 0 {
		// The first entry is part of the group.
		size += groupBytes + int64(len(g.key)) - entryBytes
	}
	// Histograms before entries: a line that finds its entry retired
	// then finds its histogram retired too, if it is.
	var dead [numClasses]*classHist
	for c := range g.hists {
		if h := g.hists[c].Load(); h != nil && !used[c] {
			dead[c] = h
			h.fold.Store(&s.sinkHist[c])
			size += histBytes(len(s.bounds))
		}
	}
	for _, e := range gone {
		e.fold.Store(&s.sink)
	}
	if len(kept) > 0 {
		g.entries.Store(&kept)
		for c, h := range dead {
			if h != nil {
				g.hists[c].Store(nil)
			}
		}
		if g.kind == kindRegular {
			// The route keeps its count: its total drops by the lines
			// of the removed statuses.
			g.freq.Rebase(s.adm, before, g.total())
		}
	}
	for _, e := range gone {
		s.moveEntry(e, &s.sink)
	}
	for c, h := range dead {
		if h != nil {
			s.moveHist(h, &s.sinkHist[c])
		}
	}
	s.release(g.kind, removed)
	s.bytes.Add(-size)
	return removed, len(kept) == 0
}

// Stats are a Store's counters, as Store.Stats returns them.
type Stats struct {
	// Series is the number of keys held; at most Limit.
	Series int
	// Limit is Config.MaxSeries.
	Limit int
	// Bytes is an estimate of the memory the store holds: the admission
	// filter's tables (AdmissionBytes, fixed by New), and fixed sizes of
	// the store's structures per key, group and histogram plus the bytes
	// of the labels. LimitBytes is the most it can reach: the tables and
	// Limit keys, each with its own longest labels and histogram.
	Bytes, LimitBytes int64
	// AdmissionBytes is the memory of the admission filter's sketch and
	// doorkeeper, allocated by New.
	AdmissionBytes int64
	// Overflows counts the lines counted in an {overflow} series because
	// their key did not fit in the budget (and, with eviction, did not
	// beat the coldest key sampled).
	Overflows uint64
	// Unadmitted counts the lines counted in an {unadmitted} series
	// because their route had not been seen often enough.
	Unadmitted uint64
	// Collapsed counts the lines counted in an {unmatched} series: their
	// route matched no pattern and their status is one of
	// Config.CollapseUnmatched.
	Collapsed uint64
	// Evicted counts the keys removed to make room for a more frequent
	// route; their counts went to {overflow} series.
	Evicted uint64
	// Expired counts the keys Expire removed, and ExpiredRequests the
	// lines counted in them: the lines that left the exposition. The sum
	// of http_requests_total plus ExpiredRequests is every line counted.
	Expired, ExpiredRequests uint64
	// Halvings counts the agings of the admission filter's frequencies,
	// and Rotations the new generations of its doorkeeper: a first
	// sighting is remembered for one to two of them.
	Halvings, Rotations uint64
	// ValueErrors counts the values that could not be counted, by field:
	// upstream_response_time, request_length, request_time,
	// body_bytes_sent.
	ValueErrors map[string]uint64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	used, limit := s.Usage()
	adm := s.adm.Stats()
	st := Stats{
		Series:          int(s.series.Load()),
		Limit:           int(s.maxSeries),
		Bytes:           used,
		LimitBytes:      limit,
		AdmissionBytes:  s.admBytes,
		Overflows:       s.overflows.Load(),
		Unadmitted:      s.unadmitted.Load(),
		Collapsed:       s.collapsed.Load(),
		Evicted:         s.evicted.Load(),
		Expired:         s.expired.Load(),
		ExpiredRequests: s.sink.requests.Load(),
		Halvings:        adm.Halvings,
		Rotations:       adm.Rotations,
		ValueErrors:     make(map[string]uint64, numFields),
	}
	for i := range s.valueErrs {
		st.ValueErrors[fieldNames[i]] = s.valueErrs[i].Load()
	}
	return st
}

// Usage returns the estimated bytes the store holds and the most it can
// hold (Stats.Bytes and Stats.LimitBytes), in the shape a heap monitor's
// budget takes. It costs no allocation. It counts the keys held: while a
// scrape runs, the keys that expired or were evicted since it began stay
// in memory too, so the live heap can reach about twice limit until the
// scrape ends.
func (s *Store) Usage() (used, limit int64) {
	return s.admBytes + s.bytes.Load(), s.admBytes + s.maxSeries*s.maxKeyBytes()
}
