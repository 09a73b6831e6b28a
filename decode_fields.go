package ingest

import (
	"bytes"
	"encoding/binary"
	"math"

	"github.com/flatheap/ingest/internal/decimal"
)

// This file holds the decoders of an access line's fields that both kinds
// of format share: the remote address, the status, quoted fields, the
// request line and its parts, and body sizes. Times are in decode_time.go.

// validAddrField reports whether a remote address field is one value or an
// address list ("203.0.113.7, 10.0.0.1"): a space is allowed only after a
// comma. Anything else (a syslog header that was not recognised, two
// fields run together) would be a silently wrong address. A field of 8 to
// 16 bytes, as most addresses are, is checked with two word loads.
func validAddrField(b []byte) bool {
	if n := len(b); n >= 8 && n <= 16 {
		le := binary.LittleEndian
		if !hasSpace8(le.Uint64(b)) && !hasSpace8(le.Uint64(b[n-8:])) {
			return true
		}
	}
	i := bytes.IndexByte(b, ' ')
	return i < 0 || addrList(b, i)
}

// hasSpace8 reports whether one of the 8 bytes of x is a space.
func hasSpace8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	y := x ^ (ones * ' ')
	return (y-ones)&^y&highs != 0
}

// addrList is validAddrField past the first space, at i.
func addrList(b []byte, i int) bool {
	for {
		if i == 0 || b[i-1] != ',' {
			return false
		}
		k := bytes.IndexByte(b[i+1:], ' ')
		if k < 0 {
			return true
		}
		i += 1 + k
	}
}

// status3 decodes a three-digit status.
func status3(a, b, c byte) (int, bool) {
	a, b, c = a-'0', b-'0', c-'0'
	if a > 9 || b > 9 || c > 9 {
		return 0, false
	}
	return int(a)*100 + int(b)*10 + int(c), true
}

// closingQuote returns the index of the first '"' at or after from that is
// not escaped by an odd number of backslashes, or -1. start is where the
// quoted field begins: backslashes before it do not count. (Apache writes \"
// and \\; nginx writes \x22 and never a bare quote.)
func closingQuote(s []byte, start, from int) int {
	for {
		k := bytes.IndexByte(s[from:], '"')
		if k < 0 {
			return -1
		}
		i := from + k
		if i == start || s[i-1] != '\\' || !escaped(s, start, i) {
			return i
		}
		from = i + 1
	}
}

// maskedClosingQuote is closingQuote(s, start, start), read from m, the
// masks of s, when m is not nil: the first quote is the answer unless a
// backslash precedes it.
func maskedClosingQuote(m *lineMasks, s []byte, start int) int {
	if m != nil {
		i := m.nextQuote(start, len(s))
		if i < 0 || i == start || s[i-1] != '\\' {
			return i
		}
	}
	return closingQuote(s, start, start)
}

// escaped reports whether s[i] is preceded by an odd number of backslashes
// at or after start.
func escaped(s []byte, start, i int) bool {
	bs := 0
	for j := i - 1; j >= start && s[j] == '\\'; j-- {
		bs++
	}
	return bs%2 == 1
}

// requestEnd looks for the end of the request field that starts at
// s[start], from s[from] on. Some servers and proxies log a request with a
// bare '"' inside it, so a quote is taken as the end only when a space and a
// digit (the status) follow it: that is accepted. first is the first
// unescaped quote, the end to fall back on when no quote has that shape (the
// status check then reports the error). Both are -1 when there is none.
func requestEnd(s []byte, start, from int) (accepted, first int) {
	first = -1
	for i := closingQuote(s, start, from); i >= 0; i = closingQuote(s, start, i+1) {
		if first < 0 {
			first = i
		}
		if endsRequest(s, i) {
			return i, first
		}
	}
	return -1, first
}

// endsRequest reports whether the quote at s[i] has a space and a digit
// (the status) after it.
func endsRequest(s []byte, i int) bool {
	return i+2 < len(s) && s[i+1] == ' ' && s[i+2] >= '0' && s[i+2] <= '9'
}

// scanRequest finds the end of the request field that starts at s[pos],
// sets RequestLine and, for an HTTP request line, splits it on its first and
// last space into Method, target and Protocol, and the target into Path and
// Query. It returns the index of the closing quote, or -1.
//
// The query and the closing quote are found in one pass (indexEither), so a
// 2 KB path is read once, not once for each.
func scanRequest(r *Request, s []byte, pos int) int {
	m := methodEnd(s[pos:])
	if m == 0 || pos+m >= len(s) || s[pos+m] != ' ' {
		// Not an HTTP request line: "", "-", TLS bytes, junk.
		end, first := requestEnd(s, pos, pos)
		if end < 0 {
			end = first
		}
		if end >= 0 {
			r.RequestLine = dashless(view(s, pos, end))
		}
		return end
	}
	ts := pos + m + 1 // the target starts after the method and a space
	query, end, first := -1, -1, -1
	for from := ts; ; {
		k := indexEither(s[from:], '"', '?')
		if k < 0 {
			break
		}
		i := from + k
		if s[i] == '?' {
			query = i
			var f2 int
			end, f2 = requestEnd(s, pos, i+1)
			if first < 0 {
				first = f2
			}
			break
		}
		if escaped(s, pos, i) {
			from = i + 1
			continue
		}
		if first < 0 {
			first = i
		}
		if endsRequest(s, i) {
			end = i
			break
		}
		from = i + 1
	}
	if end < 0 {
		end = first
	}
	if end < 0 {
		return -1
	}
	setRequest(r, s, pos, m, end, query)
	return end
}

// maskedScanRequest is scanRequest(r, s, pos), read from masks, the masks
// of s, when they are not nil: when the field's first quote has no
// backslash before it and a status after it, that quote ends the field, and
// the query is the first '?' before it. Any other field is left to
// scanRequest.
func maskedScanRequest(masks *lineMasks, r *Request, s []byte, pos int) int {
	if masks == nil {
		return scanRequest(r, s, pos)
	}
	end := masks.nextQuote(pos, len(s))
	if end < 0 || (end > pos && s[end-1] == '\\') || !endsRequest(s, end) {
		return scanRequest(r, s, pos)
	}
	m := methodEnd(s[pos:])
	if m == 0 || pos+m >= len(s) || s[pos+m] != ' ' {
		r.RequestLine = dashless(view(s, pos, end))
		return end
	}
	setRequest(r, s, pos, m, end, masks.nextQuery(pos+m+1, end))
	return end
}

// splitRequest sets RequestLine and, for an HTTP request line, its parts,
// from the request field s[pos:end] whose end is already known.
func splitRequest(r *Request, s []byte, pos, end int) {
	m := methodEnd(s[pos:end])
	if m == 0 || pos+m >= end || s[pos+m] != ' ' {
		r.RequestLine = dashless(view(s, pos, end))
		return
	}
	query := bytes.IndexByte(s[pos+m+1:end], '?')
	if query >= 0 {
		query += pos + m + 1
	}
	setRequest(r, s, pos, m, end, query)
}

// setRequest splits the HTTP request line s[pos:end], whose method is
// s[pos:pos+m] and whose first '?' after the method is at query (or -1),
// into Method, Path, Query and Protocol, on its first and last space.
func setRequest(r *Request, s []byte, pos, m, end, query int) {
	ts := pos + m + 1 // the target starts after the method and a space
	r.RequestLine = view(s, pos, end)
	r.Method = view(s, pos, pos+m)
	te := end // target end
	if end-ts > versionLen && s[end-versionLen-1] == ' ' && isHTTPDigitVersion(s[end-versionLen:end]) {
		// The common "... HTTP/1.1": its space is the last one, found
		// without scanning back through the target.
		te = end - versionLen - 1
		r.Protocol = view(s, te+1, end)
	} else if lp := bytes.LastIndexByte(s[ts:end], ' '); lp >= 0 && isHTTPVersion(s[ts+lp+1:end]) {
		r.Protocol = view(s, ts+lp+1, end)
		te = ts + lp
	}
	if query >= 0 && query < te {
		r.Query = view(s, query+1, te)
		te = query
	}
	r.Path = view(s, ts+uriPathStart(s[ts:te]), te)
}

// parseByteCount decodes a body size: decimal digits, or "-" for none.
// Negative and overflowing values are rejected.
func parseByteCount(b []byte) (int64, bool) {
	n, ok := decimal.Int64(b) // 0 and false for "-"
	return n, ok || len(b) == 1 && b[0] == '-'
}

// byteCountToken decodes the body size at the start of b, a token that ends
// at the first space or at the end of b, in one pass: it returns the size
// and the token's length. The token must be decimal digits, or "-" for
// none; negative and overflowing values are rejected (ok false), as by
// parseByteCount.
func byteCountToken(b []byte) (n int64, length int, ok bool) {
	v, i := decimal.Digits(b, 0) // v wraps past MaxDigits digits, which are rejected below
	switch {
	case i < len(b) && b[i] != ' ':
		if i == 0 && b[0] == '-' && (len(b) == 1 || b[1] == ' ') {
			return 0, 1, true
		}
		return 0, 0, false
	case i == 0 || i > decimal.MaxDigits || v > math.MaxInt64:
		return 0, 0, false
	}
	return int64(v), i, true
}

// isHTTPVersion reports whether b starts with "HTTP/".
func isHTTPVersion(b []byte) bool {
	return len(b) >= 5 && binary.LittleEndian.Uint32(b) == httpLE && b[4] == '/'
}

// versionLen is the length of the usual protocol: "HTTP/1.1", "HTTP/2.0".
const versionLen = len("HTTP/1.1")

// isHTTPDigitVersion reports whether b, of versionLen bytes, is "HTTP/d.d".
func isHTTPDigitVersion(b []byte) bool {
	u := binary.LittleEndian.Uint64(b)
	major, dot, minor := byte(u>>40)-'0', byte(u>>48), byte(u>>56)-'0'
	return uint32(u) == httpLE && byte(u>>32) == '/' && major <= 9 && dot == '.' && minor <= 9
}

// httpLE is "HTTP" as a little-endian uint32.
const httpLE = 'H' | 'T'<<8 | 'T'<<16 | 'P'<<24

// methodEnd returns the length of the HTTP method at the start of b:
// upper-case letters, '-' and '_' (WebDAV has VERSION-CONTROL), at most 32
// bytes. The caller checks that a space follows.
func methodEnd(b []byte) int {
	n := min(len(b), maxMethodLen)
	for i := range n {
		if !isMethodByte[b[i]] {
			return i
		}
	}
	if len(b) > maxMethodLen {
		return 0
	}
	return len(b)
}

const maxMethodLen = 32

// isMethodByte holds the bytes an HTTP method may have, for methodEnd: one
// load per byte instead of three comparisons.
var isMethodByte = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	t['-'], t['_'] = true, true
	return t
}()

// uriPathStart returns where the path starts in a request target: 0 for
// origin-form ("/a"), asterisk-form ("*") and authority-form ("host:443");
// after the authority for absolute-form ("http://host/a").
func uriPathStart(t []byte) int {
	// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by "://"
	if len(t) == 0 || t[0] == '/' {
		return 0
	}
	i := 0
	for i < len(t) {
		c := t[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			i++
			continue
		}
		break
	}
	if i == 0 || !bytes.HasPrefix(t[i:], schemeSep) {
		return 0
	}
	i += len(schemeSep)
	if k := bytes.IndexByte(t[i:], '/'); k >= 0 {
		return i + k
	}
	return len(t)
}

var schemeSep = []byte("://")
