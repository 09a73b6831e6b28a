// Package heapwatch watches a Go process's memory and says why it grows.
//
// A Monitor samples the runtime's own memory figures (runtime/metrics) and
// the RSS every second, keeps a bounded ring of samples, fits robust trends
// (Theil-Sen slopes, see Trend) over the last minute, and names the kind of
// growth it sees in words a daemon author can act on:
//
//   - Flat: nothing grows. The heap still saws up and down between
//     collections; that is garbage being made and collected, not growth.
//   - PerKey ("values kept per distinct key"): live bytes and the object
//     count rise together. Something keeps one more value for every new
//     path, host or client: a map, cache, counter or set that is never
//     bounded. Go maps never shrink.
//   - PinnedBuffers ("kept views or substrings pinning big buffers"): live
//     bytes rise but the object count does not, so each kept object holds
//     more memory. A 30-byte path kept as a sub-slice or substring of a
//     64 KiB read buffer keeps all 64 KiB alive. This is the daemon whose
//     object count settled while the process grew forever. When the views
//     are new map keys, the object count rises too (the map's entries),
//     but the heap grows by far more per new object than any kept value
//     would (AnalyzeOptions.PinnedBytes, 8 KiB by default).
//   - Retained ("fragmentation or memory not returned"): the live
//     heap is flat, but the runtime holds more and more memory from the OS
//     (total minus released): free or half-used spans it does not return,
//     often from pools of buffers of mixed sizes.
//   - GoroutineLeak: the goroutine count rises; every blocked goroutine
//     keeps its stack and what it references.
//   - OffHeap ("memory outside the Go heap"): RSS rises while the runtime's
//     memory is flat: cgo, C libraries, mmap. Judged over the samples after
//     the warm-up only, and only when the RSS rose by
//     AnalyzeOptions.OffHeapBytes (4 MiB) more than the retained memory.
//   - Filling ("filling declared budgets"): the live heap rises, but the
//     structures the program declared with Monitor.Track explain the rise,
//     below their limits, and the rest of the heap is flat. Bounded growth,
//     not a leak: Growth.Growing is false for it.
//   - Unknown: too few samples, or too few GC cycles to know the live heap
//     (it is only measured when a collection ends), or a live heap that
//     rose without persisting (see Limits). A process warming up gets
//     Unknown with Report.WarmingUp set, and its line says so: "warming up
//     (2 of 4 GC cycles)" before its fourth collection, "warming up (25s of
//     1m0s; ...)" while, in its first minute, something rose but not
//     steadily.
//
// # Warming up
//
// A process's first minute or two are not its steady state: its heap grows
// to its first goals, the runtime maps its first spans and stacks, and a
// daemon that allocates little collects once a minute, so one sawtooth of
// garbage lasts longer than a window. Its RSS may climb from 5 to 20 MiB
// while nothing leaks. Analyze therefore says "warming up" until the
// process has completed AnalyzeOptions.MinGCCycles collections, and in its
// first AnalyzeOptions.WarmUp (Sample.Start gives its age) names growth
// only when the rise persisted over the window, or the live heap rose
// strongly (see Limits); retained memory counts only as far as the heap
// goal does not explain it (Sample.HeapGoal). A
// program that collects too rarely for a verdict can let the Monitor
// collect for it at a bounded rate: Config.ForceGC.
//
// Kinds lists them all; the constants run from Unknown to Filling without a
// gap, so a daemon can export one series per kind.
//
// # Budgets
//
// A heap that fills a cache, an interner or a table up to its limit grows
// for a while, the way a leak does. A Monitor that knows those limits tells
// the two apart. Each bounded structure registers itself with one line:
//
//	m.Track("interner", func() heapwatch.Usage {
//		st := in.Stats()
//		return heapwatch.Usage{Bytes: int64(st.Bytes), LimitBytes: 8 << 20,
//			Entries: int64(st.Entries), LimitEntries: 65536, Refused: st.Rejected + st.Evictions}
//	})
//
// Every sample then carries each structure's usage (Sample.Budgets, at most
// MaxBudgets of them, JSON-encoded with the rest), so Analyze stays a pure
// function of samples and judges a child process's samples as well as this
// one's. Analyze subtracts the tracked bytes from the live heap and judges
// what is left, the unaccounted heap:
//
//   - the tracked structures grew and the rest is flat: Filling, in words
//     such as "filling declared budgets: interner 6.1 of 8.0 MiB (76%),
//     paths 9,800 of 10,000 (98%); the rest flat at 12.0 MiB (+0 B/min);
//     ceiling 26.0 MiB live", where the ceiling is the rest plus every
//     structure's limit: the live heap the process settles at;
//   - the unaccounted heap rises too: it is judged with the kinds above, as
//     growth beyond the budgets, and the line also names the structures
//     filling beside it ("growing: values kept per distinct key beyond the
//     declared budgets (...); also filling declared budgets: interner ...");
//   - a structure within 5% of its limit whose Refused count rises is "at
//     budget" ("; at budget: interner 8.0 of 8.0 MiB (100%), refusing
//     1,200/s" after any verdict): a tuning hint, not a leak.
//
// A structure that reports less than it holds leaves the rest in the
// unaccounted heap, where it shows as growth; up to
// AnalyzeOptions.BudgetSlack of the tracked growth (a quarter by default)
// is taken as the structures' unreported overhead (size-class rounding, map
// buckets). Report.Budgets holds each structure's figures and state for a
// daemon's metrics.
//
// Analyze holds the logic and is a pure function of the samples, so it
// judges samples read from another process (JSON lines of Sample) as well as
// this one's. Monitor.Summary returns the one line a daemon logs every few
// seconds instead of printing runtime.MemStats: live heap ("n/a (no GC
// yet)" before the first collection), objects, bytes per object, retained
// memory, RSS, goroutines, GC cycles, the bytes the tracked structures
// hold, and the trend.
//
// # Profiles
//
// With Config.ProfileDir set, Run writes a baseline heap profile once it has
// a full window of samples, and another when growth starts;
// Monitor.WriteProfile (or Monitor.ProfileOnSignal, e.g. with SIGUSR1)
// writes one on demand. Files sort in the order written
// (heap-0001-20261126T003000-baseline.pb.gz, heap-0002-…-per-key.pb.gz, …),
// and the baseline is always kept, so
//
//	go tool pprof -sample_index=inuse_space -diff_base heap-0001-*.pb.gz $(ls heap-*.pb.gz | tail -1)
//
// shows what was allocated and is still live now that was not at the
// baseline: the map or the buffer that grows. Use -sample_index=inuse_objects
// to count objects instead of bytes. A pinned buffer shows as the function
// that allocated the big buffer, not the one that kept the small view.
//
// # Limits
//
// The object count (/gc/heap/objects:objects) includes dead objects not yet
// swept, so between collections it saws up with garbage; Analyze takes its
// lower envelope, which is close to the live count when a collection takes
// several samples, and noisier when the process collects many times per
// sample. Growth must be steady over the window to count (see
// AnalyzeOptions): a leak slower than about 5% of the heap per window needs
// a longer window. RSS is read from /proc/self/statm and is unknown (never
// zero-as-measured) elsewhere.
//
// The live heap cannot tell a buffer kept by a forgotten view from one held
// by work in flight: 200 concurrent HTTP responses of 6.8 MB each raise it
// by over a gigabyte with a few objects each, which is what pinned buffers
// look like. So a rise of the live heap counts only once it persists: it
// must show in both halves of the window and the newest points must keep
// it (see Analyze); a single reading, high or low, neither makes nor undoes
// a rise. A strong rise counts as soon as it shows, even unevenly: the
// live heap and the object count rising together, in near-perfect order,
// through more than MinGCCycles collections, and not levelling off, as a
// map that keeps a value for every new key does. The points are where the
// collections were, and each is judged against the fitted line where it
// lies: a process that collects every 12 seconds is judged as steadily as
// a busier one. Buffers in flight that come and go every few seconds (a big
// scrape written beside a growing map) leave the points sawing far above
// what is kept; Analyze then also fits the floor of the points, the least
// of each few, and a rising floor is a rising live heap. A climb that began
// late in the window, a step, or a rise that fell back is reported as
// Unknown, with the reason, and the memory the runtime then keeps from the
// OS as Retained. The price is that
// a new leak is named only once it has run for most of a window, that a
// leak growing in a few big steps (a slice doubling its backing array) is
// named only when steps land in both halves of a window, and that buffers
// in flight that keep piling up for a whole window (load that grows without
// bound) are still reported as growth, which they are.
//
// A Monitor's reports hold a growing verdict (Report.Held): a window that
// noise leaves short of a verdict, after one that named growth, says the
// same growth while it still rises by half of what naming it took. A leak
// that stops is let go within about a window; Analyze, a pure function of
// its samples, holds nothing.
//
// Tracked bytes are read when the sample is taken, the live heap when the
// last GC ended, so a structure filling quickly makes the unaccounted heap
// saw by what it adds between the two; trends are robust to that, single
// figures are not.
package heapwatch
