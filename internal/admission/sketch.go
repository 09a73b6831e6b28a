package admission

import "sync/atomic"

// A sketch is a count-min sketch of 4-bit counters that a key's sightings
// raise and that aging halves.
//
// Layout: the table is split into blocks of eight 64-bit words, one 64-byte
// cache line each. A key's top bits choose its block; inside it, the key
// has one counter in each of four rows, row r being the word pair 2r,
// 2r+1. Bits 8r..8r+4 of the key choose the word of the pair and the
// nibble in it, so every row indexes with bits of its own and the four
// counters of a key are read and written in one cache line. Sixteen
// counters per word and four per key give a width of four words' worth
// of counters per key the sketch is sized for.
//
// Update is conservative: a sighting raises only the key's counters that
// hold its minimum. The minimum rises exactly as with a plain update,
// but counters shared with colder keys rise less, so those keys are
// overestimated less (TestSketchConservative measures it).
//
// Every method is safe for concurrent use: counters are read with atomic
// loads and raised with compare-and-swap on their word. Two sightings at
// once may raise a counter once; aging may miss a sighting made during
// it. Both err by one sighting, which the sketch's use tolerates.
type sketch struct {
	table []atomic.Uint64
	shift uint // 64 - log2(blocks): x>>shift is the block
}

// counterMax is the most a counter holds.
const counterMax = 15

// newSketch returns a sketch of words 64-bit words, a power of two of at
// least 8.
func newSketch(words int) sketch {
	blocks := words / 8
	bitsN := uint(0)
	for 1<<bitsN < blocks {
		bitsN++
	}
	return sketch{table: make([]atomic.Uint64, words), shift: 64 - bitsN}
}

// slot returns the index of the word of row r of the key x and the shift
// of its nibble in it.
func (s *sketch) slot(x uint64, r uint) (int, uint) {
	base := int(x>>s.shift) << 3 // 0 for one block: Go shifts by 64 to 0
	b := x >> (8 * r)
	return base + int(2*r) + int(b&1), uint(b>>1&15) << 2
}

// estimate returns the key's least counter.
func (s *sketch) estimate(x uint64) int {
	m := uint64(counterMax)
	for r := range uint(4) {
		i, sh := s.slot(x, r)
		m = min(m, s.table[i].Load()>>sh&15)
	}
	return int(m)
}

// increment counts a sighting of x and returns its estimate after it.
func (s *sketch) increment(x uint64) int {
	var idx [4]int
	var shs [4]uint
	m := uint64(counterMax)
	for r := range uint(4) {
		i, sh := s.slot(x, r)
		idx[r], shs[r] = i, sh
		m = min(m, s.table[i].Load()>>sh&15)
	}
	if m == counterMax {
		return counterMax
	}
	for r := range 4 {
		w := &s.table[idx[r]]
		sh := shs[r]
		for {
			old := w.Load()
			// Raise only the counters at the minimum: one another
			// sighting raised meanwhile is left as it is.
			if old>>sh&15 != m || w.CompareAndSwap(old, old+1<<sh) {
				break
			}
		}
	}
	return int(m + 1)
}

// halve halves every counter, rounding down.
func (s *sketch) halve() {
	const keep = 0x7777777777777777 // each nibble's low three bits after the shift
	for i := range s.table {
		w := &s.table[i]
		for {
			old := w.Load()
			if old == 0 || w.CompareAndSwap(old, old>>1&keep) {
				break
			}
		}
	}
}

// bytes returns the size of the table.
func (s *sketch) bytes() int64 { return int64(len(s.table)) * 8 }
