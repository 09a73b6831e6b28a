package ingest

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// indexEitherSlow is the obvious definition the fast versions must match.
func indexEitherSlow(b []byte, c1, c2 byte) int {
	for i, c := range b {
		if c == c1 || c == c2 {
			return i
		}
	}
	return -1
}

func TestIndexEither(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300)
	for n := 0; n <= 260; n++ {
		for trial := 0; trial < 40; trial++ {
			for i := range buf {
				buf[i] = 'a' + byte(rng.IntN(20))
			}
			off := rng.IntN(8) // unaligned starts
			b := buf[off : off+n]
			// Place zero, one or two needles at random spots.
			for k := rng.IntN(3); k > 0 && n > 0; k-- {
				b[rng.IntN(n)] = "\"?"[rng.IntN(2)]
			}
			// Needles just outside b must not be seen.
			if off > 0 {
				buf[off-1] = '"'
			}
			if off+n < len(buf) {
				buf[off+n] = '?'
			}
			want := indexEitherSlow(b, '"', '?')
			if got := indexEither(b, '"', '?'); got != want {
				t.Fatalf("indexEither(%q) = %d, want %d", b, got, want)
			}
			if got := indexEitherGeneric(b, '"', '?'); got != want {
				t.Fatalf("indexEitherGeneric(%q) = %d, want %d", b, got, want)
			}
		}
	}
}

func FuzzIndexEither(f *testing.F) {
	f.Add([]byte("GET /a?b HTTP/1.1\""), byte('"'), byte('?'))
	f.Add(bytes.Repeat([]byte("x"), 70), byte('"'), byte('x'))
	f.Fuzz(func(t *testing.T, b []byte, c1, c2 byte) {
		want := indexEitherSlow(b, c1, c2)
		if got := indexEither(b, c1, c2); got != want {
			t.Fatalf("indexEither = %d, want %d", got, want)
		}
		if got := indexEitherGeneric(b, c1, c2); got != want {
			t.Fatalf("indexEitherGeneric = %d, want %d", got, want)
		}
	})
}
