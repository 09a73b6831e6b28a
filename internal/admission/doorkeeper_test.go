package admission

import (
	"math/rand/v2"
	"testing"
)

// fillBoth fills both generations of d to n keys each, without the
// rotation by count, and returns the keys: the most a doorkeeper holds,
// just before it rotates.
func fillBoth(d *doorkeeper, n int, rng *rand.Rand) []uint64 {
	d.limit = 1 << 62
	keys := make([]uint64, 0, 2*n)
	for gen := range 2 {
		if gen == 1 {
			d.rotate(d.cur.Load())
		}
		for range n {
			x := rng.Uint64()
			d.visit(x)
			keys = append(keys, x)
		}
	}
	return keys
}

// TestDoorkeeperFalsePositives looks up keys never inserted in a doorkeeper
// of the default size whose two generations both hold their design load.
// The arithmetic gives 4 x 2^-40 per lookup (4e-12): none of 4 million
// should pass. A Bloom filter of 1 Mbit and k = 7 would let about
// 26,000 of them through at this load (6.5e-3).
func TestDoorkeeperFalsePositives(t *testing.T) {
	d := newDoorkeeper(DefaultDoorkeeper)
	rng := rand.New(rand.NewPCG(11, 12))
	fillBoth(d, DefaultDoorkeeper, rng)
	lookups := 4_000_000
	if testing.Short() || raceEnabled {
		lookups = 200_000
	}
	fp := 0
	for range lookups {
		if d.contains(rng.Uint64()) {
			fp++
		}
	}
	t.Logf("%d false positives in %d lookups", fp, lookups)
	if fp > 0 {
		t.Errorf("%d false positives in %d lookups, want none", fp, lookups)
	}
}

// TestDoorkeeperFalsePositiveModel checks the arithmetic behind the rate
// above where it can be measured: with fingerprints cut to 12 bits, the
// rate is the live slots a lookup compares with times 2^-12.
func TestDoorkeeperFalsePositiveModel(t *testing.T) {
	const load = 1 << 14
	d := newDoorkeeper(load)
	d.fpMask = 0xfff<<9 | ^uint64(0)<<d.shift
	rng := rand.New(rand.NewPCG(13, 14))
	fillBoth(d, load, rng)
	used := 0
	for i := range d.slots {
		if d.slots[i].Load() != 0 {
			used++
		}
	}
	perBucket := float64(used) / float64(len(d.slots)/bucketSlots)
	want := perBucket / (1 << 12)
	lookups := 2_000_000
	if testing.Short() || raceEnabled {
		lookups = 300_000
	}
	fp := 0
	for range lookups {
		if d.contains(rng.Uint64()) {
			fp++
		}
	}
	got := float64(fp) / float64(lookups)
	t.Logf("%.1f slots used per bucket: predicted rate %.5f, measured %.5f", perBucket, want, got)
	if got < 0.85*want || got > 1.15*want {
		t.Errorf("measured false-positive rate %.5f, predicted %.5f", got, want)
	}
}

// TestDoorkeeperMemory checks that a doorkeeper whose two generations hold
// their design load has forgotten few of their keys, and that a key is
// remembered for one rotation and forgotten after two, unless it is seen
// again in between.
func TestDoorkeeperMemory(t *testing.T) {
	const load = 1 << 12
	d := newDoorkeeper(load)
	rng := rand.New(rand.NewPCG(15, 16))
	keys := fillBoth(d, load, rng)
	lost := 0
	for _, x := range keys {
		if !d.contains(x) {
			lost++
		}
	}
	t.Logf("%d of %d keys forgotten with both generations at the design load (buckets that overflowed)", lost, len(keys))
	if lost > len(keys)/100 {
		t.Errorf("%d of %d keys forgotten at the design load", lost, len(keys))
	}
	kept, again := keys[len(keys)-1], keys[len(keys)-2]
	if !d.contains(kept) || !d.contains(again) {
		t.Skip("the test's keys were forgotten by overflow")
	}
	d.rotate(d.cur.Load())
	if !d.contains(kept) {
		t.Error("a key forgotten after one rotation")
	}
	if seen, _, _ := d.visit(again); !seen {
		t.Error("a key not seen after one rotation")
	}
	d.rotate(d.cur.Load())
	if d.contains(kept) {
		t.Error("a key remembered after two rotations")
	}
	if !d.contains(again) {
		t.Error("a key seen again in the older generation was not moved to the current one")
	}
	// The keys of the generation before the previous are dead: their
	// slots are taken first.
	if seen, _, _ := d.visit(kept); seen {
		t.Error("a key two rotations old seen")
	}
}

// TestDoorkeeperRotatesAtLoad checks that the sampled count rotates the
// doorkeeper after about its design load of insertions.
func TestDoorkeeperRotatesAtLoad(t *testing.T) {
	for _, load := range []int{1 << 10, 1 << 16} {
		d := newDoorkeeper(load)
		rng := rand.New(rand.NewPCG(uint64(load), 17))
		n := 0
		for {
			n++
			if _, full, _ := d.visit(rng.Uint64()); full {
				break
			}
			if n > 4*load {
				t.Fatalf("load %d: no rotation after %d insertions", load, n)
			}
		}
		if n < load*8/10 || n > load*12/10 {
			t.Errorf("load %d: full after %d insertions", load, n)
		}
	}
}
