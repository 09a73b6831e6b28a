//go:build !purego

package forward

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestRecord_NoAVX2: the records built from the 8-bytes-at-a-time
// classification pass FuzzRecord's checks too (the other architectures'
// path).
func TestRecord_NoAVX2(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2: the other tests take this path")
	}
	hasAVX2 = false
	defer func() { hasAVX2 = true }()
	encs := checkForwarders(t)
	rng := rand.New(rand.NewPCG(9, 10))
	lines := [][]byte{[]byte(line250), appendLine(nil, 7, time.Unix(1760104536, 0), 2048)}
	for range 200 {
		l := append([]byte(nil), lines[rng.IntN(2)]...)
		for range rng.IntN(4) {
			l[rng.IntN(len(l))] = randomLine(rng, 1)[0]
		}
		lines = append(lines, l)
	}
	parsed := 0
	for _, l := range lines {
		parsed += checkRecords(t, encs, l)
	}
	ensure(t, parsed > 100, "only %d lines parsed", parsed)
}
