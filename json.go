package ingest

import (
	"strconv"
	"unicode/utf16"
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
// request; then, for a compiled format, host, bytes_sent and request_time
// when the format logs them and its extra variables under their names (a
// name that is also one of these keys gets a '$' in front); then
// syslog_priority, syslog_host and syslog_tag, only when the line came
// inside a syslog envelope. request_time is in seconds, null when the line
// logged "-"; extra variables are strings, "" when empty. status, body_bytes_sent and
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
	if f := r.format; f != nil {
		dst = f.prog.appendJSON(dst, r)
	}
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

// jsonPlain[c] reports whether the byte c is ASCII that JSON strings hold
// unescaped. Bytes from 0x80 up are false: they need a UTF-8 check.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSON appends the keys that the compiled format adds to
// Request.AppendJSON.
func (prog *program) appendJSON(dst []byte, r *Request) []byte {
	if prog.sets&setHost != 0 {
		dst = append(dst, `,"host":`...)
		dst = AppendJSONString(dst, r.Host)
	}
	if prog.sets&setBytesSent != 0 {
		dst = append(dst, `,"bytes_sent":`...)
		dst = strconv.AppendInt(dst, r.BytesSent, 10)
	}
	if prog.sets&setReqTime != 0 {
		dst = append(dst, `,"request_time":`...)
		if r.HasRequestTime {
			dst = strconv.AppendFloat(dst, r.RequestTime.Seconds(), 'f', -1, 64)
		} else {
			dst = append(dst, "null"...)
		}
	}
	for i, key := range prog.keys {
		dst = append(dst, key...)
		dst = AppendJSONString(dst, r.varAt(i))
	}
	return dst
}

// AppendUnescapedJSON appends s with the escapes of a JSON string decoded
// (\", \\, \/, \b, \f, \n, \r, \t and \uXXXX, surrogate pairs included)
// and returns the extended buffer. s is the inside of a JSON string without
// its quotes, as nginx writes a value with escape=json: use it on a view
// from a compiled JSON format when the decoded bytes are wanted. dst may be
// nil; when dst has room, it does not allocate. An invalid escape is copied
// as it is; a \u escape of a lone surrogate becomes U+FFFD.
func AppendUnescapedJSON[S ~string | ~[]byte](dst []byte, s S) []byte {
	for i := 0; i < len(s); {
		k := i
		for k < len(s) && s[k] != '\\' {
			k++
		}
		dst = append(dst, s[i:k]...)
		if k+1 >= len(s) {
			return append(dst, s[k:]...)
		}
		i = k + 2
		switch c := s[k+1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r1, ok := hex4(s, k+2)
			if !ok {
				dst = append(dst, s[k:k+2]...)
				continue
			}
			i = k + 6
			if utf16.IsSurrogate(r1) {
				r2, ok2 := rune(0), false
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2, ok2 = hex4(s, i+2)
				}
				if dec := utf16.DecodeRune(r1, r2); ok2 && dec != utf8.RuneError {
					r1 = dec
					i += 6
				} else {
					r1 = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r1)
		default:
			dst = append(dst, s[k:k+2]...)
		}
	}
	return dst
}

// hex4 decodes the four hex digits at s[i:i+4].
func hex4[S ~string | ~[]byte](s S, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte{s[i], s[i+1], s[i+2], s[i+3]} {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
