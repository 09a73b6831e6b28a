package routemetrics

import (
	"encoding/binary"
	"unicode/utf8"
)

// Methods: the index is the method byte of a key.
var methodNames = [...]string{"OTHER", "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

const methodOther = 0

// methodIndex returns the index of m in methodNames; methodOther when m is
// not a standard method (the match is exact: methods are case-sensitive).
func methodIndex(m []byte) uint8 {
	switch len(m) {
	case 3:
		switch string(m) {
		case "GET":
			return 1
		case "PUT":
			return 4
		}
	case 4:
		switch string(m) {
		case "HEAD":
			return 2
		case "POST":
			return 3
		}
	case 5:
		switch string(m) {
		case "TRACE":
			return 8
		case "PATCH":
			return 9
		}
	case 6:
		if string(m) == "DELETE" {
			return 5
		}
	case 7:
		switch string(m) {
		case "CONNECT":
			return 6
		case "OPTIONS":
			return 7
		}
	}
	return methodOther
}

// statusKey maps a status code to the key's status: the code for 100-599,
// 0 ("other") for anything else.
func statusKey(code int) uint16 {
	if code < 100 || code > 599 {
		return 0
	}
	return uint16(code)
}

// Status classes: index 0 is "other", 1..5 are 1xx..5xx.
const numClasses = 6

var classNames = [numClasses]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// statusClass returns the class of a key's status. The statuses 1 to 5 are
// those of {unadmitted} series, which count a class: they are their own
// class.
func statusClass(status uint16) int {
	if status < 100 {
		return int(status)
	}
	return int(status / 100)
}

// appendStatus appends the status label of a key's status: the code, the
// class ("2xx") of an {unadmitted} series, or "other".
func appendStatus(dst []byte, status uint16) []byte {
	if status < 100 {
		return append(dst, classNames[status]...)
	}
	return append(dst, byte('0'+status/100), byte('0'+status/10%10), byte('0'+status%10))
}

// appendBounded appends b as a label part of a key: as it is when it is
// valid UTF-8, else with each byte of an invalid sequence replaced by
// U+FFFD; and Other instead when the result would be longer than max.
func appendBounded(dst, b []byte, max int) []byte {
	if len(b) > max {
		return append(dst, Other...)
	}
	if isASCII(b) || utf8.Valid(b) {
		return append(dst, b...)
	}
	// Each invalid byte becomes the three of U+FFFD: check the length
	// before expanding, so that dst never grows past its bound.
	if len(b)+2*invalidBytes(b) > max {
		return append(dst, Other...)
	}
	return appendLabel(dst, b)
}

// invalidBytes returns how many bytes of b are not part of a valid UTF-8
// sequence: the bytes appendLabel replaces by U+FFFD.
func invalidBytes(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			n++
			i++
			continue
		}
		i += size
	}
	return n
}

// isASCII reports whether b holds only bytes below 0x80, eight at a time.
func isASCII(b []byte) bool {
	var acc uint64
	for len(b) >= 8 {
		acc |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		acc |= uint64(c)
	}
	return acc&0x8080808080808080 == 0
}

// keySep separates the parts of a key: it never occurs in valid UTF-8, and
// the label parts of a key are made valid UTF-8 by appendLabel.
const keySep = 0xff

// appendLabel appends b to dst with each byte of an invalid UTF-8 sequence
// replaced by U+FFFD, so that the label is valid UTF-8, as the Prometheus
// text format requires, and never holds keySep.
func appendLabel(dst, b []byte) []byte {
	i := 0
	for i < len(b) && b[i] < utf8.RuneSelf {
		i++
	}
	dst = append(dst, b[:i]...)
	if i == len(b) {
		return dst
	}
	for i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			dst = append(dst, "\uFFFD"...)
			i++
			continue
		}
		dst = append(dst, b[i:i+n]...)
		i += n
	}
	return dst
}

// appendEscaped appends a label value escaped for the text format: \\, \"
// and \n.
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '\\':
			esc = `\\`
		case '"':
			esc = `\"`
		case '\n':
			esc = `\n`
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, esc...)
		start = i + 1
	}
	return append(dst, s[start:]...)
}
