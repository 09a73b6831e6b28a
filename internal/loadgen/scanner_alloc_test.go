//go:build !race

package loadgen

import (
	"testing"
	"time"
)

// TestScannerMix_NoAllocs checks that a line of a scanner mix costs no
// allocation, through the flood, its repeats and the real routes, and
// that filling a batch of them does not either.
func TestScannerMix_NoAllocs(t *testing.T) {
	cfg, err := Config{Scanner: &ScannerMix{JunkPaths: 100_000}}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	g := newLineGen(cfg, "web01")
	buf := make([]byte, 0, g.maxLine)
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	// Past the real lines before the flood and into the repeats.
	for range 20_000 {
		buf = g.AppendLine(buf[:0], now)
	}
	testAllocs(t, "scanner line", func() {
		now = now.Add(50 * time.Microsecond)
		buf = g.AppendLine(buf[:0], now)
	})
	sinkLine = buf
	b := newLoadBatch(cfg, g.maxLine)
	limit := time.Duration(0)
	testAllocs(t, "scanner fill", func() {
		limit += 5 * time.Millisecond
		b.fill(g, cfg.Batch, now, limit)
	})
	if g.Scanner().JunkLines == 0 {
		t.Fatal("no junk line made")
	}
}
