//go:build amd64 && !purego

package ingest

import "testing"

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

// BenchmarkParseAVX512 measures what the AVX-512 versions of the request
// search and the quote masks are worth to Parse on this machine, against
// the AVX2 ones, alternating the two in one process (benchAlternating).
func BenchmarkParseAVX512(b *testing.B) {
	if !hasAVX512 {
		b.Skip("no AVX-512 on this CPU")
	}
	defer func() { hasAVX512 = true }()
	for _, name := range []string{"short", "path2k", "rfc3164-path2k"} {
		line := readFixture(b, name)
		b.Run(name, func(b *testing.B) {
			benchAlternating(b, new(Parser), line, func(_ *Parser, on bool) { hasAVX512 = on }, "avx2", "avx512")
		})
	}
}
