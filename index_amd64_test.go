package ingest

import (
	"testing"
	"time"
)

// indexEitherVariants lists indexEither and every implementation this CPU
// can run, so that each is tested whichever one indexEither picks.
func indexEitherVariants() []indexEitherVariant {
	vs := []indexEitherVariant{{"indexEither", indexEither}, {"indexEitherGeneric", indexEitherGeneric}}
	if hasAVX2 {
		vs = append(vs, indexEitherVariant{"indexEitherAVX2", indexEitherAVX2})
	}
	if hasAVX512 {
		vs = append(vs, indexEitherVariant{"indexEitherAVX512", indexEitherAVX512})
	}
	return vs
}

// BenchmarkParseAVX512 measures what the AVX-512 search is worth to Parse on
// this machine: it parses the same line in chunks of 20,000, alternating
// the AVX-512 and the AVX2 search from chunk to chunk, and reports both
// per-line times and their ratio. Alternating within one process cancels
// the drift in machine speed that separate runs (or GODEBUG=cpu.avx512bw=off
// in a second process) would measure along with the code.
func BenchmarkParseAVX512(b *testing.B) {
	if !hasAVX512 {
		b.Skip("no AVX-512 on this CPU")
	}
	defer func() { hasAVX512 = true }()
	for _, name := range []string{"short", "path2k", "rfc3164-path2k"} {
		line := readFixture(b, name)
		b.Run(name, func(b *testing.B) {
			const chunk = 20000
			var p Parser
			var r Request
			var spent [2]time.Duration // [AVX2, AVX-512]
			var lines [2]int
			for i := 0; b.Loop(); i++ {
				side := i % 2
				hasAVX512 = side == 1
				start := time.Now()
				for range chunk {
					if err := p.Parse(&r, line); err != nil || r.Status != 200 {
						b.Fatalf("parse: err=%v status=%d", err, r.Status)
					}
				}
				spent[side] += time.Since(start)
				lines[side] += chunk
			}
			hasAVX512 = true
			if lines[0] == 0 || lines[1] == 0 {
				return // b.Loop's first, single iteration
			}
			avx2 := float64(spent[0].Nanoseconds()) / float64(lines[0])
			avx512 := float64(spent[1].Nanoseconds()) / float64(lines[1])
			b.ReportMetric(avx2, "avx2-ns/line")
			b.ReportMetric(avx512, "avx512-ns/line")
			b.ReportMetric(avx512/avx2, "avx512/avx2")
		})
	}
}
