package heapwatch

import (
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
	}{{"minute", 60, time.Minute}, {"hour", 3600, time.Hour}} {
		b.Run(c.name, func(b *testing.B) {
			p := flatProc(1)
			p.seconds = c.seconds
			p.live = linear(20*mib, 10*kib)
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
