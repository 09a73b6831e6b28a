package keyed

import (
	"time"

	"github.com/flatheap/ingest/heapwatch"
)

// This file holds what reads a whole Table: Snapshot and Top, its Stats and
// its Usage for a heap monitor.

// Entry is a key held and a copy of its value, as Snapshot and Top return
// them.
type Entry[V any] struct {
	// Key is the Table's own copy of the key, shared, not copied again:
	// keeping an Entry keeps that key alive, and nothing else.
	Key   string
	Value V
}

// Snapshot appends a copy of every entry to dst[:0], in no particular
// order, and returns it with the sum of other. It locks one shard at a
// time, for as long as copying its entries takes, so writers wait at most
// that long. It allocates only when dst has less capacity than the Table
// has entries, which is at most MaxEntries: a caller that reuses dst holds
// at most that many, whatever the number of calls.
//
// Snapshot and Usage also give the admission filter the time, so that its
// counts age at least every 10 minutes when few new keys come.
func (t *Table[V]) Snapshot(dst []Entry[V]) ([]Entry[V], V) {
	t.adm.Tick(time.Now())
	dst = dst[:0]
	// other is summed in the Table's own scratch: a local V would escape
	// to the heap through Merge.
	t.sumMu.Lock()
	defer t.sumMu.Unlock()
	var zero V
	t.sum = zero
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for j := range sh.slots {
			if e := sh.slots[j].e; e != nil {
				// Reading the count ages it with the filter's halvings,
				// which keeps it exact (admission.Count).
				e.count.Value(t.adm, e.seen)
				dst = append(dst, Entry[V]{Key: e.key, Value: e.v})
			}
		}
		t.merge(&t.sum, &sh.other)
		sh.mu.Unlock()
	}
	return dst, t.sum
}

// Top returns the n first entries by rank, in order, and the sum of other,
// with the memory rules of Snapshot (dst holds every entry while they are
// ranked). rank returns a negative number when a ranks before b; entries
// that rank equal are ordered by key. The ranking runs with no lock held,
// in place, in O(len log n) comparisons, and allocates nothing.
func (t *Table[V]) Top(dst []Entry[V], n int, rank func(a, b *V) int) ([]Entry[V], V) {
	dst, other := t.Snapshot(dst)
	n = min(max(n, 0), len(dst))
	r := ranking[V]{dst, rank}
	// dst[:n] becomes a heap whose root ranks last; every later entry
	// that ranks before the root takes its place.
	for i := n/2 - 1; i >= 0; i-- {
		r.down(i, n)
	}
	for i := n; i < len(dst); i++ {
		if n > 0 && r.before(i, 0) {
			dst[0], dst[i] = dst[i], dst[0]
			r.down(0, n)
		}
	}
	// Popping the root to the end of the heap sorts dst[:n].
	for end := n - 1; end > 0; end-- {
		dst[0], dst[end] = dst[end], dst[0]
		r.down(0, end)
	}
	return dst[:n], other
}

// ranking orders entries by a rank function, then by key.
type ranking[V any] struct {
	e    []Entry[V]
	rank func(a, b *V) int
}

// before reports whether entry i ranks before entry j.
func (r ranking[V]) before(i, j int) bool {
	if c := r.rank(&r.e[i].Value, &r.e[j].Value); c != 0 {
		return c < 0
	}
	return r.e[i].Key < r.e[j].Key
}

// down restores the heap of e[:n], whose root ranks last, below i.
func (r ranking[V]) down(i, n int) {
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && r.before(c, c+1) {
			c++
		}
		if !r.before(i, c) {
			return
		}
		r.e[i], r.e[c] = r.e[c], r.e[i]
		i = c
	}
}

// Stats are a Table's counters and sizes.
type Stats struct {
	// Entries is the number of keys held; MaxEntries bounds it.
	Entries, MaxEntries int
	// Bytes is the heap the entries take, keys and values as the
	// allocator sizes them; MaxBytes bounds it. FixedBytes is the heap of
	// the tables New allocated, which does not change.
	Bytes, MaxBytes, FixedBytes int64
	// Hits counts updates of a key's own entry, Admitted those that gave
	// a key its entry, Others those counted in other.
	Hits, Admitted, Others uint64
	// Rejected counts the keys refused an entry by a full shard: seen once
	// lately, or less often than the keys they would replace. TooLong
	// counts those longer than MaxKeyLen. Both are in Others.
	Rejected, TooLong uint64
	// Evicted counts the entries removed to make room, their values
	// merged into other.
	Evicted uint64
}

// Stats returns the Table's counters and sizes. It locks each shard in
// turn, so its sums are not one atomic snapshot.
func (t *Table[V]) Stats() Stats {
	st := Stats{MaxEntries: t.maxEntries, MaxBytes: int64(t.maxBytes), FixedBytes: t.fixedBytes}
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		st.Hits += sh.hits
		st.Admitted += sh.admitted
		st.Others += sh.others
		st.Rejected += sh.rejected
		st.TooLong += sh.tooLong
		st.Evicted += sh.evicted
		sh.mu.Unlock()
	}
	// Read after the shards: the sums above and these may differ by the
	// admissions and evictions made meanwhile.
	st.Entries, st.Bytes = int(t.entries.Load()), t.bytes.Load()
	return st
}

// Usage returns the Table's budget for heapwatch.Monitor.Track:
//
//	m.Track("paths", table.Usage)
//
// Bytes is what the Table keeps alive, FixedBytes plus Bytes, keys
// included: they are the Table's own copies, counted nowhere else.
// LimitBytes is FixedBytes plus MaxBytes. Refused counts the keys refused
// an entry and the entries evicted.
func (t *Table[V]) Usage() heapwatch.Usage {
	t.adm.Tick(time.Now())
	st := t.Stats()
	return heapwatch.Usage{
		Bytes:        st.FixedBytes + st.Bytes,
		LimitBytes:   st.FixedBytes + st.MaxBytes,
		Entries:      int64(st.Entries),
		LimitEntries: int64(st.MaxEntries),
		Refused:      st.Rejected + st.TooLong + st.Evicted,
	}
}
