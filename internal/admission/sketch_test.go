package admission

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// plainIncrement raises all four counters of x, as a count-min sketch
// without conservative update does: the baseline the sketch's update is
// measured against.
func plainIncrement(s *sketch, x uint64) {
	for r := range uint(4) {
		i, sh := s.slot(x, r)
		if s.table[i].Load()>>sh&15 < counterMax {
			s.table[i].Add(1 << sh)
		}
	}
}

// sketchError feeds a sketch of words words with keys keys of Zipf-like
// frequencies from 1 to 15, with update inc, and returns the mean
// overestimate, the share of keys overestimated, and whether any key was
// underestimated.
func sketchError(words, keys int, inc func(*sketch, uint64)) (mean, share float64, under bool) {
	s := newSketch(words)
	rng := rand.New(rand.NewPCG(7, 8))
	xs := make([]uint64, keys)
	want := make([]int, keys)
	for i := range xs {
		xs[i] = rng.Uint64()
		want[i] = min(counterMax, 1+15/(1+i%16))
	}
	// Interleave the sightings, as a stream would.
	for round := range counterMax {
		for i, x := range xs {
			if round < want[i] {
				inc(&s, x)
			}
		}
	}
	var sum, over int
	for i, x := range xs {
		got := s.estimate(x)
		if got < want[i] {
			under = true
		}
		if got > want[i] {
			over++
			sum += got - want[i]
		}
	}
	return float64(sum) / float64(keys), float64(over) / float64(keys), under
}

// TestSketchConservative measures the sketch's overestimates with the
// conservative update it uses and with a plain one, at its design load
// (one key per word) and at four times it. Neither ever underestimates
// without aging; the conservative update overestimates less.
func TestSketchConservative(t *testing.T) {
	const words = 4096
	for _, load := range []int{1, 4} {
		keys := words * load
		cMean, cShare, cUnder := sketchError(words, keys, func(s *sketch, x uint64) { s.increment(x) })
		pMean, pShare, pUnder := sketchError(words, keys, plainIncrement)
		t.Logf("%d keys in %d words: conservative: mean overestimate %.4f, %.2f%% of keys over; plain: %.4f, %.2f%%",
			keys, words, cMean, 100*cShare, pMean, 100*pShare)
		if cUnder || pUnder {
			t.Errorf("load %d: a key was underestimated", load)
		}
		if cMean > pMean || cShare > pShare {
			t.Errorf("load %d: the conservative update overestimates more than the plain one", load)
		}
		// At the design load, a key is overestimated only when all four of
		// its counters are shared: rare.
		if load == 1 && cShare > 0.01 {
			t.Errorf("%.2f%% of keys overestimated at the design load", 100*cShare)
		}
	}
}

func TestSketchSaturatesAndHalves(t *testing.T) {
	s := newSketch(64)
	rng := rand.New(rand.NewPCG(1, 1))
	a, b := rng.Uint64(), rng.Uint64()
	for i := range 20 {
		if got, want := s.increment(a), min(i+1, counterMax); got != want {
			t.Fatalf("increment %d returned %d, want %d", i, got, want)
		}
	}
	for range 5 {
		s.increment(b)
	}
	if s.estimate(a) != 15 || s.estimate(b) < 5 {
		t.Fatalf("estimates %d %d", s.estimate(a), s.estimate(b))
	}
	eb := s.estimate(b)
	s.halve()
	if s.estimate(a) != 7 || s.estimate(b) != eb/2 {
		t.Errorf("after halving: %d %d, want 7 %d", s.estimate(a), s.estimate(b), eb/2)
	}
	// Every nibble of every word is halved on its own.
	for i := range s.table {
		s.table[i].Store(0xffffffffffffffff)
	}
	s.halve()
	for i := range s.table {
		if w := s.table[i].Load(); w != 0x7777777777777777 {
			t.Fatalf("word %d = %#x after halving all 15s", i, w)
		}
	}
	s.halve()
	s.halve()
	s.halve()
	for i := range s.table {
		if w := s.table[i].Load(); w != 0 {
			t.Fatalf("word %d = %#x after four halvings", i, w)
		}
	}
}

// TestSketchRowsIndependent checks that the four counters of a key are in
// one 64-byte block and in four different words, and that keys agreeing
// in a row's bits still differ in the other rows.
func TestSketchRowsIndependent(t *testing.T) {
	s := newSketch(1 << 10)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		x := rng.Uint64()
		var words [4]int
		for r := range uint(4) {
			i, _ := s.slot(x, r)
			words[r] = i
			if i/8 != words[0]/8 {
				t.Fatalf("key %#x: row %d in block %d, row 0 in block %d", x, r, i/8, words[0]/8)
			}
			if i%8/2 != int(r) {
				t.Fatalf("key %#x: row %d in word %d of its block", x, r, i%8)
			}
		}
		// The same row-0 bits, other bits elsewhere: only row 0 agrees.
		y := x&^0xffffffff | x&0xff | (^x)&0xffffff00
		for r := range uint(4) {
			i, sx := s.slot(x, r)
			j, sy := s.slot(y, r)
			if (r == 0) != (i == j && sx == sy) {
				t.Fatalf("row %d: %#x and %#x share=%v", r, x, y, i == j && sx == sy)
			}
		}
	}
}

func TestSketchConcurrent(t *testing.T) {
	s := newSketch(64)
	keys := []uint64{1 << 60, 2 << 60, 3 << 60}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				s.increment(keys[(i+w)%len(keys)])
				if i%500 == 0 && w == 0 {
					s.halve()
				}
				if e := s.estimate(keys[i%len(keys)]); e < 0 || e > counterMax {
					t.Errorf("estimate %d", e)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, k := range keys {
		if s.estimate(k) != counterMax {
			t.Errorf("estimate %d after 2,000 sightings since the last halving", s.estimate(k))
		}
	}
}
