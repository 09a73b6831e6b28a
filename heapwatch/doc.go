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
//     memory is flat: cgo, C libraries, mmap.
//   - Unknown: too few samples, or too few GC cycles to know the live heap
//     (it is only measured when a collection ends).
//
// Analyze holds the logic and is a pure function of the samples, so it
// judges samples read from another process (JSON lines of Sample) as well as
// this one's. Monitor.Summary returns the one line a daemon logs every few
// seconds instead of printing runtime.MemStats: live heap, objects, bytes
// per object, retained memory, RSS, goroutines, GC cycles and the trend.
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
package heapwatch
