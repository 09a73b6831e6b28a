package heapwatch

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var (
	keptPerKey map[string][]byte
	keptViews  [][]byte
)

// realSeries reads a sample after each of 40 rounds of grow and a GC,
// stamped one second apart, so the real runtime's figures go through Analyze.
func realSeries(grow func(round int)) []Sample {
	var s []Sample
	for i := range 40 {
		grow(i)
		runtime.GC()
		x := Read()
		x.Time = t0.Add(time.Duration(i) * time.Second)
		s = append(s, x)
	}
	return s
}

func TestAnalyze_RealHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 60 MiB")
	}
	opt := AnalyzeOptions{Window: -1}

	keptPerKey = make(map[string][]byte)
	s := realSeries(func(round int) {
		for k := range 4000 {
			keptPerKey["/path/"+strconv.Itoa(round)+"/"+strconv.Itoa(k)] = make([]byte, 64)
		}
	})
	keptPerKey = nil
	r := Analyze(s, opt)
	assert.Equal(t, PerKey, r.Growth, "%s (%s)", r, r.Reason)

	keptViews = make([][]byte, 0, 40*8)
	s = realSeries(func(int) {
		for range 8 {
			buf := make([]byte, 64<<10)
			keptViews = append(keptViews, buf[:16:16]) // 16 bytes pin 64 KiB
		}
	})
	keptViews = nil
	r = Analyze(s, opt)
	assert.Equal(t, PinnedBuffers, r.Growth, "%s (%s)", r, r.Reason)

	s = realSeries(func(int) {})
	r = Analyze(s, opt)
	assert.Equal(t, Flat, r.Growth, "%s (%s)", r, r.Reason)
}
