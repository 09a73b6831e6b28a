package heapwatch_test

import (
	"fmt"
	"time"

	"github.com/flatheap/ingest/heapwatch"
)

// A minute of a daemon that keeps a value for every new path: the live heap
// and the object count rise together, under a GC every two seconds.
func Example_analyze() {
	start := time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC)
	var samples []heapwatch.Sample
	for i := range 61 {
		t := float64(i)
		objects := 200_000 + 1_000*t // 1,000 new keys a second
		live := 100 * objects        // 100 bytes each
		garbage := float64(i%2) * (4 << 20)
		samples = append(samples, heapwatch.Sample{
			Time:         start.Add(time.Duration(i) * time.Second),
			LiveBytes:    uint64(live),
			Objects:      uint64(objects + garbage/100),
			HeapObjects:  uint64(live + garbage),
			Total:        uint64(2*live) + 8<<20,
			HeapReleased: 4 << 20,
			Goroutines:   12,
			GCCycles:     uint64(i / 2),
		})
	}
	r := heapwatch.Analyze(samples, heapwatch.AnalyzeOptions{})
	fmt.Println(r.Growth)
	fmt.Println(r)
	// Output:
	// per-key
	// growing: values kept per distinct key (live +5.7 MiB/min, objects +60.0k/min, fit 1.00)
}

func ExampleReport_Summary() {
	r := heapwatch.Report{Growth: heapwatch.Flat, Window: time.Minute, GCCycles: 45, Last: heapwatch.Sample{
		LiveBytes: 12 << 20, Objects: 45_100, HeapObjects: 45_100 * 286,
		Total: 33 << 20, HeapReleased: 3 << 20, Goroutines: 12, GCCycles: 1234,
		RSS: 35 << 20, RSSKnown: true,
	}}
	fmt.Println(r.Summary())
	// Output:
	// live 12.0 MiB, objects 45.1k, 286 B/object, retained 30.0 MiB, RSS 35.0 MiB, goroutines 12, GCs 1234; flat over 1m0s, 45 GC cycles (retained +0 B/min)
}

func ExampleGrowth_Phrase() {
	fmt.Println(heapwatch.PinnedBuffers.Phrase())
	// Output:
	// kept views or substrings pinning big buffers
}
