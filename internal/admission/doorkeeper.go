package admission

import (
	"math/bits"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// A doorkeeper remembers which keys were seen lately, so that a first
// sighting costs the sketch nothing and a key seen once is told from a key
// seen twice.
//
// It is a table of fingerprints, each tagged with the generation that
// wrote it. The table is an array of buckets of eight 64-bit slots, one
// cache line each; a key's top bits choose its bucket. A slot holds the
// key's bits above the ninth, a bit that marks it used, and the low eight
// bits of its generation. A slot is live while its generation is the
// current one or the one before: a rotation, which starts a new
// generation, costs one atomic add, and the keys of the generation before
// the previous one are dead at once, their slots free for reuse. A lookup
// reads one cache line; an insertion takes an empty or dead slot, else
// the slot of a key of the previous generation, else any slot (the key
// there is forgotten). A key found in the previous generation is moved to
// the current one, so that a key seen again and again is not forgotten.
// The current generation rotates when it has taken its design load of
// insertions, or on the owner's timer: a key is remembered for one to two
// generations. (A slot untouched for 256 rotations would come back to
// life; it holds a key that was seen, long ago, and nothing else.)
//
// False positives: a key not inserted matches a slot only if all its bits
// above the ninth and below the bucket's agree, 55 - log2(buckets) of
// them. The table has four slots per key of design load, so with both
// generations full a bucket holds four live keys on average, and a lookup
// compares with them: at the default of 2^16 keys per generation (2^15
// buckets, 40 bits) that is 4 x 2^-40, about 4e-12. It costs 256 bits per
// key of design load and one cache line per lookup. A Bloom filter needs
// about 1.44 log2(1/p) bits and log2(1/p) scattered probes per key for a
// rate p: 55 bits and 38 probes for 4e-12; as usually sized, 1 Mbit with
// k = 7, its rate (1-e^(-kn/m))^k is 4e-5 at n = 40,000 and 6.5e-3 at
// n = 100,000, which lets dozens of one-off paths in a million through.
//
// False negatives: a bucket holds eight keys; with both generations at
// their design load, 2.1% of buckets would hold more (Poisson(4) > 8), and
// an insertion into a full bucket pushes out a key: then 0.9% of the keys
// are gone (TestDoorkeeperMemory), fewer while the generations fill. A
// route whose first sighting was pushed out needs one more line.
type doorkeeper struct {
	slots []atomic.Uint64
	cur   atomic.Uint32 // the current generation
	shift uint          // 64 - log2(buckets)
	// limit is the design load, counted in sampled insertions: only
	// insertions of keys whose sample bits are zero are counted, so that
	// lines on different cores rarely write the same counter.
	limit      int64
	sampleMask uint64
	// fpMask keeps the bits of a key its fingerprint holds: all of them
	// above the ninth, but tests keep fewer to measure the false-positive
	// rate the arithmetic above predicts.
	fpMask uint64
	_      cpu.CacheLinePad
	count  atomic.Int64 // sampled insertions into the current generation
	_      cpu.CacheLinePad
	// rotations counts the generations started.
	rotations atomic.Uint64
}

// Slot layout.
const (
	bucketSlots = 8     // one cache line
	tagMask     = 0xff  // the generation, mod 256
	usedBit     = 0x100 // a slot in use
	fpBits      = ^uint64(0x1ff)
)

// newDoorkeeper returns a doorkeeper for load keys per generation, a power
// of two of at least 256: 4 x load slots, both generations.
func newDoorkeeper(load int) *doorkeeper {
	buckets := 4 * load / bucketSlots
	bitsN := uint(0)
	for 1<<bitsN < buckets {
		bitsN++
	}
	d := &doorkeeper{shift: 64 - bitsN, fpMask: fpBits, slots: make([]atomic.Uint64, buckets*bucketSlots)}
	// Count one insertion in 16 when that still leaves 256 counts per
	// generation: the spread of the count is then a few percent.
	d.sampleMask, d.limit = 0, int64(load)
	if load >= 4096 {
		d.sampleMask, d.limit = 15<<4, int64(load/16)
	}
	return d
}

// bucket returns x's bucket.
func (d *doorkeeper) bucket(x uint64) []atomic.Uint64 {
	i := int(x>>d.shift) * bucketSlots
	return d.slots[i : i+bucketSlots : i+bucketSlots]
}

// touch asks for x's bucket's cache line (see prefetch).
func (d *doorkeeper) touch(x uint64) {
	prefetch(uintptr(unsafe.Pointer(&d.slots[int(x>>d.shift)*bucketSlots])))
}

// contains reports whether x is live in its bucket.
func (d *doorkeeper) contains(x uint64) bool {
	fp, b := x&d.fpMask|usedBit, d.bucket(x)
	cur := uint64(d.cur.Load())
	for i := range b {
		v := b[i].Load()
		if v&^tagMask == fp && (cur-v)&tagMask <= 1 {
			return true
		}
	}
	return false
}

// visit reports whether x was live in its bucket, and makes it a key of
// the current generation: inserted if it was not there, its tag moved on
// if it was in the previous generation. full reports that the current
// generation has just reached its design load: the caller rotates (with
// the generation full returns, gen).
func (d *doorkeeper) visit(x uint64) (seen, full bool, gen uint32) {
	fp, b := x&d.fpMask|usedBit, d.bucket(x)
	gen = d.cur.Load()
	cur := uint64(gen)
	mine := fp | cur&tagMask
	// The slot to write: the first empty or dead one, else the first of
	// the previous generation, else one chosen by x's bits. The scan
	// keeps masks rather than branching on each slot, whose state is
	// random.
	var free, prev uint
	for i := range b {
		v := b[i].Load()
		age := (cur - v) & tagMask
		if v&^tagMask == fp && age <= 1 {
			if age == 0 {
				return true, false, gen
			}
			// Seen in the previous generation: move it to this one.
			b[i].CompareAndSwap(v, mine)
			return true, d.counted(x), gen
		}
		free |= uint(b2u(v == 0 || age > 1)) << i
		prev |= uint(b2u(age == 1)) << i
	}
	i := int(x >> 9 & (bucketSlots - 1))
	if free != 0 {
		i = bits.TrailingZeros(free)
	} else if prev != 0 {
		i = bits.TrailingZeros(prev)
	}
	// Another insertion may take the slot meanwhile: then this key is
	// forgotten, as if it had overflowed.
	v := b[i].Load()
	b[i].CompareAndSwap(v, mine)
	return false, d.counted(x), gen
}

// b2u returns 1 for true and 0 for false, without a branch.
func b2u(b bool) uint8 {
	var u uint8
	if b {
		u = 1
	}
	return u
}

// counted counts an insertion into the current generation, sampled, and
// reports whether it reached the design load.
func (d *doorkeeper) counted(x uint64) bool {
	return x&d.sampleMask == 0 && d.count.Add(1) == d.limit
}

// rotate starts a new generation, if the current one is still gen: two
// rotations asked for at once (by load and by time) make one.
func (d *doorkeeper) rotate(gen uint32) {
	if d.cur.CompareAndSwap(gen, gen+1) {
		d.count.Store(0)
		d.rotations.Add(1)
	}
}

// bytes returns the size of the table.
func (d *doorkeeper) bytes() int64 { return int64(len(d.slots)) * 8 }
