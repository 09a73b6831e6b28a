package heapwatch

import (
	"runtime/metrics"
	"sync"
	"time"
)

// Sample is one reading of a process's memory. The JSON tags are part of the
// API: a parent process reads its children's samples as JSON lines.
type Sample struct {
	Time         time.Time `json:"time"`
	LiveBytes    uint64    `json:"live_bytes"`          // /gc/heap/live:bytes: live heap as marked by the last GC
	Objects      uint64    `json:"objects"`             // /gc/heap/objects:objects: live and not yet swept objects
	HeapObjects  uint64    `json:"heap_objects_bytes"`  // /memory/classes/heap/objects:bytes: the bytes of those objects
	HeapUnused   uint64    `json:"heap_unused_bytes"`   // /memory/classes/heap/unused:bytes: reserved for objects, unused
	HeapFree     uint64    `json:"heap_free_bytes"`     // /memory/classes/heap/free:bytes: free, not returned to the OS
	HeapReleased uint64    `json:"heap_released_bytes"` // /memory/classes/heap/released:bytes: free, returned to the OS
	Total        uint64    `json:"total_bytes"`         // /memory/classes/total:bytes: everything the runtime mapped
	Goroutines   uint64    `json:"goroutines"`          // /sched/goroutines:goroutines
	GCCycles     uint64    `json:"gc_cycles"`           // /gc/cycles/total:gc-cycles
	HeapGoal     uint64    `json:"heap_goal_bytes"`     // /gc/heap/goal:bytes: the heap size the next GC aims for; 0 when unknown
	RSS          uint64    `json:"rss_bytes"`           // resident set size from /proc/self/statm; 0 when unknown
	RSSKnown     bool      `json:"rss_known"`           // false where /proc/self/statm does not exist
	// Start is when the process started (when the heapwatch package was
	// initialized), so that Analyze knows how old the process is: its
	// first AnalyzeOptions.WarmUp is its warm-up. Zero when unknown.
	Start time.Time `json:"start,omitzero"`
	// Budgets are the usages of the structures tracked with Monitor.Track
	// (Monitor.Read fills them in; the package function Read does not).
	// Analyze reads at most MaxBudgets of them.
	Budgets []BudgetSample `json:"budgets,omitempty"`
}

// Retained is the memory the Go runtime holds from the OS: everything it
// mapped (Total) minus the heap memory it gave back (HeapReleased).
func (s Sample) Retained() uint64 {
	if s.HeapReleased > s.Total {
		return 0
	}
	return s.Total - s.HeapReleased
}

// BytesPerObject is the mean size of the objects occupying the heap,
// HeapObjects / Objects, or 0 when there are no objects. Both counts include
// dead objects not yet swept, so the ratio compares like with like; it is not
// LiveBytes / Objects, which would divide a post-GC figure by a current one.
func (s Sample) BytesPerObject() float64 {
	if s.Objects == 0 {
		return 0
	}
	return float64(s.HeapObjects) / float64(s.Objects)
}

// The order of these names is the order of the fields Read fills in.
var metricNames = [...]string{
	"/gc/heap/live:bytes",
	"/gc/heap/objects:objects",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/total:bytes",
	"/sched/goroutines:goroutines",
	"/gc/cycles/total:gc-cycles",
	"/gc/heap/goal:bytes",
}

// processStart is when this process started running Go code, as near as a
// package can tell: when heapwatch was initialized.
var processStart = time.Now()

// reader holds the one metrics.Sample array Read reuses, under its mutex.
var reader struct {
	mu      sync.Mutex
	samples [len(metricNames)]metrics.Sample
	named   bool
}

// Read reads one sample of this process now. It is safe for concurrent use:
// it reuses one package-level metrics.Sample array under a mutex, so the
// runtime/metrics part allocates nothing; reading RSS on Linux opens and
// reads /proc/self/statm with raw system calls, which costs one small
// allocation (the path) per call. A metric the runtime does not support
// reads as 0.
func Read() Sample {
	reader.mu.Lock()
	if !reader.named {
		for i, name := range metricNames {
			reader.samples[i].Name = name
		}
		reader.named = true
	}
	metrics.Read(reader.samples[:])
	var v [len(metricNames)]uint64
	for i := range reader.samples {
		if reader.samples[i].Value.Kind() == metrics.KindUint64 {
			v[i] = reader.samples[i].Value.Uint64()
		}
	}
	reader.mu.Unlock()

	s := Sample{
		Time:         time.Now(),
		LiveBytes:    v[0],
		Objects:      v[1],
		HeapObjects:  v[2],
		HeapUnused:   v[3],
		HeapFree:     v[4],
		HeapReleased: v[5],
		Total:        v[6],
		Goroutines:   v[7],
		GCCycles:     v[8],
		HeapGoal:     v[9],
		Start:        processStart,
	}
	s.RSS, s.RSSKnown = readRSS()
	return s
}
