package heapwatch

import (
	"runtime"
	"strconv"
	"testing"
	"time"
)

var (
	keptPerKey map[string][]byte
	keptViews  [][]byte
)

// realSeries reads a sample after each of n rounds of grow and a GC,
// stamped one second apart, so the real runtime's figures go through Analyze.
func realSeries(n int, grow func(round int)) []Sample {
	var s []Sample
	for i := range n {
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
	s := realSeries(40, func(round int) {
		for k := range 4000 {
			keptPerKey["/path/"+strconv.Itoa(round)+"/"+strconv.Itoa(k)] = make([]byte, 64)
		}
	})
	keptPerKey = nil
	r := Analyze(s, opt)
	if r.Growth != PerKey {
		t.Errorf("%s (%s)", r, r.Reason)
	}

	keptViews = make([][]byte, 0, 40*8)
	s = realSeries(40, func(int) {
		for range 8 {
			buf := make([]byte, 64<<10)
			keptViews = append(keptViews, buf[:16:16]) // 16 bytes pin 64 KiB
		}
	})
	keptViews = nil
	r = Analyze(s, opt)
	if r.Growth != PinnedBuffers {
		t.Errorf("%s (%s)", r, r.Reason)
	}

	s = realSeries(40, func(int) {})
	r = Analyze(s, opt)
	if r.Growth != Flat {
		t.Errorf("%s (%s)", r, r.Reason)
	}
}

var inFlight [][]byte

// Responses built in big buffers, held while in flight and then freed: the
// live heap climbs with few objects and falls back, which no window may
// call kept views pinning buffers or values per key.
func TestAnalyze_RealTransientBuffers(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 24 MiB")
	}
	inFlight = make([][]byte, 24)
	s := realSeries(60, func(round int) {
		switch {
		case round >= 20 && round < 36: // 24 responses grow by 64 KiB a round
			for i := range inFlight {
				inFlight[i] = make([]byte, (round-19)<<16) // the old one is garbage, as after append
			}
		case round >= 36 && round < 42: // four are written out a round
			for i := (round - 36) * 4; i < (round-35)*4; i++ {
				inFlight[i] = nil
			}
		}
	})
	inFlight = nil
	for end := 10; end <= len(s); end++ {
		r := Analyze(s[:end], AnalyzeOptions{Window: time.Minute})
		if r.Growth == PinnedBuffers || r.Growth == PerKey {
			t.Fatalf("window ending at round %d: %s (%s)", end-1, r, r.Reason)
		}
	}
}
