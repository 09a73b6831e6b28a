package admission

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func mustNew(t testing.TB, cfg Config) *Filter {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRecordCounts(t *testing.T) {
	f := mustNew(t, Config{})
	h := f.Hash([]byte("/api/v2/checkout/{id}"))
	if f.Estimate(h) != 0 {
		t.Fatal("a key never seen has an estimate")
	}
	for i := range 20 {
		if got, want := f.Record(h), min(i+1, MaxEstimate); got != want {
			t.Fatalf("sighting %d: estimate %d, want %d", i+1, got, want)
		}
		if got, want := f.Estimate(h), min(i+1, MaxEstimate); got != want {
			t.Fatalf("after sighting %d: Estimate %d, want %d", i+1, got, want)
		}
	}
}

// TestTouch checks that Touch counts no sighting and that RecordMixed of
// what it returns is Record.
func TestTouch(t *testing.T) {
	f := mustNew(t, Config{})
	h := f.Hash([]byte("/api/v2/cart/{id}"))
	x := f.Touch(h)
	if f.Estimate(h) != 0 {
		t.Fatal("Touch counted a sighting")
	}
	if f.RecordMixed(x) != 1 || f.Record(h) != 2 || f.RecordMixed(f.Touch(h)) != 3 || f.Estimate(h) != 3 {
		t.Fatalf("RecordMixed and Record disagree: estimate %d", f.Estimate(h))
	}
}

// TestOneOffsNeverPass feeds the flood the filter exists for: 2 million
// distinct keys, one in ten of them seen a second time a little later.
// No key seen once may ever get an estimate above 1; a key seen twice
// within the doorkeeper's memory gets 2.
func TestOneOffsNeverPass(t *testing.T) {
	f := mustNew(t, Config{})
	n := 2_000_000
	if testing.Short() || raceEnabled {
		n = 150_000
	}
	rng := rand.New(rand.NewPCG(21, 22))
	const delay = 20_000 // sightings between a key's two: 1 s of a 20,000 lines/s flood
	repeats := make([]uint64, 0, n/10)
	twice, seconds := 0, 0
	for i := range n {
		h := rng.Uint64()
		if got := f.Record(h); got != 1 {
			t.Fatalf("key %d, seen once, has estimate %d", i, got)
		}
		if i%10 == 0 {
			repeats = append(repeats, h)
		}
		if i >= delay && i%10 == 0 {
			twice++
			if f.Record(repeats[(i-delay)/10]) >= 2 {
				seconds++
			}
		}
	}
	t.Logf("%d keys seen once, %d seen twice (%d passed), %d halvings", n, twice, seconds, f.Stats().Halvings)
	if seconds < twice*99/100 {
		t.Errorf("%d of %d second sightings 20,000 keys apart passed", seconds, twice)
	}
}

func TestTick(t *testing.T) {
	f := mustNew(t, Config{Period: time.Minute})
	t0 := time.Unix(1_000_000, 0)
	f.Tick(t0)
	h := f.Hash([]byte("k"))
	for range 5 {
		f.Record(h)
	}
	f.Tick(t0.Add(59 * time.Second))
	f.Tick(t0.Add(30 * time.Second)) // backwards: nothing
	if f.Estimate(h) != 5 || f.Epoch() != 0 {
		t.Fatalf("before a period: estimate %d, epoch %d", f.Estimate(h), f.Epoch())
	}
	f.Tick(t0.Add(60 * time.Second))
	// The sketch's 4 halved to 2; the doorkeeper rotated once and still
	// holds the key.
	if f.Estimate(h) != 3 || f.Epoch() != 1 || f.Stats().TimedHalvings != 1 {
		t.Fatalf("after a period: estimate %d, epoch %d, %+v", f.Estimate(h), f.Epoch(), f.Stats())
	}
	f.Tick(t0.Add(120 * time.Second))
	if f.Estimate(h) != 0 {
		t.Fatalf("after two periods: estimate %d, want 0 (the doorkeeper forgot)", f.Estimate(h))
	}
	if st := f.Stats(); st.Rotations != 2 || st.Halvings != 2 {
		t.Fatalf("after two periods: %+v, want 2 rotations and 2 halvings", st)
	}
	if f.Record(h) != 1 {
		t.Fatal("a forgotten key is not a first sighting")
	}
}

// TestHalveByCount checks that 10 x Keys sightings halve the sketch.
func TestHalveByCount(t *testing.T) {
	for _, keys := range []int{64, 1 << 12} {
		f := mustNew(t, Config{Keys: keys})
		rng := rand.New(rand.NewPCG(uint64(keys), 23))
		hs := make([]uint64, 512)
		for i := range hs {
			hs[i] = rng.Uint64()
			f.Record(hs[i])
		}
		n := 0
		for f.Stats().Halvings == 0 {
			f.Record(hs[n%len(hs)])
			n++
			if n > 20*keys {
				t.Fatalf("keys %d: no halving after %d sightings", keys, n)
			}
		}
		if w := 10 * keys; n < w*8/10 || n > w*12/10 {
			t.Errorf("keys %d: halved after %d sightings, want about %d", keys, n, w)
		}
	}
}

func TestAdmit(t *testing.T) {
	f := mustNew(t, Config{})
	f2 := func(c, v int, want bool) {
		t.Helper()
		if got := f.Admit(c, v); got != want {
			t.Errorf("Admit(%d, %d) = %v", c, v, got)
		}
	}
	f2(2, 1, true)
	f2(3, 2, true)
	f2(15, 14, true)
	f2(2, 2, false)
	for range 10_000 {
		if f.Admit(HotEstimate-1, HotEstimate) {
			t.Fatal("a warm candidate admitted at random")
		}
	}
	// A hot candidate that loses is admitted about one time in 128.
	const trials = 128_000
	n := 0
	for range trials {
		if f.Admit(HotEstimate, MaxEstimate) {
			n++
		}
	}
	if n < 800 || n > 1200 {
		t.Errorf("a hot candidate admitted %d times in %d, want about 1,000", n, trials)
	}
}

func TestCount(t *testing.T) {
	f := mustNew(t, Config{})
	var c Count
	c.Start(f, 2, 1) // admitted on its second sighting, the first counted elsewhere
	if c.Value(f, 1) != 2 {
		t.Fatalf("Value = %d, want 2", c.Value(f, 1))
	}
	if c.Value(f, 5) != 6 {
		t.Fatalf("Value = %d, want 6", c.Value(f, 5))
	}
	// Read before the halving: exact.
	f.Halve()
	if c.Value(f, 5) != 3 {
		t.Fatalf("after a halving: %d, want 3", c.Value(f, 5))
	}
	if c.Value(f, 7) != 5 {
		t.Fatalf("two more: %d, want 5", c.Value(f, 7))
	}
	if c.Value(f, 100) != MaxEstimate {
		t.Fatalf("capped: %d", c.Value(f, 100))
	}
	// The owner drops 60 of the key's 100: the count stays.
	c.Rebase(f, 100, 40)
	if c.Value(f, 40) != MaxEstimate || c.Value(f, 41) != MaxEstimate {
		t.Fatalf("after Rebase: %d", c.Value(f, 40))
	}
	// Three halvings unread, with 8 sightings meanwhile: the 15 halved
	// three times, the 8 taken to be after the first two halvings.
	for range 3 {
		f.Halve()
	}
	if got, want := c.Value(f, 49), 15>>3+8>>2; got != want {
		t.Fatalf("after three halvings: %d, want %d", got, want)
	}
	// A total that went down counts as no sighting.
	if c.Value(f, 10) != 3 || c.Value(f, 11) != 4 {
		t.Fatalf("after a lower total: %d", c.Value(f, 11))
	}
	for range 9 {
		f.Halve()
	}
	if c.Value(f, 11) != 0 {
		t.Fatalf("after nine halvings: %d", c.Value(f, 11))
	}
	// A key read between halvings ages exactly.
	var d Count
	d.Start(f, 2, 1)
	total := uint64(1)
	for range 4 {
		total += 6
		d.Value(f, total)
		f.Halve()
	}
	// 2+6 = 8 -> 4; +6 = 10 -> 5; +6 = 11 -> 5; +6 = 11 -> 5.
	if got := d.Value(f, total); got != 5 {
		t.Fatalf("read between halvings: %d, want 5", got)
	}
}

func TestConfig(t *testing.T) {
	bad := []Config{{Keys: -1}, {Keys: MaxSize + 1}, {Doorkeeper: -1}, {Doorkeeper: MaxSize + 1}, {Period: -time.Second}}
	for _, cfg := range bad {
		_, err := New(cfg)
		var ce *ConfigError
		if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) || ce.Field == "" {
			t.Errorf("New(%+v) = %v", cfg, err)
		}
	}
	f := mustNew(t, Config{Keys: 100, Doorkeeper: 1000})
	// 128 words of sketch; 1024 keys a generation in 2048 slots each.
	if got, want := f.Bytes(), int64(128*8+2*2048*8); got != want {
		t.Errorf("Bytes = %d, want %d", got, want)
	}
	d := mustNew(t, Config{})
	if got, want := d.Bytes(), int64(DefaultKeys*8+4*DefaultDoorkeeper*8); got != want {
		t.Errorf("default Bytes = %d, want %d", got, want)
	}
}

// TestConcurrent records, estimates, ticks and halves from several
// goroutines; run with -race.
func TestConcurrent(t *testing.T) {
	f := mustNew(t, Config{Keys: 64, Doorkeeper: 256, Period: time.Millisecond})
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 24))
			for i := range 20_000 {
				h := rng.Uint64() % 2000
				if e := f.Record(h); e < 1 || e > MaxEstimate {
					t.Errorf("estimate %d", e)
					return
				}
				if e := f.Estimate(h); e < 0 || e > MaxEstimate {
					t.Errorf("estimate %d", e)
					return
				}
				if i%1000 == 0 {
					f.Tick(t0.Add(time.Duration(i) * time.Millisecond))
				}
			}
		}()
	}
	wg.Wait()
	if st := f.Stats(); st.Halvings == 0 {
		t.Errorf("no halving: %+v", st)
	}
}
