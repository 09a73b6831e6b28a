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

// A minute of a daemon whose interner fills its 8 MiB budget at 60 KiB a
// second while the rest of its heap stays at 10 MiB: the live heap grows,
// but the tracked structure explains all of it.
func Example_filling() {
	start := time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC)
	var samples []heapwatch.Sample
	for i := range 61 {
		t := float64(i)
		interned := 2<<20 + 60<<10*t // bytes the interner holds
		entries := interned / 2048   // of 2 KiB values, one object each
		live := 10<<20 + interned
		objects := 100_000 + entries
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
			Budgets: []heapwatch.BudgetSample{{Name: "interner", Usage: heapwatch.Usage{
				Bytes: int64(interned), LimitBytes: 8 << 20, Entries: int64(entries), LimitEntries: 65536,
			}}},
		})
	}
	r := heapwatch.Analyze(samples, heapwatch.AnalyzeOptions{})
	fmt.Println(r.Growth, r.Growth.Growing())
	fmt.Println(r)
	// Output:
	// filling false
	// filling declared budgets: interner 5.5 of 8.0 MiB (69%); the rest flat at 10.0 MiB (+0 B/min); ceiling 18.0 MiB live
}

// A daemon registers each bounded structure with one line; Run's samples
// then carry their usage, and Report.Budgets has the figures to export.
func ExampleMonitor_Track() {
	m := heapwatch.New(heapwatch.Config{})
	var stored, limit int64 = 3 << 20, 8 << 20 // a cache's own counters
	if err := m.Track("cache", func() heapwatch.Usage {
		return heapwatch.Usage{Bytes: stored, LimitBytes: limit}
	}); err != nil {
		fmt.Println(err)
	}
	for _, b := range m.Budgets() {
		fmt.Printf("%s %d of %d bytes\n", b.Name, b.Bytes, b.LimitBytes)
	}
	// Output:
	// cache 3145728 of 8388608 bytes
}

// The first seconds of a quiet daemon: it has not collected yet, so its
// live heap is not known, and its memory climbs as the runtime maps its
// first spans. Analyze says it is warming up, and the summary does not
// print a live heap of 0 B.
func Example_warmingUp() {
	start := time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC)
	var samples []heapwatch.Sample
	for i := range 20 {
		samples = append(samples, heapwatch.Sample{
			Time:         start.Add(time.Duration(i) * time.Second),
			Start:        start,
			Objects:      uint64(2_000 + 500*i),
			HeapObjects:  uint64(3<<20 + 100<<10*i),
			HeapGoal:     4 << 20,
			Total:        uint64(10<<20 + 200<<10*i),
			HeapReleased: 3 << 20,
			Goroutines:   12,
			RSS:          uint64(6<<20 + 300<<10*i),
			RSSKnown:     true,
		})
	}
	r := heapwatch.Analyze(samples, heapwatch.AnalyzeOptions{})
	fmt.Println(r.Growth, r.WarmingUp, r.Growth.Growing())
	fmt.Println(r.Summary())
	// Output:
	// unknown true false
	// live n/a (no GC yet), objects 11.5k, 443 B/object, retained 10.7 MiB, RSS 11.6 MiB, goroutines 12, GCs 0; warming up (0 of 4 GC cycles)
}

// A daemon that collects too rarely for a verdict can let the Monitor
// collect at a bounded rate: with ForceGC -1, Run forces a collection when
// none has ended for Window / (MinGCCycles+1), 12 seconds with the
// defaults, and never in a program that collects often enough on its own.
func ExampleConfig_forceGC() {
	m := heapwatch.New(heapwatch.Config{ForceGC: -1})
	fmt.Println(m.ForcedGCs())
	// go m.Run(ctx), then m.Summary() every few seconds.
	// Output:
	// 0
}
