package forward

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"

	"github.com/flatheap/ingest"
)

// Escaping writes the same bytes as ingest.AppendJSONString, faster for
// what access lines hold: long runs of printable ASCII with a few quotes.
// Bytes are classified 8 at a time (specialBits); the runs between the
// bytes that need a look are copied whole.

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialBits returns x, 8 bytes of a string, with the top bit of each
// byte set when that byte needs a look before it goes into a JSON
// string: a control byte (below 0x20), '"', '\\', or a byte of a
// multi-byte UTF-8 sequence (0x80 and up), which may be invalid or
// U+2028/U+2029. Every other bit is clear. It is exact per byte: no
// carry crosses a byte, as each sum below stays under 0x100.
func specialBits(x uint64) uint64 {
	lo := x &^ msb                         // each byte's low 7 bits
	ge20 := lo + (0x80-0x20)*lsb           // top bit set: lo >= 0x20
	neQuote := (lo ^ '"'*lsb) + 0x7f*lsb   // top bit set: lo != '"'
	neBslash := (lo ^ '\\'*lsb) + 0x7f*lsb // top bit set: lo != '\\'
	return (x | ^(ge20 & neQuote & neBslash)) & msb
}

// packBits gathers the top bit of each byte of m (specialBits' result)
// into the low 8 bits: byte i's bit becomes bit i. The products land on
// distinct bits, so nothing carries into the top byte.
func packBits(m uint64) uint64 { return (m >> 7) * 0x0102040810204080 >> 56 }

func load64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// plainByte[c] reports whether the byte c goes into a JSON string as it
// is: printable ASCII but '"' and '\\', and DEL. It agrees with
// specialBits byte by byte.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// firstSpecial returns the index of the first byte of s that needs a
// look (see specialBits), or len(s).
func firstSpecial(s []byte) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if m := specialBits(load64(s[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	if i == len(s) {
		return i
	}
	if len(s) >= 8 {
		// The last 8 bytes, of which the first 8-(len(s)-i) were seen.
		m := specialBits(load64(s[len(s)-8:])) >> (8 * (8 - (len(s) - i)))
		if m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		return len(s)
	}
	for ; i < len(s); i++ {
		if !plainByte[s[i]] {
			return i
		}
	}
	return i
}

// appendString appends s as the inside of a JSON string, escaped as
// ingest.AppendJSONString escapes it, without the quotes.
func appendString(dst, s []byte) []byte {
	for {
		i := firstSpecial(s)
		dst = append(dst, s[:i]...)
		if i == len(s) {
			return dst
		}
		if c := s[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\', c)
			s = s[i+1:]
			continue
		}
		return appendRest(dst, s[i:])
	}
}

// appendRest appends s, which starts with a control byte or a byte of a
// multi-byte sequence, escaped by ingest.AppendJSONString, without the
// quotes. Such bytes are rare in access lines (nginx and Apache write
// them as \xHH): what follows the first is left to the reference.
func appendRest(dst, s []byte) []byte {
	n := len(dst)
	dst = ingest.AppendJSONString(dst, s)
	copy(dst[n:], dst[n+1:len(dst)-1])
	return dst[:len(dst)-2]
}

// maskWords bounds the lines whose bytes are classified once for the
// whole record: 64 bytes a word, lines of up to 16 KiB. A longer line's
// fields are scanned each on its own.
const maskWords = 256

// lineMask marks the bytes of one line that need a look: bit i%64 of
// w[i/64] is byte i's. A field that is a view into the line is then
// checked with a few bit tests, not scanned again, and the line itself
// (the record's message) is escaped by visiting the set bits only.
type lineMask struct {
	n       int // bytes covered: the line's length; -1 when it is too long
	special int // bytes marked
	w       [maskWords]uint64
}

// build classifies the bytes of line; false when the line is longer than
// the mask.
func (m *lineMask) build(line []byte) bool {
	if len(line) > maskWords*64 {
		m.n = -1
		return false
	}
	m.n = len(line)
	if !m.buildVector(line) {
		m.buildSWAR(line)
	}
	return true
}

// buildSWAR is build 8 bytes at a time in general registers.
func (m *lineMask) buildSWAR(line []byte) {
	special := 0
	full := len(line) >> 6
	for k := range full {
		b := line[k<<6 : k<<6+64 : k<<6+64]
		w := packBits(specialBits(load64(b[0:]))) |
			packBits(specialBits(load64(b[8:])))<<8 |
			packBits(specialBits(load64(b[16:])))<<16 |
			packBits(specialBits(load64(b[24:])))<<24 |
			packBits(specialBits(load64(b[32:])))<<32 |
			packBits(specialBits(load64(b[40:])))<<40 |
			packBits(specialBits(load64(b[48:])))<<48 |
			packBits(specialBits(load64(b[56:])))<<56
		m.w[k&(maskWords-1)] = w
		special += bits.OnesCount64(w)
	}
	rest := line[full<<6:]
	if len(rest) == 0 {
		m.special = special
		return
	}
	var w uint64
	i := 0
	for ; i+8 <= len(rest); i += 8 {
		w |= packBits(specialBits(load64(rest[i:]))) << i
	}
	for ; i < len(rest); i++ {
		if !plainByte[rest[i]] {
			w |= 1 << i
		}
	}
	m.w[full&(maskWords-1)] = w
	m.special = special + bits.OnesCount64(w)
}

// any reports whether a byte of [from, to) is marked; from < to <= m.n.
func (m *lineMask) any(from, to int) bool {
	last := to - 1
	if wf := from >> 6; wf == last>>6 {
		return m.w[wf&(maskWords-1)]&(^uint64(0)<<(from&63))&(^uint64(0)>>(63-last&63)) != 0
	}
	return m.anyWords(from, last)
}

// anyWords is any for a range over more than one word.
func (m *lineMask) anyWords(from, last int) bool {
	wf, wl := from>>6, last>>6
	lo := ^uint64(0) << (from & 63)
	hi := ^uint64(0) >> (63 - last&63)
	if m.w[wf&(maskWords-1)]&lo != 0 || m.w[wl&(maskWords-1)]&hi != 0 {
		return true
	}
	for k := wf + 1; k < wl; k++ {
		if m.w[k&(maskWords-1)] != 0 {
			return true
		}
	}
	return false
}

// next returns the first marked byte at or after from and before to, or
// to.
func (m *lineMask) next(from, to int) int {
	if from >= to {
		return to
	}
	k := from >> 6
	word := m.w[k&(maskWords-1)] >> (from & 63)
	for word == 0 {
		k++
		if k<<6 >= to {
			return to
		}
		word = m.w[k&(maskWords-1)]
		from = k << 6
	}
	return min(from+bits.TrailingZeros64(word), to)
}

// appendEscaped appends line[from:to] as the inside of a JSON string, as
// appendString would, visiting only the bytes the mask marks.
func (m *lineMask) appendEscaped(dst, line []byte, from, to int) []byte {
	line = line[:to]
	start := from
	for i := m.next(from, to); i < to; i = m.next(i, to) {
		dst = append(dst, line[start:i]...)
		if c := line[i]; c != '"' && c != '\\' {
			return appendRest(dst, line[i:to])
		}
		// The quotes of a combined line's message: the usual case.
		dst = append(dst, '\\', line[i])
		i++
		start = i
	}
	return append(dst, line[start:to]...)
}
