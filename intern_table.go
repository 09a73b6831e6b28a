package ingest

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/flatheap/ingest/internal/sizeclass"
)

// This file holds the Interner's tables: shards of sets of slots, each
// slot a meta word and a pointer to a stored value, read without a lock on
// the hit path; the miss path, under a shard's lock; and the stored values
// themselves.

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

// The constants of SplitMix64 (Steele, Lea and Flood), which the sketch
// uses to derive its rows' indexes from one hash: golden64, 2^64 divided by
// the golden ratio, is its increment (and the multiplier of Fibonacci
// hashing, which stripeIndex uses); mix1 and mix2 are its finaliser's
// multipliers.
const (
	golden64 = 0x9e3779b97f4a7c15
	mix1     = 0xbf58476d1ce4e5b9
	mix2     = 0x94d049bb133111eb
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
	// fixedBytes is the heap of the tables above, allocated once.
	fixedBytes int64
}

// internStripe holds counters bumped on the lock-free path. Each goroutine
// usually bumps its own stripe, and a cache line of padding separates any
// two stripes' counters, however the table is aligned, so readers on
// several cores do not contend on one counter.
type internStripe struct {
	hits    atomic.Uint64
	tooLong atomic.Uint64
	_       cpu.CacheLinePad
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
	heap                              int // the stored values' objects, as allocated
	hits, misses, rejected, evictions uint64
	_                                 cpu.CacheLinePad // keep shards' locks on separate cache lines
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
	nshards, shardBits := 1, uint(0)
	for nshards < internMaxShards && maxEntries/(2*nshards) >= internShardMin &&
		maxBytes/(2*nshards) >= 4*maxLen {
		nshards *= 2
		shardBits++
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
		shardShift:   64 - shardBits,
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
		sh.sketchShift = uint(64 - bits.Len(uint(w-1)))
		// The sketch forgets fast: with 16 counters per entry and an aging
		// every 2 misses per entry, a flood of distinct values passes for
		// second sightings about 0.6% of the time (26% with 8 counters and
		// 8 misses: the counters filled up between agings). Stored values'
		// hit counters age 4 times slower, as fast as before, so that a
		// flood does not wear down the protection of hot values.
		sh.period = 2 * slots
		t.fixedBytes += int64(sizeclass.Of(len(sh.sketch)))
	}
	t.fixedBytes += int64(sizeclass.WithPointers(int(unsafe.Sizeof(*t))) +
		sizeclass.WithPointers(len(t.sets)*int(unsafe.Sizeof(internSet{}))) +
		sizeclass.WithPointers(len(t.shards)*int(unsafe.Sizeof(internShard{}))))
	return t
}

// hash returns the seeded hash of b. maphash.Comparable on a string runs
// the runtime's string hasher over the whole value at once; maphash.Bytes
// would feed it 128 bytes at a time, several times slower on long values.
func (t *internTable) hash(b []byte) uint64 { return maphash.Comparable(t.seed, b2s(b)) }

// metaKey returns the meta word of a value with hash h and length n, with
// a zero hit counter.
func metaKey(h uint64, n int) uint64 { return h>>32<<32 | uint64(n)<<8 }

// metaLen returns the length of the value a meta word describes.
func metaLen(m uint64) int { return int(m >> 8 & 0xffff) }

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

// intern handles 0 < len(b) <= maxLen. It reports whether the string it
// returns is the stored one.
func (t *internTable) intern(b []byte) (string, bool) {
	h := t.hash(b)
	sh, set, si := t.locate(h)
	key := metaKey(h, len(b))
	// set.find, inlined by hand on the hit path: the compiler does not
	// inline it (TestInlining checks that it still does not, or this copy
	// is no longer needed).
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
			return s, true
		}
	}
	return t.internSlow(sh, set, si, h, key, b)
}

// internSlow is the miss path, under the shard lock.
func (t *internTable) internSlow(sh *internShard, set *internSet, si int, h, key uint64, b []byte) (string, bool) {
	sh.mu.Lock()
	if s, i, ok := set.find(key, b); ok { // stored since the lock-free look
		set.hit(i)
		sh.hits++
		sh.mu.Unlock()
		return s, true
	}
	sh.misses++
	if est := sh.record(h); est >= 2 {
		if s, ok := sh.admit(set, si, key, est, b); ok {
			sh.mu.Unlock()
			return s, true
		}
	}
	sh.rejected++
	sh.mu.Unlock()
	return string(b), false
}

// internOdd handles the empty value and values longer than maxLen. It is
// not inlined, so that its 1 KiB buffer for the shortened form is not in
// the frame of every Intern call (TestInlining checks it).
//
//go:noinline
func (t *internTable) internOdd(b []byte) (string, bool) {
	st := &t.stripes[stripeIndex()]
	if len(b) == 0 {
		st.hits.Add(1)
		return "", true
	}
	st.tooLong.Add(1)
	var stack [shortKeyStack]byte
	return t.intern(appendShortKey(stack[:0], b, t.maxLen))
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
	return int((a >> 10) * golden64 >> (64 - internStripeBits))
}
