package routemetrics

import (
	"slices"
	"time"
)

// Expire removes the keys that saw no line for SeriesIdle before now, and
// returns how many it removed (counted in ingest_series_expired_total).
// A removed key's counts vanish with it: Prometheus sees its series end,
// and a later line for the same key starts it again from zero, which
// rate() and increase() handle as a counter reset.
//
// Idleness is measured on the store's clock, which Expire and
// WritePrometheus advance to the time they are called with: a line is
// stamped with the clock's last value, so a key may be removed up to one
// interval between such calls early. Call Expire (or scrape) at least ten
// times per SeriesIdle. Expire starts no goroutine: the owner calls it,
// for example from a ticker or before each scrape.
func (s *Store) Expire(now time.Time) int {
	t := now.UnixNano()
	s.advance(t)
	cutoff := t - s.idle
	removed := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		t := sh.t.Load()
		var emptied []*group
		t.each(func(g *group) {
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

// advance moves the clock forward to t.
func (s *Store) advance(t int64) {
	for {
		c := s.clock.Load()
		if t <= c || s.clock.CompareAndSwap(c, t) {
			return
		}
	}
}

// expireGroup removes g's entries last seen before cutoff, and reports how
// many it removed and whether g is left empty; the shard's mutex is held.
func (s *Store) expireGroup(g *group, cutoff int64) (int, bool) {
	old := *g.entries.Load()
	keep := 0
	for _, e := range old {
		if e.seen.Load() >= cutoff {
			keep++
		}
	}
	if keep == len(old) {
		return 0, false
	}
	removed := len(old) - keep
	size := int64(removed) * entryBytes
	if keep == 0 {
		// The first entry is part of the group.
		size += groupBytes + int64(len(g.key)) - entryBytes
		for c := range g.hists {
			if g.hists[c].Load() != nil {
				size += histBytes(len(s.bounds))
			}
		}
	} else {
		es := make([]*entry, 0, keep)
		var used [numClasses]bool
		for _, e := range old {
			if e.seen.Load() >= cutoff {
				es = append(es, e)
				used[statusClass(e.status)] = true
			}
		}
		g.entries.Store(&es)
		for c := range g.hists {
			if !used[c] && g.hists[c].Load() != nil {
				g.hists[c].Store(nil)
				size += histBytes(len(s.bounds))
			}
		}
	}
	s.series.Add(int64(-removed))
	s.bytes.Add(-size)
	return removed, keep == 0
}

// Stats are a Store's counters, as Store.Stats returns them.
type Stats struct {
	// Series is the number of keys held; at most Limit.
	Series int
	// Limit is Config.MaxSeries.
	Limit int
	// Bytes is an estimate of the memory the keys hold: fixed sizes of the
	// store's structures per key, group and histogram, plus the bytes of
	// the labels. LimitBytes is the most it can reach: Limit keys, each
	// with its own longest labels and histogram.
	Bytes, LimitBytes int64
	// Overflows counts the lines counted in an overflow series because
	// their key did not fit in the budget.
	Overflows uint64
	// Expired counts the keys Expire removed.
	Expired uint64
	// ValueErrors counts the values that could not be counted, by field:
	// upstream_response_time, request_length, request_time,
	// body_bytes_sent.
	ValueErrors map[string]uint64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	st := Stats{
		Series:      int(s.series.Load()),
		Limit:       int(s.maxSeries),
		Bytes:       s.bytes.Load(),
		LimitBytes:  s.maxSeries * s.maxKeyBytes(),
		Overflows:   s.overflows.Load(),
		Expired:     s.expired.Load(),
		ValueErrors: make(map[string]uint64, numFields),
	}
	for i := range s.valueErrs {
		st.ValueErrors[valueErrors[i].Field] = s.valueErrs[i].Load()
	}
	return st
}

// Usage returns the estimated bytes the store holds and the most it can
// hold (Stats.Bytes and Stats.LimitBytes), in the shape a heap monitor's
// budget takes. It costs no allocation.
func (s *Store) Usage() (used, limit int64) {
	return s.bytes.Load(), s.maxSeries * s.maxKeyBytes()
}
