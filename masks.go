package ingest

import "math/bits"

// maskWords is the size of the masks: 64 bytes a word, so lines of up to
// 1 KB (most access lines) are parsed from masks. Longer lines are scanned
// field by field: masks cost them more than they save (a line with a 2 KB
// path measured 35% slower with 4 KB of masks, the bit search crossing its
// empty words; 10% slower with a summary word to skip them).
const (
	maskWords = 16
	maskBytes = 64 * maskWords
)

// lineMasks marks where the quotes, question marks and brackets of one line
// are, for the parser to find the time field and each quoted field's end
// with a bit scan.
//
// The fields of a line are found one after another, each search starting
// where the last ended, so a line whose time field and five quote- or
// '?'-delimited field ends are searched for pays six searches' latency in
// a row: about 30 cycles each on current x86 cores even for a 25-byte field. One
// vector pass (quoteMasks, in masks_*.go), which depends on nothing, marks
// them all at once; each search is then a bit scan.
type lineMasks struct {
	// Bit i%64 of quotes[i/64] is set when byte i of the line is '"', and
	// of queries[i/64] when it is '?'. Words past the line's end are stale.
	quotes, queries [maskWords]uint64
	// brackets marks the '[' bytes, for the time field.
	brackets [maskWords]uint64
}

// nextQuote returns the index of the first '"' at or after from and before
// limit, or -1; limit is at most the line's length.
func (m *lineMasks) nextQuote(from, limit int) int { return nextBit(&m.quotes, from, limit) }

// nextBracket is nextQuote for '['.
func (m *lineMasks) nextBracket(from, limit int) int { return nextBit(&m.brackets, from, limit) }

// nextQuery is nextQuote for '?'.
func (m *lineMasks) nextQuery(from, limit int) int { return nextBit(&m.queries, from, limit) }

func nextBit(mask *[maskWords]uint64, from, limit int) int {
	if from >= limit {
		return -1
	}
	w := from >> 6
	word := mask[w&(maskWords-1)] >> (from & 63)
	for word == 0 {
		if w++; w<<6 >= limit {
			return -1
		}
		word = mask[w&(maskWords-1)]
		from = w << 6
	}
	if i := from + bits.TrailingZeros64(word); i < limit {
		return i
	}
	return -1
}

// quoteMasksGeneric is the definition the vector versions are tested
// against.
func quoteMasksGeneric(s []byte, m *lineMasks) {
	for w := 0; w*64 < len(s); w++ {
		var q, u, k uint64
		for i, c := range s[w*64 : min(len(s), w*64+64)] {
			switch c {
			case '"':
				q |= 1 << i
			case '?':
				u |= 1 << i
			case '[':
				k |= 1 << i
			}
		}
		m.quotes[w], m.queries[w], m.brackets[w] = q, u, k
	}
}
