package heapwatch

import "fmt"

// Growth is the kind of memory growth a Report sees.
type Growth int

const (
	// Unknown: not enough samples or GC cycles in the window to judge, a
	// process warming up (Report.WarmingUp), or a rise of the live heap
	// that has not persisted yet (Report.Reason says which).
	Unknown Growth = iota
	// Flat: nothing grew over the window.
	Flat
	// PerKey: values kept per distinct key; live bytes and objects rise together.
	PerKey
	// PinnedBuffers: kept views or substrings pin big buffers; live bytes
	// rise, objects stay flat, so bytes per object rise.
	PinnedBuffers
	// Retained: fragmentation or memory not returned to the OS; the
	// memory the runtime holds rises while the live heap stays flat.
	Retained
	// GoroutineLeak: the number of goroutines rises.
	GoroutineLeak
	// OffHeap: memory outside the Go heap; RSS rises while the memory the
	// runtime holds stays flat.
	OffHeap
	// Filling: the live heap rises, but structures tracked with
	// Monitor.Track explain the rise, below their limits, and the rest of
	// the heap is flat. Bounded growth, not a leak; Growing is false. It is
	// the last kind: the kinds run from Unknown to Filling without a gap.
	Filling
)

// Kinds returns every kind of growth, from Unknown to Filling, for a daemon
// that exports one series per kind.
func Kinds() []Growth {
	out := make([]Growth, 0, Filling+1)
	for g := Unknown; g <= Filling; g++ {
		out = append(out, g)
	}
	return out
}

var growthLabels = [...]string{
	Unknown:       "unknown",
	Flat:          "flat",
	PerKey:        "per-key",
	PinnedBuffers: "pinned-buffers",
	Retained:      "retained",
	GoroutineLeak: "goroutine-leak",
	OffHeap:       "off-heap",
	Filling:       "filling",
}

var growthPhrases = [...]string{
	Unknown:       "not enough samples or GC cycles to judge",
	Flat:          "the heap is flat",
	PerKey:        "values kept per distinct key",
	PinnedBuffers: "kept views or substrings pinning big buffers",
	Retained:      "fragmentation or memory not returned to the OS",
	GoroutineLeak: "goroutine leak",
	OffHeap:       "memory outside the Go heap",
	Filling:       "filling declared budgets",
}

var growthExplanations = [...]string{
	Unknown: "There are too few samples, or too few completed GC cycles, in the window to tell growth " +
		"from noise: the live heap is only measured when a GC ends. Wait longer or widen the window, or let " +
		"the Monitor collect at a bounded rate (Config.ForceGC). A process warming up (its first collections, " +
		"its first minute) is told so: its memory climbs to its first heap goals. Or " +
		"the live heap rose but not steadily over the window: a step, a climb that began late, or one " +
		"that fell back, as big buffers held by work in flight do; it is judged once it persists or falls back.",
	Flat: "Nothing grew over the window: the live heap, the memory the Go runtime holds, the goroutine " +
		"count and the RSS are flat, allowing for the GC sawtooth.",
	PerKey: "Live bytes and the object count rise together: the program keeps a new value for every new " +
		"key it sees (a map, cache, counter or set keyed by path, host, client or ID) and never forgets " +
		"one. Bound it (an LRU, an interner with entry and byte caps) or key it by something with few " +
		"values. Go maps never shrink, so delete is not enough; replace the map.",
	PinnedBuffers: "Live bytes rise while the object count stays flat, so each kept object holds more " +
		"memory: a short string or sub-slice kept from a big buffer (a 30-byte path from a 64 KiB read " +
		"buffer, a substring of a long line) keeps the whole buffer alive. Copy what you keep " +
		"(strings.Clone, bytes.Clone) and never keep views of reused buffers.",
	Retained: "The live heap is flat but the runtime keeps more memory from the OS: free or " +
		"fragmented heap spans that are not returned (heap_free and heap_unused rise, heap_released does " +
		"not). Look at pools holding buffers of mixed sizes, at many objects of one size freed while a " +
		"few neighbours stay live, and try debug.FreeOSMemory to see whether the memory can be returned.",
	GoroutineLeak: "The goroutine count keeps rising: goroutines block forever (on a channel, lock, timer " +
		"or network read nobody ends) and each keeps its stack and everything it references. Look at the " +
		"goroutine profile (/debug/pprof/goroutine?debug=1) for the stack that keeps multiplying.",
	OffHeap: "RSS rises while the memory the Go runtime holds stays flat: the growth is outside the Go " +
		"heap, in cgo or C libraries, memory mapped with syscall.Mmap, or thread stacks. Go heap " +
		"profiles will not show it.",
	Filling: "The live heap rises, but the structures the program declared with Monitor.Track (caches, " +
		"interners, tables) explain the rise: they are filling up to their limits, and the rest of the " +
		"heap is flat. The growth stops at the projected ceiling, the rest plus every limit. If that " +
		"ceiling is too high, lower the limits; if the growth goes on past it, a structure reports less " +
		"than it holds.",
}

// String returns a short label: "unknown", "flat", "per-key",
// "pinned-buffers", "retained", "goroutine-leak", "off-heap" or "filling".
func (g Growth) String() string {
	if g < 0 || int(g) >= len(growthLabels) {
		return fmt.Sprintf("growth(%d)", int(g))
	}
	return growthLabels[g]
}

// Phrase returns the kind of growth in a few words, as Report.String uses it.
func (g Growth) Phrase() string {
	if g < 0 || int(g) >= len(growthPhrases) {
		return g.String()
	}
	return growthPhrases[g]
}

// Explain returns a plain-words explanation of the kind of growth, its usual
// causes in a daemon, and where to look.
func (g Growth) Explain() string {
	if g < 0 || int(g) >= len(growthExplanations) {
		return g.String()
	}
	return growthExplanations[g]
}

// Growing reports whether g is growth that nothing bounds: PerKey,
// PinnedBuffers, Retained, GoroutineLeak or OffHeap. It is false for
// Unknown, Flat and Filling (growth within declared budgets).
func (g Growth) Growing() bool { return g >= PerKey && g <= OffHeap }
