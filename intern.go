package ingest

import (
	"bytes"
	"hash/crc64"
	"sync/atomic"
	"unicode/utf8"

	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/internal/sizeclass"
)

// This file holds the Interner, one of the two doors through which values
// outlive a handler call (the other, Request.Clone, is in request.go): its
// bounds, its counters and its API, with the shortening of long values.
// Its tables and their lock-free lookup are in intern_table.go, admission
// and eviction in intern_admit.go.

// Interner defaults and limits; see InternerConfig.
const (
	defaultInternMaxEntries = 1 << 16
	defaultInternMaxBytes   = 8 << 20
	defaultInternMaxLen     = 512
	minInternMaxLen         = 32
	maxInternMaxLen         = 1<<16 - 1
)

// InternerConfig bounds an Interner. A zero or negative field takes its
// default.
type InternerConfig struct {
	// MaxEntries is the most values stored at once. Default 65536.
	MaxEntries int
	// MaxBytes bounds the sum of the lengths of the stored values.
	// Default 8 MiB. It is never raised: a value that cannot fit in its
	// shard's share of MaxBytes is returned as a copy and not stored.
	MaxBytes int
	// MaxLen is the longest value stored as it is; Intern shortens longer
	// values (see Intern). Default 512; values below 32 are raised to 32
	// and values above 65535 lowered to 65535.
	MaxLen int
}

// InternerStats are an Interner's counters and sizes. The counters cover
// Intern only; Lookup changes none of them.
type InternerStats struct {
	// Hits counts Intern calls answered with a stored string, without
	// allocating.
	Hits uint64
	// Misses counts Intern calls that found nothing stored and made a copy.
	Misses uint64
	// Rejected counts the misses whose copy was returned without being
	// stored: a first sighting, a value that lost against the entry it
	// would have replaced, or one that did not fit the byte budget.
	Rejected uint64
	// Evictions counts stored values dropped to make room.
	Evictions uint64
	// TooLong counts Intern calls with a value longer than MaxLen. Each of
	// them is also counted as a hit or a miss of the shortened value.
	TooLong uint64
	// Entries and Bytes are the number of stored values and the sum of
	// their lengths: at most MaxEntries and MaxBytes.
	Entries int
	Bytes   int
	// MaxEntries and MaxBytes are the Interner's bounds, defaults applied:
	// the limits a memory budget for the Interner can be written against.
	MaxEntries int
	MaxBytes   int
	// HeapBytes is the heap the stored values take: each is one object of
	// its length plus 2 bytes, at the size the allocator gives it.
	// FixedBytes is the heap of the tables NewInterner allocated, which
	// does not change. Usage reports their sum.
	HeapBytes  int64
	FixedBytes int64
}

// Interner returns canonical string copies of repeated byte values (paths,
// hosts, user agents) so that a daemon can keep them without pinning the
// buffers they came from and without a string allocation per line. (For
// state per key, counts per path for instance, use a keyed.Table: it looks
// keys up from views and bounds the state with the keys.) It is bounded: it stores at most MaxEntries values
// whose lengths add up to at most MaxBytes, whatever the input.
//
// The zero value is usable and has the default bounds; NewInterner sets
// others. An Interner is safe for concurrent use; Intern and Lookup take no
// lock when the value is stored, and a lock on one of up to 64 shards
// otherwise.
//
// # Admission and eviction
//
// A value is stored on its second sighting, not its first, so a stream of
// one-off values (scans, random paths) is almost never stored and
// displaces almost nothing: the sketch that remembers first sightings can
// mistake a new value for a seen one, about 1 time in 200 in a flood of
// distinct values. Each shard keeps a count-min sketch of the values it
// missed (counters up to 15, 16 per entry), halved after every 2 misses
// per entry of the shard, and each stored value a hit counter up to 15,
// halved after every 8 misses per entry. A
// shard is split into sets of 8 slots, and a value may live only in the set
// its hash selects. When that set is full, the candidate replaces the
// set's value with the lowest count only if the candidate's estimated
// misses exceed that count (the TinyLFU rule): a value used often is not
// displaced by values seen a few times. When the byte budget is short, the
// candidate may also replace values elsewhere in its shard whose counts are
// lower than its estimate; if that cannot free enough, it is not stored.
//
// # Memory
//
// The tables are allocated by NewInterner (or the first call on a zero
// Interner): 16 bytes per entry of MaxEntries for the sets and 16 to 32 for
// the sketch, plus 32 counter stripes of 16 bytes and a cache line each
// (2.5 KiB on amd64). Each stored value is one heap object
// of its length plus 2 bytes, rounded up to a Go size class, that holds
// nothing else: a string returned by Intern and kept after its value was
// evicted pins only that value. The cost is one pointer per entry for the
// garbage collector to follow, bounded by MaxEntries. Packing values into
// shared chunks would make the pointer count O(chunks), but then every
// kept string would pin its whole chunk, the very leak the Interner exists
// to prevent.
type Interner struct {
	tab atomic.Pointer[internTable]
	cfg InternerConfig
}

// NewInterner returns an Interner with the bounds of cfg; see
// InternerConfig for the defaults.
func NewInterner(cfg InternerConfig) *Interner {
	in := &Interner{cfg: cfg}
	in.tab.Store(newInternTable(cfg))
	return in
}

// table returns the tables, building them with the defaults on the first
// call on a zero Interner.
func (in *Interner) table() *internTable {
	if t := in.tab.Load(); t != nil {
		return t
	}
	t := newInternTable(in.cfg)
	if in.tab.CompareAndSwap(nil, t) {
		return t
	}
	return in.tab.Load()
}

// Intern returns the canonical string for b: the stored copy when there is
// one, without allocating (a hit). Otherwise it makes one copy of b (a
// miss): if b passes admission (see Interner) the copy is stored, as one
// object of len(b)+2 bytes, and returned; if not (a first sighting, or a
// candidate that lost), it is an exact-size string that is returned
// unstored and counted in Rejected. An empty b gives "" and counts as a
// hit. The returned string never aliases b.
//
// A b longer than MaxLen is never stored whole. Intern returns instead, and
// stores as any other value, the shortened form
//
//	prefix + "#" + 16 lowercase hex digits
//
// where the digits are the CRC-64 (ECMA polynomial, hash/crc64) of the whole
// of b, and prefix is the first MaxLen-17 bytes of b cut just after their
// last '/' if one follows the first byte, or else cut back to a UTF-8
// character boundary. The result is at most MaxLen bytes, and two long
// values share it only if they share the prefix and the checksum, which
// suits aggregation keys: long paths are counted apart but cost bounded
// memory. Each such call counts in TooLong. Shortening allocates nothing
// when MaxLen is at most 1024; above that, it allocates the shortened
// form's buffer.
func (in *Interner) Intern(b []byte) string {
	s, _ := in.InternStored(b)
	return s
}

// InternStored is Intern, and also reports whether the returned string is
// the one the Interner stores: true for a hit, for a miss whose copy it
// stored, and for the empty value (which needs no storing); false for a
// copy it did not store (a first sighting, a candidate that lost, a value
// that did not fit). A caller that keeps a string only when it is stored
// (a map of at most as many keys as the Interner) asks this, and never a
// second call.
func (in *Interner) InternStored(b []byte) (s string, stored bool) {
	t := in.table()
	if len(b) == 0 || len(b) > t.maxLen {
		return t.internOdd(b)
	}
	return t.intern(b)
}

// Lookup returns the stored canonical string for b and true, or "" and
// false when none is stored. It never stores or locks, and changes no
// counter. A b longer than MaxLen is looked up by its shortened form (see
// Intern). Lookup allocates nothing, except the shortened form of a long b
// when MaxLen is above 1024. The returned string never aliases b.
func (in *Interner) Lookup(b []byte) (string, bool) {
	t := in.table()
	if len(b) == 0 {
		return "", true
	}
	if len(b) > t.maxLen {
		var stack [shortKeyStack]byte
		b = appendShortKey(stack[:0], b, t.maxLen)
	}
	h := t.hash(b)
	_, set, _ := t.locate(h)
	s, _, ok := set.find(metaKey(h, len(b)), b)
	return s, ok
}

// Stats returns the Interner's counters and sizes. It locks each shard in
// turn, so its sums are not one atomic snapshot.
func (in *Interner) Stats() InternerStats {
	t := in.table()
	st := InternerStats{MaxEntries: t.maxEntries, MaxBytes: t.maxBytes, FixedBytes: t.fixedBytes}
	for i := range t.stripes {
		st.Hits += t.stripes[i].hits.Load()
		st.TooLong += t.stripes[i].tooLong.Load()
	}
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		st.Hits += sh.hits
		st.Misses += sh.misses
		st.Rejected += sh.rejected
		st.Evictions += sh.evictions
		st.Entries += sh.entries
		st.Bytes += sh.bytes
		st.HeapBytes += int64(sh.heap)
		sh.mu.Unlock()
	}
	return st
}

// Usage returns the Interner's budget for heapwatch.Monitor.Track:
//
//	m.Track("interner", in.Usage)
//
// Bytes is FixedBytes plus HeapBytes. LimitBytes is FixedBytes plus the
// most its values can take: MaxEntries values of MaxLen, or MaxBytes in
// values of the worst lengths for the allocator's rounding (at most a
// quarter more, and 16 bytes a value), whichever is less. Refused counts
// the evictions and the copies not stored. A string returned by Intern
// and kept after its value was evicted is the keeper's, not the
// Interner's: it is counted by whoever keeps it.
func (in *Interner) Usage() heapwatch.Usage {
	st := in.Stats()
	t := in.table()
	limit := min(int64(st.MaxEntries)*int64(sizeclass.Of(entryHeader+t.maxLen)),
		int64(st.MaxBytes+entryHeader*st.MaxEntries)*5/4+16*int64(st.MaxEntries))
	return heapwatch.Usage{
		Bytes:        st.FixedBytes + st.HeapBytes,
		LimitBytes:   st.FixedBytes + limit,
		Entries:      int64(st.Entries),
		LimitEntries: int64(st.MaxEntries),
		Refused:      st.Evictions + st.Rejected,
	}
}

// appendShortKey appends the shortened form of b described at Intern.
func appendShortKey(dst, b []byte, maxLen int) []byte {
	p := b[:maxLen-shortSuffixLen]
	if i := bytes.LastIndexByte(p, '/'); i > 0 {
		p = p[:i+1]
	} else {
		for len(p) > 0 && !utf8.RuneStart(b[len(p)]) {
			p = p[:len(p)-1]
		}
	}
	dst = append(dst, p...)
	dst = append(dst, '#')
	sum := crc64.Checksum(b, crcTable)
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[sum>>uint(shift)&15])
	}
	return dst
}

var crcTable = crc64.MakeTable(crc64.ECMA)
