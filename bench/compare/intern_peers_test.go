package compare

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"unique"

	"github.com/flatheap/ingest"
	"github.com/maypok86/otter/v2"
)

// An interner turns a byte view into a string the caller may keep. The
// peers below do it with ingest.Interner, unique.Make, a map[string]string
// and an otter cache; each is safe for concurrent use.
type interner struct {
	intern func(b []byte) string
	// hits returns how many calls were answered from what the peer had
	// stored, and ok=false when the peer cannot tell.
	hits func() (n uint64, ok bool)
}

type internPeer struct {
	name    string
	bounded bool // capacity is honoured
	// new returns a peer that stores at most capacity values; count says
	// whether to count hits, which the benchmarks leave off for the peers
	// that would pay for it.
	new func(capacity int, count bool) interner
}

var internPeers = []internPeer{
	{name: "ingest", bounded: true, new: newIngestInterner},
	{name: "otter", bounded: true, new: newOtterInterner},
	{name: "map", bounded: true, new: newMapInterner},
	{name: "unique", bounded: false, new: newUniqueInterner},
}

// newIngestInterner bounds entries only: MaxBytes and MaxLen are set high
// enough that they never decide.
func newIngestInterner(capacity int, _ bool) interner {
	in := ingest.NewInterner(ingest.InternerConfig{MaxEntries: capacity, MaxBytes: 1 << 30, MaxLen: 4096})
	return interner{
		intern: in.Intern,
		hits:   func() (uint64, bool) { return in.Stats().Hits, true },
	}
}

// newOtterInterner looks up with a view of b and stores a copy on a miss,
// the cheapest correct way to intern with a cache keyed by string.
func newOtterInterner(capacity int, count bool) interner {
	c := otter.Must(&otter.Options[string, string]{MaximumSize: capacity})
	var hits atomic.Uint64
	return interner{
		intern: func(b []byte) string {
			if s, ok := c.GetIfPresent(b2s(b)); ok {
				if count {
					hits.Add(1)
				}
				return s
			}
			s := string(b)
			c.Set(s, s)
			return s
		},
		hits: func() (uint64, bool) { return hits.Load(), true },
	}
}

// newMapInterner is the map a daemon writes first, under a RWMutex, with
// the capacity enforced by deleting an arbitrary entry (the first one range
// yields, which Go randomises) when it is full.
func newMapInterner(capacity int, count bool) interner {
	m := make(map[string]string, capacity)
	var mu sync.RWMutex
	var hits atomic.Uint64
	return interner{
		intern: func(b []byte) string {
			mu.RLock()
			s, ok := m[string(b)]
			mu.RUnlock()
			if ok {
				if count {
					hits.Add(1)
				}
				return s
			}
			s = string(b)
			mu.Lock()
			if len(m) >= capacity {
				for k := range m {
					delete(m, k)
					break
				}
			}
			m[s] = s
			mu.Unlock()
			return s
		},
		hits: func() (uint64, bool) { return hits.Load(), true },
	}
}

// newUniqueInterner uses unique.Make, which copies a string it stores, so
// it is given a view. It has no capacity: an entry lives while a Handle to
// it is reachable, and cannot say whether a call was a hit.
func newUniqueInterner(int, bool) interner {
	return interner{
		intern: func(b []byte) string { return unique.Make(b2s(b)).Value() },
		hits:   func() (uint64, bool) { return 0, false },
	}
}

// The workloads, as in ingest's own pool_bench_test.go:
//
//	hit-short   one 41-byte path, stored before the timer starts
//	hit-2k      one 2,048-byte path, stored
//	miss        a new 41-byte path on every call
//	zipf-mixed  70% of calls pick one of 1,000 paths by Zipf rank (s = 1),
//	            30% are one-off paths; capacity 256 entries
const (
	zipfPaths    = 1000
	zipfCapacity = 256
	oneOffShare  = 0.3
)

// zipfPath returns the i-th path of the Zipf set: 41 bytes for i < 1e6.
func zipfPath(i int) string { return fmt.Sprintf("/api/v2/catalog/items/%06d/reviews.json", i) }

// oneOffPath writes a 41-byte path unique to n into dst and returns it.
func oneOffPath(dst []byte, n uint64) []byte {
	dst = append(dst[:0], "/search/query/"...)
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, "0123456789abcdef"[n>>uint(shift)&15])
	}
	return append(dst, "/pages.html"...)
}

// zipfTrace returns n accesses with a fixed seed: a path index in
// [0, paths), drawn with probability proportional to 1/(index+1), or -1 for
// a one-off path.
func zipfTrace(n, paths int, oneOff float64) []int32 {
	r := rand.New(rand.NewPCG(1, 2))
	cdf := make([]float64, paths)
	sum := 0.0
	for k := range cdf {
		sum += 1 / float64(k+1)
		cdf[k] = sum
	}
	for k := range cdf {
		cdf[k] /= sum
	}
	tr := make([]int32, n)
	for i := range tr {
		if r.Float64() < oneOff {
			tr[i] = -1
			continue
		}
		tr[i] = int32(sort.SearchFloat64s(cdf, r.Float64()))
	}
	return tr
}
