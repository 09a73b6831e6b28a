package compare

import (
	"testing"
)

// TestInternHitRatio replays one fixed Zipf trace (1,000 paths, s = 1, 30%
// one-off paths) through each bounded peer at the same capacity, smaller
// than the number of distinct paths so that the eviction policy decides,
// and logs the share of calls answered from what the peer had stored,
// counted over the second half of the trace. It fails if ingest's ratio is
// more than 0.05 below otter's. The unbounded ceiling is what a peer
// without eviction (unique.Make, an unlimited map) would reach.
func TestInternHitRatio(t *testing.T) {
	if raceEnabled {
		t.Skip("a policy test; 25 times slower under the race detector")
	}
	const n = 1 << 19
	trace := zipfTrace(n, zipfPaths, oneOffShare)
	paths := make([][]byte, zipfPaths)
	for i := range paths {
		paths[i] = []byte(zipfPath(i))
	}
	for _, capacity := range []int{zipfCapacity, 500} {
		ratios := map[string]float64{}
		for _, p := range internPeers {
			if !p.bounded {
				continue
			}
			in := p.new(capacity, true)
			var buf []byte
			var one uint64
			var before uint64
			for k, i := range trace {
				if k == n/2 {
					before, _ = in.hits()
				}
				b := buf
				if i >= 0 {
					b = paths[i]
				} else {
					buf = oneOffPath(buf, one)
					b = buf
					one++
				}
				if s := in.intern(b); s != string(b) {
					t.Fatalf("%s: got %q for %q", p.name, s, b)
				}
			}
			after, _ := in.hits()
			ratios[p.name] = float64(after-before) / float64(n-n/2)
		}
		seen := make([]bool, zipfPaths)
		ceil := 0
		for k, i := range trace {
			if i >= 0 && seen[i] && k >= n/2 {
				ceil++
			}
			if i >= 0 {
				seen[i] = true
			}
		}
		t.Logf("capacity %d: hit ratio ingest %.4f, otter %.4f, map (random eviction) %.4f; unbounded ceiling %.4f",
			capacity, ratios["ingest"], ratios["otter"], ratios["map"], float64(ceil)/float64(n-n/2))
		if ratios["ingest"] < ratios["otter"]-0.05 {
			t.Errorf("capacity %d: ingest's hit ratio %.4f is more than 0.05 below otter's %.4f",
				capacity, ratios["ingest"], ratios["otter"])
		}
	}
}
