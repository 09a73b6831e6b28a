package forward

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/flatheap/ingest"
)

// TestSpecialBits: every byte value, at every position of a word, is
// marked exactly when it is not plain, and marks nothing else.
func TestSpecialBits(t *testing.T) {
	for c := range 256 {
		for pos := range 8 {
			for _, fill := range []byte{'a', '"', 0xff, 0} {
				var b [8]byte
				for i := range b {
					b[i] = fill
				}
				b[pos] = byte(c)
				m := specialBits(load64(b[:]))
				for i := range 8 {
					got := m>>(8*i+7)&1 == 1
					if want := !plainByte[b[i]]; got != want {
						t.Fatalf("byte %#x at %d among %#x: byte %d marked %v, want %v", c, pos, fill, i, got, want)
					}
				}
				if m&^msb != 0 {
					t.Fatalf("bits outside the top bits: %#x", m)
				}
			}
		}
	}
}

// randomLine returns n bytes drawn from what access lines hold, and what
// they should not: printable ASCII, quotes, backslashes, control bytes,
// valid UTF-8 (U+2028 included), bytes of broken UTF-8.
func randomLine(rng *rand.Rand, n int) []byte {
	b := make([]byte, 0, n+4)
	for len(b) < n {
		switch k := rng.IntN(20); {
		case k < 12:
			b = append(b, byte(0x20+rng.IntN(0x5f)))
		case k == 12:
			b = append(b, '"')
		case k == 13:
			b = append(b, '\\')
		case k == 14:
			b = append(b, byte(rng.IntN(0x20)))
		case k == 15:
			b = utf8.AppendRune(b, []rune{'é', '€', '😀', '\u2028', '\u2029', 0x7f}[rng.IntN(6)])
		default:
			b = append(b, byte(0x80+rng.IntN(0x80)))
		}
	}
	return b[:n]
}

// TestLineMask: the vector and the 8-bytes-at-a-time classification agree
// with the byte-by-byte rule, and any, next and appendEscaped agree with
// it and with ingest.AppendJSONString on random ranges.
func TestLineMask(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lengths := []int{0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 95, 96, 127, 128, 129, 250, 1000, maskWords*64 - 1, maskWords * 64}
	for range 300 {
		lengths = append(lengths, rng.IntN(700))
	}
	var m, swar lineMask
	for _, n := range lengths {
		// Mostly plain lines, and lines dense with special bytes.
		line := randomLine(rng, n)
		if rng.IntN(2) == 0 {
			for i := range line {
				if rng.IntN(8) != 0 {
					line[i] = 'a' + byte(i%26)
				}
			}
		}
		// Stale bits from a longer line must not matter.
		m.build(bytes.Repeat([]byte{'"'}, maskWords*64))
		swar.buildSWAR(bytes.Repeat([]byte{0}, maskWords*64))
		if !m.build(line) {
			t.Fatalf("build refused %d bytes", n)
		}
		swar.n = len(line)
		swar.buildSWAR(line)
		special := 0
		for i, c := range line {
			want := !plainByte[c]
			if want {
				special++
			}
			for _, mm := range []*lineMask{&m, &swar} {
				if got := mm.w[i/64]>>(i%64)&1 == 1; got != want {
					t.Fatalf("len %d: byte %d (%#x) marked %v, want %v", n, i, c, got, want)
				}
			}
		}
		ensure(t, m.special == special && swar.special == special, "len %d: special %d and %d, want %d", n, m.special, swar.special, special)
		for range 20 {
			if n == 0 {
				break
			}
			from := rng.IntN(n)
			to := from + 1 + rng.IntN(n-from)
			want := firstSpecial(line[from:to]) < to-from
			ensure(t, m.any(from, to) == want, "len %d: any(%d, %d) = %v", n, from, to, !want)
			next := m.next(from, to)
			ensure(t, next == from+firstSpecial(line[from:to]), "len %d: next(%d, %d) = %d", n, from, to, next)
			ref := ingest.AppendJSONString(nil, line[from:to])
			dst := make([]byte, 1, 1+6*(to-from)+keySlack)
			dst[0] = '"'
			got := append(m.appendEscaped(dst, line, from, to), '"')
			ensure(t, bytes.Equal(got, ref), "len %d: appendEscaped [%d, %d)\n got %q\nwant %q", n, from, to, got, ref)
			got = append(appendString([]byte{'"'}, line[from:to]), '"')
			ensure(t, bytes.Equal(got, ref), "appendString [%d, %d)\n got %q\nwant %q", from, to, got, ref)
		}
	}
	ensure(t, !m.build(make([]byte, maskWords*64+1)), "build took a line longer than the mask")
}
