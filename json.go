package ingest

import (
	"strconv"
	"unicode/utf8"
)

// jsonTime is RFC 3339 with the fraction only when it is non-zero and the
// offset always numeric: a line logged at +0000 keeps "+00:00" rather than
// turning into "Z", so the output says what the line said.
const jsonTime = "2006-01-02T15:04:05.999999999-07:00"

// AppendJSON appends r to dst as one JSON object, without a trailing
// newline, and returns the extended buffer. dst may be nil. When dst has
// room for the object, AppendJSON does not allocate.
//
// The keys come in a fixed order: remote_addr, remote_user, time, method,
// path, query, protocol, status, body_bytes_sent, referer, user_agent,
// request; then syslog_priority, syslog_host and syslog_tag, only when the
// line came inside a syslog envelope. status, body_bytes_sent and
// syslog_priority are numbers, every other value is a string, and empty
// fields are "". time is RFC 3339 with the line's own offset written as
// ±hh:mm ("2026-10-10T13:55:36+00:00").
//
// Strings hold the bytes as they appear in the line, escaped for JSON with
// AppendJSONString: escapes the server wrote are not decoded, so nginx's
// \x22 comes out as the JSON string "\\x22".
func (r *Request) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"remote_addr":`...)
	dst = AppendJSONString(dst, r.RemoteAddr)
	dst = append(dst, `,"remote_user":`...)
	dst = AppendJSONString(dst, r.RemoteUser)
	dst = append(dst, `,"time":"`...)
	dst = r.Time.AppendFormat(dst, jsonTime)
	dst = append(dst, `","method":`...)
	dst = AppendJSONString(dst, r.Method)
	dst = append(dst, `,"path":`...)
	dst = AppendJSONString(dst, r.Path)
	dst = append(dst, `,"query":`...)
	dst = AppendJSONString(dst, r.Query)
	dst = append(dst, `,"protocol":`...)
	dst = AppendJSONString(dst, r.Protocol)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, `,"body_bytes_sent":`...)
	dst = strconv.AppendInt(dst, r.BodyBytesSent, 10)
	dst = append(dst, `,"referer":`...)
	dst = AppendJSONString(dst, r.Referer)
	dst = append(dst, `,"user_agent":`...)
	dst = AppendJSONString(dst, r.UserAgent)
	dst = append(dst, `,"request":`...)
	dst = AppendJSONString(dst, r.RequestLine)
	if r.Envelope != EnvelopeNone {
		dst = append(dst, `,"syslog_priority":`...)
		dst = strconv.AppendInt(dst, int64(r.SyslogPriority), 10)
		dst = append(dst, `,"syslog_host":`...)
		dst = AppendJSONString(dst, r.SyslogHost)
		dst = append(dst, `,"syslog_tag":`...)
		dst = AppendJSONString(dst, r.SyslogTag)
	}
	return append(dst, '}')
}

// AppendJSONString appends s to dst as a quoted JSON string and returns the
// extended buffer. dst may be nil. When dst has room, it does not allocate.
//
// '"', '\\' and control characters are escaped (\n, \r and \t in their
// short form, the others as \u00XX), as are U+2028 and U+2029 so the output
// is also valid JavaScript. Each byte that is not part of valid UTF-8 is
// replaced by \ufffd. Everything else, including '<', '>' and '&', is
// copied unchanged.
func AppendJSONString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending: copied as is when an escape or the end is reached
	for i := 0; i < len(s); {
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		// A rune is at most 4 bytes, so decoding a copy of the next 4
		// works for both string and []byte without converting s.
		var rb [utf8.UTFMax]byte
		r, size := utf8.DecodeRune(rb[:copy(rb[:], s[i:])])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// jsonPlain[c] reports whether the byte c is ASCII that JSON strings hold
// unescaped. Bytes from 0x80 up are false: they need a UTF-8 check.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
