package keyed

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// count is the value the tests keep: a number of updates.
type count struct{ n int64 }

func mergeCount(into, from *count) { into.n += from.n }

func newCounts(t testing.TB, cfg Config[count]) *Table[count] {
	t.Helper()
	cfg.Merge = mergeCount
	tab, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func inc(c *count) { c.n++ }

// total returns the sum over the entries and other, and checks every
// entry's key against Get.
func total(t *testing.T, tab *Table[count]) (held, other int64) {
	t.Helper()
	entries, o := tab.Snapshot(nil)
	for _, e := range entries {
		v, ok := tab.Get([]byte(e.Key))
		if !ok || v != e.Value {
			t.Fatalf("Get(%q) = %v, %v; Snapshot has %v", e.Key, v, ok, e.Value)
		}
		held += e.Value.n
	}
	if len(entries) != tab.Len() {
		t.Fatalf("Snapshot has %d entries, Len() = %d", len(entries), tab.Len())
	}
	return held, o.n
}

// checkBudgets checks the budgets, and that the counts of entries and
// bytes agree with the entries in the slots.
func checkBudgets(t *testing.T, tab *Table[count]) {
	t.Helper()
	st := tab.Stats()
	if st.Entries > st.MaxEntries || st.Bytes > st.MaxBytes {
		t.Fatalf("over budget: %+v", st)
	}
	n, b := 0, 0
	for i := range tab.shards {
		sh := &tab.shards[i]
		k := 0
		for _, s := range sh.slots {
			if s.e != nil {
				k++
				b += s.e.size
			}
		}
		if k != sh.entries || 2*k > len(sh.slots) {
			t.Fatalf("shard %d: %d entries, counted %d, in %d slots", i, k, sh.entries, len(sh.slots))
		}
		n += k
	}
	if n != st.Entries || int64(b) != st.Bytes {
		t.Fatalf("%d entries of %d bytes in the slots; Stats %+v", n, b, st)
	}
}

// TestOneLongKey is the count a daemon expects: 100 requests for one
// 2 KiB path count 100 under that path.
func TestOneLongKey(t *testing.T) {
	tab := newCounts(t, Config[count]{})
	path := []byte("/" + strings.Repeat("abcdefgh/", 2048/9+1))[:2048]
	for range 100 {
		buf := bytes.Clone(path) // a new buffer per line, as a receive buffer would be
		if !tab.Update(buf, inc) {
			t.Fatal("the key has no entry of its own")
		}
		clear(buf)
	}
	v, ok := tab.Get(path)
	if !ok || v.n != 100 {
		t.Fatalf("Get = %v, %v; want 100, true", v.n, ok)
	}
	if _, other := total(t, tab); other != 0 {
		t.Fatalf("other = %d, want 0", other)
	}
}

// TestTotalsExact counts a random mix of hot keys and one-off keys, with
// long keys among them, into small tables, and checks that the entries and
// other add up to what was counted, that each key held counted at most its
// updates, and that the budgets hold.
func TestTotalsExact(t *testing.T) {
	for _, cfg := range []Config[count]{
		{MaxEntries: 64, MaxBytes: 64 * 256, MaxKeyLen: 100},
		{MaxEntries: 1000, MaxBytes: 40 << 10, MaxKeyLen: 512},
		{MaxEntries: 5000},
	} {
		t.Run(fmt.Sprint(cfg.MaxEntries), func(t *testing.T) {
			tab := newCounts(t, cfg)
			rng := rand.New(rand.NewPCG(1, 2))
			sent := map[string]int64{}
			const lines = 50000
			key := make([]byte, 0, 1024)
			for i := range lines {
				key = key[:0]
				switch r := rng.IntN(10); {
				case r < 5:
					key = fmt.Appendf(key, "/hot/%d", rng.IntN(200))
				case r < 9:
					key = fmt.Appendf(key, "/once/%d", i)
				default:
					key = fmt.Appendf(key, "/long/%d/", rng.IntN(50))
					key = append(key, strings.Repeat("x", rng.IntN(600))...)
				}
				tab.Update(key, inc)
				sent[string(key)]++
			}
			held, other := total(t, tab)
			if held+other != lines {
				t.Fatalf("held %d + other %d = %d, want %d", held, other, held+other, lines)
			}
			entries, _ := tab.Snapshot(nil)
			for _, e := range entries {
				if e.Value.n > sent[e.Key] || e.Value.n <= 0 {
					t.Fatalf("%q counts %d, was sent %d times", e.Key, e.Value.n, sent[e.Key])
				}
			}
			checkBudgets(t, tab)
			st := tab.Stats()
			if st.Hits+st.Admitted+st.Others != lines {
				t.Fatalf("Stats do not add up to %d lines: %+v", lines, st)
			}
			if st.Evicted == 0 && uint64(other) != st.Others || uint64(other) < st.Others {
				t.Fatalf("other = %d, Stats %+v", other, st)
			}
			t.Logf("%+v", st)
		})
	}
}

// TestFloodKeepsHotKeys fills a table with one-off keys (while a shard has
// room, a new key gets an entry at once), then sends hot keys
// among a flood of one-off keys: the hot keys take entries from the cold
// ones, the flood takes none, and the hot keys count every line after
// their first two.
func TestFloodKeepsHotKeys(t *testing.T) {
	tab := newCounts(t, Config[count]{MaxEntries: 1000})
	// More keys than entries fill the table.
	for i := range 3000 {
		tab.Update(fmt.Appendf(nil, "/early/%d", i), inc)
	}
	if tab.Len() != 1000 {
		t.Fatalf("Len() = %d after 3000 keys in a table of 1000, want 1000", tab.Len())
	}
	const hot, rounds = 100, 30
	for r := range rounds {
		for i := range hot {
			tab.Update(fmt.Appendf(nil, "/hot/%d", i), inc)
			for k := range 3 {
				tab.Update(fmt.Appendf(nil, "/once/%d/%d/%d", r, i, k), inc)
			}
		}
	}
	missing := 0
	for i := range hot {
		v, ok := tab.Get(fmt.Appendf(nil, "/hot/%d", i))
		if !ok {
			missing++
			continue
		}
		if v.n < rounds-2 || v.n > rounds {
			t.Errorf("/hot/%d counts %d, want %d to %d", i, v.n, rounds-2, rounds)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d hot keys have no entry", missing, hot)
	}
	entries, _ := tab.Snapshot(nil)
	once := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Key, "/once/") {
			once++
		}
	}
	if once > 0 {
		t.Errorf("%d one-off keys of the flood got an entry", once)
	}
	checkBudgets(t, tab)
}

// TestTooLong counts keys longer than MaxKeyLen in other.
func TestTooLong(t *testing.T) {
	tab := newCounts(t, Config[count]{MaxKeyLen: 64})
	long := bytes.Repeat([]byte("a"), 65)
	for range 3 {
		if tab.Update(long, inc) {
			t.Fatal("a key over MaxKeyLen got an entry")
		}
	}
	if !tab.Update(long[:64], inc) {
		t.Fatal("a key of MaxKeyLen got no entry")
	}
	if _, ok := tab.Get(long); ok {
		t.Fatal("Get found a key over MaxKeyLen")
	}
	st := tab.Stats()
	if st.TooLong != 3 || st.Others != 3 || st.Entries != 1 {
		t.Fatalf("Stats = %+v, want 3 too long in other and 1 entry", st)
	}
	if held, other := total(t, tab); held != 1 || other != 3 {
		t.Fatalf("held, other = %d, %d; want 1, 3", held, other)
	}
}

// TestEmptyKey: the empty key is a key like any other.
func TestEmptyKey(t *testing.T) {
	tab := newCounts(t, Config[count]{})
	tab.Update(nil, inc)
	tab.Update([]byte{}, inc)
	if v, ok := tab.Get(nil); !ok || v.n != 2 {
		t.Fatalf("Get(nil) = %v, %v; want 2, true", v.n, ok)
	}
}

// TestRemove checks the backward shift of removal against a model on a
// one-shard table whose keys collide in few slots.
func TestRemove(t *testing.T) {
	tab := newCounts(t, Config[count]{MaxEntries: 8, MaxBytes: 1 << 20})
	sh := &tab.shards[0]
	model := map[string]uint64{}
	rng := rand.New(rand.NewPCG(3, 4))
	for step := range 20000 {
		if len(model) < 8 && rng.IntN(2) == 0 {
			k := fmt.Sprint("k", step)
			// Hashes crowded into two home slots, to make long runs.
			h := uint64(rng.IntN(2)) | uint64(step)<<32
			i, e := sh.find(h, []byte(k))
			if e != nil {
				t.Fatal("a new key found")
			}
			sh.slots[i] = slot[count]{h: h, e: &entry[count]{key: k}}
			model[k] = h
			continue
		}
		for k, h := range model {
			i, e := sh.find(h, []byte(k))
			if e == nil {
				t.Fatalf("step %d: %q lost", step, k)
			}
			sh.remove(i)
			delete(model, k)
			break
		}
		for k, h := range model {
			if _, e := sh.find(h, []byte(k)); e == nil || e.key != k {
				t.Fatalf("step %d: %q lost after a removal", step, k)
			}
		}
	}
}

// TestTop ranks by the value, then by key.
func TestTop(t *testing.T) {
	tab := newCounts(t, Config[count]{})
	for _, k := range []string{"/c", "/a", "/b", "/a", "/c", "/a", "/d"} {
		tab.Update([]byte(k), inc)
	}
	top, other := tab.Top(nil, 3, func(a, b *count) int { return cmp.Compare(b.n, a.n) })
	var got []string
	for _, e := range top {
		got = append(got, fmt.Sprint(e.Key, "=", e.Value.n))
	}
	if want := "/a=3 /c=2 /b=1"; strings.Join(got, " ") != want || other.n != 0 {
		t.Fatalf("Top = %s, other %d; want %s, other 0", strings.Join(got, " "), other.n, want)
	}
	if top, _ := tab.Top(top, -1, func(a, b *count) int { return 0 }); len(top) != 0 {
		t.Fatalf("Top(-1) has %d entries", len(top))
	}
	if top, _ := tab.Top(top, 100, func(a, b *count) int { return 0 }); len(top) != 4 || top[0].Key != "/a" {
		t.Fatalf("Top(100) = %v, want the 4 keys by key", top)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg   Config[count]
		field string
	}{
		{Config[count]{MaxEntries: -1, Merge: mergeCount}, "MaxEntries"},
		{Config[count]{MaxEntries: MaxEntriesLimit + 1, Merge: mergeCount}, "MaxEntries"},
		{Config[count]{MaxKeyLen: MaxKeyLenLimit + 1, Merge: mergeCount}, "MaxKeyLen"},
		{Config[count]{MaxBytes: -5, Merge: mergeCount}, "MaxBytes"},
		{Config[count]{MaxBytes: 1000, Merge: mergeCount}, "MaxBytes"},
		{Config[count]{}, "Merge"},
	} {
		_, err := New(c.cfg)
		var ce *ConfigError
		if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("New(%+v) = %v, want a ConfigError on %s", c.cfg, err, c.field)
		}
	}
}

// TestConcurrent updates from several goroutines while others take
// snapshots: the totals stay exact (run it with -race).
func TestConcurrent(t *testing.T) {
	tab := newCounts(t, Config[count]{MaxEntries: 500, MaxBytes: 200 << 10})
	const workers, lines = 4, 20000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var snaps sync.WaitGroup
	snaps.Go(func() {
		var dst []Entry[count]
		for {
			select {
			case <-stop:
				return
			default:
			}
			dst, _ = tab.Top(dst, 10, func(a, b *count) int { return cmp.Compare(b.n, a.n) })
			tab.Usage()
		}
	})
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			key := make([]byte, 0, 64)
			for i := range lines {
				key = key[:0]
				if rng.IntN(2) == 0 {
					key = fmt.Appendf(key, "/hot/%d", rng.IntN(300))
				} else {
					key = fmt.Appendf(key, "/once/%d/%d", w, i)
				}
				tab.Update(key, inc)
			}
		})
	}
	wg.Wait()
	close(stop)
	snaps.Wait()
	if held, other := total(t, tab); held+other != workers*lines {
		t.Fatalf("held %d + other %d != %d", held, other, workers*lines)
	}
	checkBudgets(t, tab)
}

// TestPanicInUpdate leaves the table usable.
func TestPanicInUpdate(t *testing.T) {
	tab := newCounts(t, Config[count]{})
	func() {
		defer func() { recover() }()
		tab.Update([]byte("/a"), func(*count) { panic("boom") })
	}()
	tab.Update([]byte("/a"), inc)
	if v, ok := tab.Get([]byte("/a")); !ok || v.n != 1 {
		t.Fatalf("Get = %v, %v; want 1, true", v.n, ok)
	}
}

// TestTopRandom checks Top against a full sort, for every n.
func TestTopRandom(t *testing.T) {
	tab := newCounts(t, Config[count]{})
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 300 {
		k := []byte(fmt.Sprint("/k", i))
		for range rng.IntN(20) + 1 {
			tab.Update(k, inc)
		}
	}
	byCount := func(a, b *count) int { return cmp.Compare(b.n, a.n) }
	all, _ := tab.Snapshot(nil)
	slices.SortFunc(all, func(a, b Entry[count]) int {
		if c := cmp.Compare(b.Value.n, a.Value.n); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	var dst []Entry[count]
	for n := 0; n <= len(all)+1; n++ {
		top, _ := tab.Top(dst, n, byCount)
		if !slices.Equal(top, all[:min(n, len(all))]) {
			t.Fatalf("Top(%d) differs from the sorted snapshot", n)
		}
		dst = top
	}
}
