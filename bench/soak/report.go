package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flatheap/ingest/heapwatch"
)

// soakColumn is one column of the progress table: a header and a width
// that the widest value it is expected to hold fits in. The first two
// columns are left-aligned, the numbers right-aligned.
type soakColumn struct {
	name  string
	width int
}

var soakColumns = []soakColumn{
	{"time", 6}, {"receiver", 8}, {"lines", 11}, {"keys", 9}, {"live heap", 11}, {"objects", 10},
	{"bytes/object", 12}, {"retained", 11}, {"RSS", 11}, {"goroutines", 10}, {"GCs", 6},
}

// printHeapColumns follow soakColumns with --printheap: the figures of
// runtime.MemStats a MemStats-based heap monitor prints.
var printHeapColumns = []soakColumn{{"Mallocs", 12}, {"Frees", 12}, {"HeapObjects", 11}}

func (s *soaker) columns() []soakColumn {
	if s.printHeap {
		return append(slices.Clip(soakColumns), printHeapColumns...)
	}
	return soakColumns
}

// writeSoakRow writes cells under cols, separated by two spaces, so that
// the columns line up in every table of a run; a value wider than its
// column pushes the rest of its row to the right, never the next rows.
func writeSoakRow(w io.Writer, cols []soakColumn, cells []string) {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString("  ")
		}
		pad := strings.Repeat(" ", max(cols[i].width-len(c), 0))
		if i < 2 {
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(pad)
			}
		} else {
			b.WriteString(pad)
			b.WriteString(c)
		}
	}
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}

func (s *soaker) printTableHeader() {
	cols := s.columns()
	cells := make([]string, len(cols))
	for i, c := range cols {
		cells[i] = c.name
	}
	writeSoakRow(s.stdout, cols, cells)
}

func (s *soaker) printTable() {
	cols := s.columns()
	for _, run := range s.runs {
		if len(run.rows) == 0 || run.stopped != "" {
			continue
		}
		row := run.rows[len(run.rows)-1]
		sm := row.sample
		cells := []string{
			row.elapsed.Round(time.Second).String(), run.name,
			strconv.FormatInt(row.lines, 10), strconv.FormatInt(row.keys, 10), mib(sm.LiveBytes),
			strconv.FormatUint(sm.Objects, 10), strconv.FormatFloat(sm.BytesPerObject(), 'f', 0, 64),
			mib(sm.Retained()), rssText(sm), strconv.FormatUint(sm.Goroutines, 10), strconv.FormatUint(sm.GCCycles, 10),
		}
		if s.printHeap {
			ph := row.printHeap
			cells = append(cells, strconv.FormatUint(ph.Mallocs, 10), strconv.FormatUint(ph.Frees, 10),
				strconv.FormatUint(ph.HeapObjects, 10))
		}
		writeSoakRow(s.stdout, cols, cells)
	}
}

// undecided returns why the verdict that decides the exit status is still
// unknown, or "" when it is decided: the ingest receiver's when it runs,
// else any receiver's.
func (s *soaker) undecided() string {
	sawIngest := slices.ContainsFunc(s.runs, func(r *soakRun) bool { return r.name == "ingest" })
	for _, run := range s.runs {
		if run.stopped != "" || (sawIngest && run.name != "ingest") {
			continue
		}
		if rep := s.report(run); rep.Growth == heapwatch.Unknown {
			return run.name + ": " + rep.String()
		}
	}
	return ""
}

// verdicts prints each receiver's verdict and returns the exit status: the
// ingest receiver's when it ran (0 passed, 1 failed, 3 undecided), else 1
// when any receiver failed, else 3 when any is undecided.
func (s *soaker) verdicts() int {
	fmt.Fprintln(s.stdout, "\nverdicts (trends over the samples after the warm-up, or over all of a receiver's samples when it was stopped):")
	sawIngest, ingestStatus := false, 0
	var failed, undecided []string
	for _, run := range s.runs {
		rep := s.report(run)
		line := rep.String()
		pass := s.passes(rep)
		if rep.Growth == heapwatch.Filling {
			if pass {
				line += fmt.Sprintf(" (under --max-memory %s)", mib(s.maxMemory))
			} else {
				line += fmt.Sprintf(" (not under --max-memory %s)", mib(s.maxMemory))
			}
		}
		if run.stopped != "" {
			line += "; " + run.stopped
		}
		fmt.Fprintf(s.stdout, "  %-7s %s\n", run.name+":", line)
		var status int
		switch {
		case run.stopped != "":
			status = 1
		case rep.Growth == heapwatch.Unknown:
			status = 3 // undecided, which is not growth
		case !pass:
			status = 1
		}
		if run.name == "ingest" {
			sawIngest, ingestStatus = true, status
		}
		switch status {
		case 1:
			failed = append(failed, run.name)
		case 3:
			undecided = append(undecided, run.name)
		}
	}
	switch {
	case sawIngest && ingestStatus == 1:
		fmt.Fprintln(s.stdout, "ingest is neither flat nor filling its declared budgets within --max-memory")
		return 1
	case sawIngest && ingestStatus == 3:
		fmt.Fprintf(s.stdout, "ingest's verdict is undecided after %v of load past --duration (--extend %v)\n", s.extended, s.extend)
		return 3
	case sawIngest:
		return 0
	case len(failed) > 0:
		fmt.Fprintf(s.stdout, "neither flat nor filling declared budgets within --max-memory: %s\n", strings.Join(failed, ", "))
		return 1
	case len(undecided) > 0:
		fmt.Fprintf(s.stdout, "undecided after %v of load past --duration (--extend %v): %s\n", s.extended, s.extend, strings.Join(undecided, ", "))
		return 3
	}
	return 0
}

// passes reports whether rep is a receiver's heap that soak accepts: flat,
// or growing only inside its declared budgets with a projected live-heap
// ceiling under --max-memory.
func (s *soaker) passes(rep heapwatch.Report) bool {
	switch rep.Growth {
	case heapwatch.Flat:
		return true
	case heapwatch.Filling:
		return rep.Ceiling > 0 && rep.Ceiling < float64(s.maxMemory)
	}
	return false
}

// report analyses a run's samples after the warm-up; or all of them when
// the run was stopped early, perhaps before the warm-up ended. Once the
// load went on past --duration, it analyses the newest (--duration minus
// --warmup) of them: a window as long as the one first judged, which
// slides past a step that left it undecided. The children's warm-up is
// the soak's: the samples judged are all past it.
func (s *soaker) report(run *soakRun) heapwatch.Report {
	var samples []heapwatch.Sample
	for _, row := range run.rows {
		if row.elapsed >= s.warmup || run.stopped != "" {
			samples = append(samples, row.sample)
		}
	}
	opt := heapwatch.AnalyzeOptions{Window: -1, WarmUp: s.warmup}
	if s.extended > 0 && run.stopped == "" {
		opt.Window = s.duration - s.warmup
	}
	if opt.WarmUp <= 0 || run.stopped != "" {
		opt.WarmUp = -1 // no warm-up left to wait for
	}
	return heapwatch.Analyze(samples, opt)
}

func (s *soaker) writeCSV(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"seconds", "receiver", "lines", "keys", "live_bytes", "objects", "bytes_per_object",
		"heap_objects_bytes", "heap_unused_bytes", "heap_free_bytes", "heap_released_bytes",
		"total_bytes", "retained_bytes", "rss_bytes", "goroutines", "gc_cycles",
		"memstats_mallocs", "memstats_frees", "memstats_heap_objects", "tracked_bytes", "budgets"})
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	for _, run := range s.runs {
		for _, row := range run.rows {
			sm := row.sample
			rss := ""
			if sm.RSSKnown {
				rss = u(sm.RSS)
			}
			w.Write([]string{
				strconv.FormatFloat(row.elapsed.Seconds(), 'f', 3, 64), run.name,
				strconv.FormatInt(row.lines, 10), strconv.FormatInt(row.keys, 10),
				u(sm.LiveBytes), u(sm.Objects), strconv.FormatFloat(sm.BytesPerObject(), 'f', 1, 64),
				u(sm.HeapObjects), u(sm.HeapUnused), u(sm.HeapFree), u(sm.HeapReleased),
				u(sm.Total), u(sm.Retained()), rss, u(sm.Goroutines), u(sm.GCCycles),
				u(row.printHeap.Mallocs), u(row.printHeap.Frees), u(row.printHeap.HeapObjects),
				strconv.FormatInt(trackedBytes(sm), 10), budgetsText(sm),
			})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// trackedBytes is the sum of the bytes the budgets of sm report.
func trackedBytes(sm heapwatch.Sample) int64 {
	var n int64
	for _, b := range sm.Budgets {
		n += max(b.Bytes, 0)
	}
	return n
}

// budgetsText lists the budgets of sm as name=bytes/limit_bytes:entries/limit_entries,
// separated by spaces.
func budgetsText(sm heapwatch.Sample) string {
	var b strings.Builder
	for i, x := range sm.Budgets {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d/%d:%d/%d", x.Name, x.Bytes, x.LimitBytes, x.Entries, x.LimitEntries)
	}
	return b.String()
}

func mib(v uint64) string { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }

func rssText(s heapwatch.Sample) string {
	if !s.RSSKnown {
		return "n/a"
	}
	return mib(s.RSS)
}
