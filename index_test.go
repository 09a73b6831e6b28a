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

type indexEitherVariant struct {
	name string
	fn   func(b []byte, c1, c2 byte) int
}

func TestIndexEither(t *testing.T) {
	for _, v := range indexEitherVariants() {
		t.Log("testing", v.name)
	}
	// The parser's pair, two needles with the same low four bits, a needle
	// from 0x80 up, and a zero byte (the AVX-512 tail zeroes the bytes it
	// does not load).
	for _, pair := range [][2]byte{{'"', '?'}, {'"', 'r'}, {'"', 0xa2}, {0, '"'}} {
		testIndexEither(t, pair[0], pair[1])
	}
}

func testIndexEither(t *testing.T, c1, c2 byte) {
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
				b[rng.IntN(n)] = [2]byte{c1, c2}[rng.IntN(2)]
			}
			// Needles just outside b must not be seen.
			if off > 0 {
				buf[off-1] = c1
			}
			if off+n < len(buf) {
				buf[off+n] = c2
			}
			// A byte from 0x80 up.
			if n > 3 {
				b[rng.IntN(n)] = 0x80 | c1
			}
			want := indexEitherSlow(b, c1, c2)
			for _, v := range indexEitherVariants() {
				if got := v.fn(b, c1, c2); got != want {
					t.Fatalf("%s(%q, %q, %q) = %d, want %d", v.name, b, c1, c2, got, want)
				}
			}
		}
	}
}

func FuzzIndexEither(f *testing.F) {
	f.Add([]byte("GET /a?b HTTP/1.1\""), byte('"'), byte('?'))
	f.Add(bytes.Repeat([]byte("x"), 70), byte('"'), byte('x'))
	f.Fuzz(func(t *testing.T, b []byte, c1, c2 byte) {
		want := indexEitherSlow(b, c1, c2)
		for _, v := range indexEitherVariants() {
			if got := v.fn(b, c1, c2); got != want {
				t.Fatalf("%s = %d, want %d", v.name, got, want)
			}
		}
	})
}
