package admission

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// A doorkeeper remembers which keys were seen lately, so that a first
// sighting costs the sketch nothing and a key seen once is told from a key
// seen twice.
//
// It is a table of fingerprints in two generations. Each generation is an
// array of buckets of eight 64-bit slots (one cache line); a key's top bits
// choose its bucket, and the slot holds the key's 64 bits with the lowest
// set (0 is an empty slot). A lookup compares the key with the slots of its
// bucket in both generations; an insertion writes the current one. When
// the current generation has taken its design load of insertions (or on
// the owner's timer), the older generation is cleared and becomes the
// current one: a key is remembered for one to two generations.
//
// False positives: a key not inserted matches a slot only if all the bits
// below the bucket's agree, 63 - log2(buckets) of them. At the design load
// a generation is half full (four keys per bucket on average), so a lookup
// compares with about 12 keys (eight in the full older generation, four on
// average in the filling current one): at the default of 2^16 keys per
// generation (2^14 buckets, 49 bits) that is 12 x 2^-49, about 2e-14. It
// costs 128 bits per key of design load and one cache line per generation
// per lookup. A Bloom filter needs about 1.44 log2(1/p) bits and log2(1/p)
// probes per key for a rate p: 65 bits and 45 scattered probes for 2e-14,
// or, as usually sized, 1 Mbit with k = 7 for a rate of
// (1-e^(-kn/m))^k = 4e-5 at n = 40,000 and 6.5e-3 at n = 100,000, which
// lets dozens of one-off paths in a million through.
//
// False negatives: a bucket holds eight keys; at half load, fewer than 2.2%
// of buckets overflow (Poisson(4) > 8), and an overflowing insertion
// replaces a slot, so under 1% of first sightings are forgotten early
// (TestDoorkeeperMemory measures 0.7%).
type doorkeeper struct {
	gens  [2][]atomic.Uint64
	cur   atomic.Uint32 // gens[cur&1] takes insertions
	shift uint          // 64 - log2(buckets)
	// limit is the design load, counted in sampled insertions: only
	// insertions of keys whose sample bits are zero are counted, so that
	// lines on different cores rarely write the same counter.
	limit      int64
	sampleMask uint64
	// fpMask keeps the bits of a key its fingerprint holds: all of them,
	// but tests keep fewer to measure the false-positive rate the
	// arithmetic above predicts.
	fpMask uint64
	rotMu  sync.Mutex // held while rotating
	_      cpu.CacheLinePad
	count  atomic.Int64 // sampled insertions into the current generation
	_      cpu.CacheLinePad
}

// bucketSlots is the number of slots in a bucket: one cache line.
const bucketSlots = 8

// newDoorkeeper returns a doorkeeper for load keys per generation, a power
// of two of at least 256: 2 x load slots per generation.
func newDoorkeeper(load int) *doorkeeper {
	buckets := 2 * load / bucketSlots
	bitsN := uint(0)
	for 1<<bitsN < buckets {
		bitsN++
	}
	d := &doorkeeper{shift: 64 - bitsN, fpMask: ^uint64(0)}
	for i := range d.gens {
		d.gens[i] = make([]atomic.Uint64, buckets*bucketSlots)
	}
	// Count one insertion in 16 when that still leaves 256 counts per
	// generation: the spread of the count is then a few percent.
	d.sampleMask, d.limit = 0, int64(load)
	if load >= 4096 {
		d.sampleMask, d.limit = 15<<4, int64(load/16)
	}
	return d
}

// bucket returns the index of x's first slot.
func (d *doorkeeper) bucket(x uint64) int { return int(x>>d.shift) * bucketSlots }

// contains reports whether x is in either generation.
func (d *doorkeeper) contains(x uint64) bool {
	fp, b := x&d.fpMask|1, d.bucket(x)
	for _, g := range &d.gens {
		g := g[b : b+bucketSlots]
		for i := range g {
			if g[i].Load() == fp {
				return true
			}
		}
	}
	return false
}

// visit reports whether x was in either generation, and inserts it into
// the current one if it was not there. A key found only in the older
// generation is copied to the current one, so that a key seen again and
// again is not forgotten. full reports that the current generation has
// just reached its design load: the caller rotates.
func (d *doorkeeper) visit(x uint64) (seen, full bool) {
	fp, b := x&d.fpMask|1, d.bucket(x)
	cur := d.cur.Load()
	g := d.gens[cur&1][b : b+bucketSlots]
	free := -1
	for i := range g {
		switch g[i].Load() {
		case fp:
			return true, false
		case 0:
			if free < 0 {
				free = i
			}
		}
	}
	old := d.gens[(cur+1)&1][b : b+bucketSlots]
	for i := range old {
		if old[i].Load() == fp {
			seen = true
			break
		}
	}
	return seen, d.insert(g, free, fp, x)
}

// insert writes fp into bucket g: into its free slot if it has one (and no
// other insertion took it meanwhile), else over a slot chosen by x's bits.
// It reports whether the generation has just reached its design load.
func (d *doorkeeper) insert(g []atomic.Uint64, free int, fp, x uint64) bool {
	stored := false
	for ; free >= 0 && free < len(g) && !stored; free++ {
		if g[free].CompareAndSwap(0, fp) {
			stored = true
		} else if g[free].Load() == fp {
			return false // inserted meanwhile
		}
	}
	if !stored {
		g[x>>8&(bucketSlots-1)].Store(fp)
	}
	return x&d.sampleMask == 0 && d.count.Add(1) == d.limit
}

// rotate clears the older generation and makes it the current one. A
// rotation already under way makes this one a no-op.
func (d *doorkeeper) rotate() {
	if !d.rotMu.TryLock() {
		return
	}
	defer d.rotMu.Unlock()
	cur := d.cur.Load()
	old := d.gens[(cur+1)&1]
	for i := range old {
		// Atomic stores: lookups read the older generation meanwhile;
		// they forget its keys a little sooner, which is its purpose.
		if old[i].Load() != 0 {
			old[i].Store(0)
		}
	}
	d.cur.Store(cur + 1)
	d.count.Store(0)
}

// bytes returns the size of both generations.
func (d *doorkeeper) bytes() int64 { return int64(len(d.gens[0])+len(d.gens[1])) * 8 }
