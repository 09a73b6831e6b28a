package ingest

import (
	"math/rand/v2"
	"slices"
	"testing"
)

type quoteMasksVariant struct {
	name   string
	fn     func(s []byte, m *lineMasks)
	minLen int // the shortest s it takes
}

// randomLine returns n bytes, mostly letters, with quotes, question marks
// and brackets at random spots and bytes from 0x80 up.
func randomLine(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		switch k := rng.IntN(20); {
		case k == 0:
			b[i] = '"'
		case k == 1:
			b[i] = '?'
		case k == 2:
			b[i] = 0x80 | '"'
		case k == 3:
			b[i] = '['
		default:
			b[i] = 'a' + byte(rng.IntN(26))
		}
	}
	return b
}

func TestQuoteMasks(t *testing.T) {
	variants := quoteMasksVariants()
	if len(variants) == 0 {
		t.Skip("no vector version on this CPU")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 0; n <= maskBytes; n++ {
		for range 3 {
			buf := randomLine(rng, n+8)
			b := buf[4 : n+4] // unaligned, with bytes either side
			buf[n+4] = '"'    // a quote or query just past the end
			buf[3] = '?'      // or just before must not count
			var want lineMasks
			quoteMasksGeneric(b, &want)
			words := (n + 63) / 64
			for _, v := range variants {
				if n < v.minLen {
					continue
				}
				var got lineMasks
				v.fn(b, &got)
				for _, pair := range [][2]*[maskWords]uint64{{&got.quotes, &want.quotes}, {&got.queries, &want.queries}, {&got.brackets, &want.brackets}} {
					if !slices.Equal(pair[0][:words], pair[1][:words]) {
						t.Fatalf("%s over %d bytes:\ngot  %x\nwant %x", v.name, n, pair[0][:words], pair[1][:words])
					}
				}
			}
		}
	}
}

// TestNextBit compares nextBit with a walk over the bytes the masks mark.
func TestNextBit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		n := rng.IntN(maskBytes + 1)
		b := randomLine(rng, n)
		if rng.IntN(4) == 0 { // long runs of no quote
			for i := range b {
				if rng.IntN(200) != 0 {
					b[i] = 'x'
				}
			}
		}
		var m lineMasks
		for i := range m.quotes { // stale words from a longer line
			m.quotes[i] = ^uint64(0)
		}
		quoteMasksGeneric(b, &m)
		for range 50 {
			from, limit := rng.IntN(n+2), rng.IntN(n+1)
			want := -1
			for i := from; i < limit; i++ {
				if b[i] == '"' {
					want = i
					break
				}
			}
			if got := m.nextQuote(from, limit); got != want {
				t.Fatalf("nextQuote(%d, %d) over %d bytes = %d, want %d", from, limit, n, got, want)
			}
		}
	}
}

// BenchmarkParseMasks measures what the quote masks are worth to Parse:
// the same Parser with and without them, alternating in one process
// (benchAlternating). path2k is longer than maskBytes: both sides scan,
// and the ratio shows what deciding that costs.
func BenchmarkParseMasks(b *testing.B) {
	if len(quoteMasksVariants()) == 0 {
		b.Skip("no vector quoteMasks on this CPU")
	}
	combined, err := CompileNginx(nginxCombined)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, fixture string
		format        *Format
	}{
		{"short", "short", nil},
		{"path2k", "path2k", nil},
		{"rfc3164", "rfc3164", nil},
		{"compiled-combined-short", "short", combined},
	} {
		line := readFixture(b, c.fixture)
		b.Run(c.name, func(b *testing.B) {
			benchAlternating(b, &Parser{Format: c.format}, line, func(p *Parser, on bool) { p.noMasks = !on }, "scan", "masks")
		})
	}
}
