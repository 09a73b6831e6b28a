package ingest

import (
	"bytes"
	"hash/crc64"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"
)

// This file holds the one door through which values outlive a handler call:
// the bounded Interner for repeated values, and Request.Clone for owned
// copies of whole requests.

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
}

// Interner returns canonical string copies of repeated byte values (paths,
// hosts, user agents) so that a daemon can keep them, for instance as map
// keys, without pinning the buffers they came from and without a string
// allocation per line. It is bounded: it stores at most MaxEntries values
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
// the sketch, plus 2 KiB of counters. Each stored value is one heap object
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
	st := InternerStats{MaxEntries: t.maxEntries, MaxBytes: t.maxBytes}
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
		sh.mu.Unlock()
	}
	return st
}

const (
	internSlots      = 8  // slots per set
	internMaxShards  = 64 // shards never exceed this
	internShardMin   = 64 // entries per shard at least, when there are several
	internMaxFreq    = 15 // hit counters and sketch counters saturate here
	internSketchRows = 4
	entryHeader      = 2  // bytes before a stored value: its length, little endian
	shortSuffixLen   = 17 // "#" and 16 hex digits
	shortKeyStack    = 1024
	internStripeBits = 5
)

// metaFreq masks the hit counter in a slot's meta word. The word is
// tag<<32 | len<<8 | hits, and 0 for an empty slot (stored values are never
// empty, so len > 0).
const metaFreq = 0xff

// internTable is the Interner's state, built once.
type internTable struct {
	seed       maphash.Seed
	maxLen     int
	maxEntries int // the bounds, defaults applied
	maxBytes   int
	shardShift uint // h>>shardShift selects the shard
	// sets holds every shard's sets, shard by shard, setsPerShard each, so
	// that a hit finds its set without reading the shard.
	sets         []internSet
	setsPerShard uint64
	shards       []internShard
	stripes      [1 << internStripeBits]internStripe
}

// internStripe holds counters bumped on the lock-free path. Each goroutine
// usually bumps its own stripe, a cache line of its own, so readers on
// several cores do not contend on one counter.
type internStripe struct {
	hits    atomic.Uint64
	tooLong atomic.Uint64
	_       [48]byte
}

// internSet is one set of slots. Readers load meta and ptr atomically and
// without a lock; writers change them under the shard lock. ptr points to a
// stored value's header (see newEntry).
type internSet struct {
	meta [internSlots]atomic.Uint64
	ptr  [internSlots]atomic.Pointer[byte]
}

type internShard struct {
	mu sync.Mutex
	// sets is the shard's part of internTable.sets; sets[i] has width
	// slots, or width+1 for i < wide.
	sets        []internSet
	width, wide int
	sketch      []uint8
	sketchShift uint
	maxBytes    int
	period      int // misses between agings of the sketch
	events      int // misses since the last aging
	agings      int // agings of the sketch; hit counters age every hitAgingEvery
	hand        int // next slot the byte-budget sweep looks at
	scratch     []int32

	entries, bytes                    int
	hits, misses, rejected, evictions uint64
	_                                 [64]byte // keep shards' locks on separate cache lines
}

func newInternTable(cfg InternerConfig) *internTable {
	maxEntries, maxBytes, maxLen := cfg.MaxEntries, cfg.MaxBytes, cfg.MaxLen
	if maxEntries <= 0 {
		maxEntries = defaultInternMaxEntries
	}
	if maxBytes <= 0 {
		maxBytes = defaultInternMaxBytes
	}
	if maxLen <= 0 {
		maxLen = defaultInternMaxLen
	}
	maxLen = min(max(maxLen, minInternMaxLen), maxInternMaxLen)

	// Split into shards while each keeps enough entries for its sets to
	// choose victims well, and enough bytes for several of the longest
	// values.
	nshards, bits := 1, uint(0)
	for nshards < internMaxShards && maxEntries/(2*nshards) >= internShardMin &&
		maxBytes/(2*nshards) >= 4*maxLen {
		nshards *= 2
		bits++
	}
	// Every shard gets as many sets as the largest needs; a shard with one
	// slot fewer has one narrower set.
	perShard := (maxEntries + nshards - 1) / nshards
	nsets := (perShard + internSlots - 1) / internSlots
	t := &internTable{
		seed:         maphash.MakeSeed(),
		maxLen:       maxLen,
		maxEntries:   maxEntries,
		maxBytes:     maxBytes,
		shardShift:   64 - bits,
		sets:         make([]internSet, nshards*nsets),
		setsPerShard: uint64(nsets),
		shards:       make([]internShard, nshards),
	}
	for i := range t.shards {
		sh := &t.shards[i]
		slots := maxEntries / nshards
		if i < maxEntries%nshards {
			slots++
		}
		sh.maxBytes = maxBytes / nshards
		if i < maxBytes%nshards {
			sh.maxBytes++
		}
		sh.sets = t.sets[i*nsets : (i+1)*nsets : (i+1)*nsets]
		sh.width, sh.wide = slots/nsets, slots%nsets
		w := 64
		for w < 16*slots {
			w *= 2
		}
		sh.sketch = make([]uint8, w)
		sh.sketchShift = uint(64 - bitsLen(w-1))
		// The sketch forgets fast: with 16 counters per entry and an aging
		// every 2 misses per entry, a flood of distinct values passes for
		// second sightings about 0.6% of the time (26% with 8 counters and
		// 8 misses: the counters filled up between agings). Stored values'
		// hit counters age 4 times slower, as fast as before, so that a
		// flood does not wear down the protection of hot values.
		sh.period = 2 * slots
	}
	return t
}

// bitsLen returns the number of bits needed to represent x > 0.
func bitsLen(x int) int {
	n := 0
	for ; x > 0; x >>= 1 {
		n++
	}
	return n
}

// hash returns the seeded hash of b. maphash.Comparable on a string runs
// the runtime's string hasher over the whole value at once; maphash.Bytes
// would feed it 128 bytes at a time, several times slower on long values.
func (t *internTable) hash(b []byte) uint64 { return maphash.Comparable(t.seed, b2s(b)) }

// metaKey returns the meta word of a value with hash h and length n, with
// a zero hit counter.
func metaKey(h uint64, n int) uint64 { return h>>32<<32 | uint64(n)<<8 }

// locate returns the shard and set for hash h, and the set's index in its
// shard.
func (t *internTable) locate(h uint64) (*internShard, *internSet, int) {
	shard := h >> t.shardShift & uint64(len(t.shards)-1)
	i := uint64(uint32(h)) * t.setsPerShard >> 32
	return &t.shards[shard], &t.sets[shard*t.setsPerShard+i], int(i)
}

// find returns the stored string equal to b and its slot, if any. key is
// metaKey of b. It reads without a lock: a slot being replaced at the same moment
// may be missed, never misread, because every stored value carries its own
// length (see entryString).
func (s *internSet) find(key uint64, b []byte) (string, int, bool) {
	for i := range s.meta {
		if s.meta[i].Load()&^metaFreq != key {
			continue
		}
		p := s.ptr[i].Load()
		if p == nil {
			continue
		}
		if v := entryString(p); v == string(b) {
			return v, i, true
		}
	}
	return "", 0, false
}

// hit bumps slot i's hit counter unless it is saturated; a saturated
// counter, the usual case for a hot value, costs no write.
func (s *internSet) hit(i int) {
	m := s.meta[i].Load()
	if m != 0 && m&metaFreq < internMaxFreq {
		s.meta[i].CompareAndSwap(m, m+1)
	}
}

// intern handles 0 < len(b) <= maxLen.
func (t *internTable) intern(b []byte) string {
	h := t.hash(b)
	sh, set, si := t.locate(h)
	key := metaKey(h, len(b))
	// set.find, inlined by hand on the hit path.
	for i := range set.meta {
		m := set.meta[i].Load()
		if m&^metaFreq != key {
			continue
		}
		p := set.ptr[i].Load()
		if p == nil {
			continue
		}
		if s := entryString(p); s == string(b) {
			if m&metaFreq < internMaxFreq {
				set.meta[i].CompareAndSwap(m, m+1)
			}
			t.stripes[stripeIndex()].hits.Add(1)
			return s
		}
	}
	return t.internSlow(sh, set, si, h, key, b)
}

// internSlow is the miss path, under the shard lock.
func (t *internTable) internSlow(sh *internShard, set *internSet, si int, h, key uint64, b []byte) string {
	sh.mu.Lock()
	if s, i, ok := set.find(key, b); ok { // stored since the lock-free look
		set.hit(i)
		sh.hits++
		sh.mu.Unlock()
		return s
	}
	sh.misses++
	if est := sh.record(h); est >= 2 {
		if s, ok := sh.admit(set, si, key, est, b); ok {
			sh.mu.Unlock()
			return s
		}
	}
	sh.rejected++
	sh.mu.Unlock()
	return string(b)
}

// internOdd handles the empty value and values longer than maxLen.
//
//go:noinline
func (t *internTable) internOdd(b []byte) string {
	st := &t.stripes[stripeIndex()]
	if len(b) == 0 {
		st.hits.Add(1)
		return ""
	}
	st.tooLong.Add(1)
	var stack [shortKeyStack]byte
	return t.intern(appendShortKey(stack[:0], b, t.maxLen))
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

// record counts a miss of the value with hash h in the sketch and returns
// the value's estimated misses, this one included. Only the smallest of the
// value's counters are raised (a conservative update), which keeps one-off
// values from inflating each other's estimates.
func (sh *internShard) record(h uint64) uint8 {
	var idx [internSketchRows]uint64
	low := uint8(internMaxFreq)
	for r := range idx {
		x := (h + uint64(r+1)*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
		x ^= x >> 29
		idx[r] = x * 0x94d049bb133111eb >> sh.sketchShift
		low = min(low, sh.sketch[idx[r]])
	}
	if low < internMaxFreq {
		for _, i := range idx {
			if sh.sketch[i] == low {
				sh.sketch[i]++
			}
		}
		low++
	}
	sh.events++
	if sh.events >= sh.period {
		sh.age()
	}
	return low
}

// hitAgingEvery is how many agings of the sketch make one of the stored
// values' hit counters.
const hitAgingEvery = 4

// age halves every sketch counter, and every hitAgingEvery times every hit
// counter, so that what was hot long ago does not outweigh what is hot now.
func (sh *internShard) age() {
	sh.events = 0
	for i := range sh.sketch {
		sh.sketch[i] >>= 1
	}
	if sh.agings++; sh.agings%hitAgingEvery != 0 {
		return
	}
	for i := range sh.sets {
		s := &sh.sets[i]
		for j := range s.meta {
			for {
				m := s.meta[j].Load()
				if m == 0 || s.meta[j].CompareAndSwap(m, m&^metaFreq|(m&metaFreq)>>1) {
					break
				}
			}
		}
	}
}

// admit stores b in set si if its estimate est beats the set's weakest
// value and room can be made in the byte budget; it returns the stored
// string.
func (sh *internShard) admit(set *internSet, si int, key uint64, est uint8, b []byte) (string, bool) {
	width := sh.width
	if si < sh.wide {
		width++
	}
	slot, victim := -1, uint64(0)
	low := uint64(internMaxFreq + 1)
	for i := 0; i < width; i++ {
		m := set.meta[i].Load()
		if m == 0 {
			slot, victim = i, 0
			break
		}
		if f := m & metaFreq; f < low {
			slot, victim, low = i, m, f
		}
	}
	if victim != 0 && uint64(est) <= low {
		return "", false
	}
	over := sh.bytes + len(b) - sh.maxBytes
	if victim != 0 {
		over -= metaLen(victim)
	}
	sh.scratch = sh.scratch[:0]
	if over > 0 && !sh.findRoom(over, est, si*internSlots+slot) {
		return "", false
	}
	for _, g := range sh.scratch {
		sh.evict(&sh.sets[g/internSlots], int(g%internSlots))
	}
	if victim != 0 {
		sh.evict(set, slot)
	}
	p := newEntry(b)
	set.ptr[slot].Store(p)
	set.meta[slot].Store(key | uint64(est))
	sh.entries++
	sh.bytes += len(b)
	return entryString(p), true
}

func metaLen(m uint64) int { return int(m >> 8 & 0xffff) }

// findRoom sweeps the shard's slots from the hand, once around at most, and
// collects in scratch values hit less often than est until they free need
// bytes; it leaves out slot keep. It reports whether enough was found.
func (sh *internShard) findRoom(need int, est uint8, keep int) bool {
	n := len(sh.sets) * internSlots
	for k := 0; k < n && need > 0; k++ {
		g := sh.hand
		sh.hand++
		if sh.hand == n {
			sh.hand = 0
		}
		if g == keep {
			continue
		}
		m := sh.sets[g/internSlots].meta[g%internSlots].Load()
		if m != 0 && m&metaFreq < uint64(est) {
			sh.scratch = append(sh.scratch, int32(g))
			need -= metaLen(m)
		}
	}
	return need <= 0
}

// evict empties slot i of set s.
func (sh *internShard) evict(s *internSet, i int) {
	m := s.meta[i].Load()
	s.meta[i].Store(0)
	s.ptr[i].Store(nil)
	sh.entries--
	sh.bytes -= metaLen(m)
	sh.evictions++
}

// newEntry copies b into a new heap object, after a 2-byte length header,
// and returns a pointer to the header. The object is never written again.
func newEntry(b []byte) *byte {
	e := make([]byte, entryHeader+len(b))
	e[0], e[1] = byte(len(b)), byte(len(b)>>8)
	copy(e[entryHeader:], b)
	return &e[0]
}

// entryString returns the value stored after the header at p. The length
// comes from the object itself, so a reader that raced with a writer gets
// some stored value, whole, never a torn one.
func entryString(p *byte) string {
	hdr := (*[entryHeader]byte)(unsafe.Pointer(p))
	n := int(hdr[0]) | int(hdr[1])<<8
	return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(p), entryHeader)), n)
}

// stripeIndex picks a counter stripe from the address of the calling
// goroutine's stack: goroutines have distinct stacks, so those running at
// once usually pick distinct stripes, and one goroutine keeps picking the
// same one. The address is hashed, never dereferenced.
func stripeIndex() int {
	var marker byte
	a := uint64(uintptr(unsafe.Pointer(&marker)))
	return int((a >> 10) * 0x9e3779b97f4a7c15 >> (64 - internStripeBits))
}
