package tail

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// processCPU returns the CPU time the process has used: the sum of its
// threads' run times from /proc/self/task/*/schedstat (nanoseconds), and
// utime+stime from /proc/self/stat (clock ticks, usually 10ms).
func processCPU(tb testing.TB) (sched time.Duration, ticks int64) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		tb.Fatal(err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/schedstat")
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			sched += time.Duration(ns)
		}
	}
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return sched, utime + stime
}

// BenchmarkIdle100Files measures the CPU a Tailer costs while 100 files it
// follows are idle: one op is one second of idling, so -benchtime 60x
// idles for a minute. cpu-% is the process's CPU time (all threads, from
// /proc/self/task/*/schedstat) over the wall time, in percent of one core;
// tick-cpu-% is the same from /proc/self/stat at clock-tick resolution.
// "poll" is the same Tailer polling every 250ms, for comparison.
func BenchmarkIdle100Files(b *testing.B) {
	for _, poll := range []bool{false, true} {
		name := "inotify"
		if poll {
			name = "poll"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			for i := range 100 {
				if err := os.WriteFile(filepath.Join(dir, "site"+strconv.Itoa(i)+".access.log"), []byte(accessLine(i)), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			c := newCollector()
			r := start(b, Config{Paths: []string{filepath.Join(dir, "*.access.log")}, Handler: c, Poll: poll,
				StateDir: b.TempDir()})
			waitFor(b, "100 files", func() bool { return r.Stats().Files == 100 })
			time.Sleep(2 * time.Second) // past the first checkpoint
			if st := r.Stats(); st.Inotify == poll {
				b.Fatalf("inotify %v, want %v", st.Inotify, !poll)
			}
			sched0, ticks0 := processCPU(b)
			start := time.Now()
			for b.Loop() {
				time.Sleep(time.Second)
			}
			wall := time.Since(start)
			sched1, ticks1 := processCPU(b)
			b.ReportMetric(100*float64(sched1-sched0)/float64(wall), "cpu-%")
			b.ReportMetric(100*float64(ticks1-ticks0)*10e6/float64(wall), "tick-cpu-%")
			if c.count() != 0 {
				b.Fatalf("%d lines handed over from idle files", c.count())
			}
		})
	}
}
