package heapwatch

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkAnalyze measures one analysis as a Monitor runs it every
// Interval: a minute of samples, and an hour fitted to the default MaxPoints.
func BenchmarkAnalyze(b *testing.B) {
	for _, c := range []struct {
		name    string
		seconds int
		window  time.Duration
		budgets int
	}{{"minute", 60, time.Minute, 0}, {"hour", 3600, time.Hour, 0},
		{"minute-4-budgets", 60, time.Minute, 4}, {"minute-max-budgets", 60, time.Minute, MaxBudgets}} {
		b.Run(c.name, func(b *testing.B) {
			p := flatProc(1)
			p.seconds = c.seconds
			p.live = linear(20*mib, 10*kib)
			for k := range c.budgets {
				p.budgets = append(p.budgets, synthBudget{name: "budget-" + strconv.Itoa(k), usage: func(t float64) Usage {
					return Usage{Bytes: int64(1000 * t), LimitBytes: 1 << 20, Entries: int64(t), LimitEntries: 1000}
				}})
			}
			s := p.samples()
			b.ReportAllocs()
			for b.Loop() {
				r := Analyze(s, AnalyzeOptions{Window: c.window})
				if r.Samples != len(s) {
					b.Fatalf("analyzed %d samples, want %d", r.Samples, len(s))
				}
			}
		})
	}
}

func BenchmarkRead(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkSample = Read()
	}
}
