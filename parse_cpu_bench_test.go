//go:build unix

package ingest

import "testing"

// BenchmarkParseCPU runs BenchmarkParse's four A/B cases (short, path2k and
// the compiled combined format on both) and reports the process CPU time
// per op (cpu-ns/op) beside the wall time. On a shared machine a benchmark
// descheduled for a while has its wall time inflated but not its CPU time,
// so interleaved A/B runs compare both (bench/results/parse-2-ab-*).
func BenchmarkParseCPU(b *testing.B) {
	for _, c := range []struct{ name, fixture, format string }{
		{"short", "short", ""}, {"path2k", "path2k", ""},
		{"cc-short", "short", nginxCombined}, {"cc-path2k", "path2k", nginxCombined},
	} {
		line := readFixture(b, c.fixture)
		var p Parser
		if c.format != "" {
			p.Format = mustNginx(b, c.format)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			var r Request
			start := cpuTime(b)
			for b.Loop() {
				if err := p.Parse(&r, line); err != nil || r.Status != 200 {
					b.Fatalf("parse: err=%v status=%d", err, r.Status)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
