package ingest

import (
	"bytes"
	"testing"
)

// BenchmarkIndexEither measures the one pass the parser makes over a long
// request target, in each implementation this CPU can run, against
// bytes.IndexByte looking for one byte over the same bytes.
func BenchmarkIndexEither(b *testing.B) {
	line := readFixture(b, "path2k")
	start := bytes.IndexByte(line, '"') + 1
	target := line[start+4:] // past `"GET `
	want := bytes.IndexByte(target, '?')
	for _, v := range indexEitherVariants() {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(want))
			for b.Loop() {
				if v.fn(target, '"', '?') != want {
					b.Fatal("wrong index")
				}
			}
		})
	}
	b.Run("bytes.IndexByte", func(b *testing.B) {
		b.SetBytes(int64(want))
		for b.Loop() {
			if bytes.IndexByte(target, '?') != want {
				b.Fatal("wrong index")
			}
		}
	})
}
