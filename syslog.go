package ingest

import (
	"bytes"
	"encoding/binary"

	"github.com/flatheap/ingest/internal/decimal"
)

// Envelope says which syslog header, if any, a line came inside.
type Envelope uint8

const (
	// EnvelopeNone: a bare access line.
	EnvelopeNone Envelope = iota
	// EnvelopeRFC3164: a BSD syslog header, as nginx's access_log syslog: writes it.
	EnvelopeRFC3164
	// EnvelopeRFC5424: an IETF syslog header.
	EnvelopeRFC5424
)

// String returns "none", "rfc3164" or "rfc5424".
func (e Envelope) String() string {
	switch e {
	case EnvelopeRFC3164:
		return "rfc3164"
	case EnvelopeRFC5424:
		return "rfc5424"
	}
	return "none"
}

// parseEnvelope parses the syslog header at the start of line into r and
// returns the message after it. line starts with '<'.
//
// RFC 3164 as nginx writes it ("<190>Nov  5 21:22:09 web01 nginx: msg";
// the hostname is absent with nohostname, the tag may carry "[pid]"), or
// RFC 5424 ("<190>1 2026-11-25T21:22:09.123+00:00 host app procid msgid
// [sd] msg", the message possibly starting with a UTF-8 BOM).
func (p *Parser) parseEnvelope(r *Request, line []byte) ([]byte, error) {
	pri, i, ok := syslogPRI(line)
	if !ok {
		return nil, errPriority
	}
	r.SyslogPriority = pri
	rest := line[i+1:]
	if len(rest) >= 2 && rest[0] == '1' && rest[1] == ' ' {
		r.Envelope = EnvelopeRFC5424
		return parse5424(r, rest[2:])
	}
	r.Envelope = EnvelopeRFC3164
	return p.parse3164(r, rest)
}

// parseNoPRI recognises an RFC 3164 header that came without its <PRI>, as
// some relays forward it: "Mmm dd hh:mm:ss host tag: " or, without the
// host, "Mmm dd hh:mm:ss tag: ". It returns the message after it, with
// SyslogPriority -1. Without a valid timestamp, or without a tag, line is
// not taken for a header and is returned unchanged: the access-line parser
// then rejects what is left of a header in the remote address.
func (p *Parser) parseNoPRI(r *Request, line []byte) ([]byte, error) {
	if len(line) <= rfc3164TimeLen+1 || line[rfc3164TimeLen] != ' ' || !p.check3164Time(line[:rfc3164TimeLen]) {
		return line, nil
	}
	msg, err := p.parse3164(r, line)
	if err != nil || len(r.SyslogTag) == 0 {
		r.SyslogTime, r.SyslogHost, r.SyslogTag, r.SyslogProcID = nil, nil, nil, nil
		return line, nil
	}
	r.Envelope = EnvelopeRFC3164
	r.SyslogPriority = -1
	return msg, nil
}

// syslogPRI decodes the "<" 1*3DIGIT ">" that starts line, at most 191,
// and returns it with the index of its '>'. Written out for the three
// lengths rather than as a loop: it runs on every syslog line. A line of
// fewer than five bytes cannot hold a PRI and a message.
func syslogPRI(line []byte) (pri, end int, ok bool) {
	if len(line) < 5 {
		return 0, 0, false
	}
	a, b, c := line[1]-'0', line[2]-'0', line[3]-'0'
	switch {
	case a > 9:
		return 0, 0, false
	case b > 9:
		pri, end = int(a), 2
	case c > 9:
		pri, end = int(a)*10+int(b), 3
	default:
		pri, end = int(a)*100+int(b)*10+int(c), 4
	}
	return pri, end, line[end] == '>' && pri <= 191
}

// rfc3164TimeLen is len("Nov  5 21:22:09").
const rfc3164TimeLen = 15

func (p *Parser) parse3164(r *Request, s []byte) ([]byte, error) {
	n := rfc3164TimeLen
	if len(s) < rfc3164TimeLen || !p.check3164Time(s[:rfc3164TimeLen]) {
		// rsyslog's RSYSLOG_ForwardFormat writes an RFC 3339 stamp here.
		if n = rfc3339Stamp(s); n == 0 {
			return nil, errSyslogTime
		}
	}
	r.SyslogTime = view(s, 0, n)
	s = s[n:]
	if len(s) < 2 || s[0] != ' ' {
		return nil, errNoMessage
	}
	s = s[1:]
	// Then "host tag: msg", "tag: msg" (nohostname) or "host msg" (no tag).
	tok, after, ok := cutSpace(s)
	if isTag(tok) {
		setTag(r, tok[:len(tok)-1])
		return message(after, ok)
	}
	r.SyslogHost = tok
	if !ok {
		return nil, errNoMessage
	}
	tok2, after2, ok2 := cutSpace(after)
	if isTag(tok2) {
		setTag(r, tok2[:len(tok2)-1])
		return message(after2, ok2)
	}
	// A relay may write the tag without its colon, as rsyslog's
	// traditional forward format does for an RFC 5424 APP-NAME ("host
	// nginx 192.0.2.1 - - [..."). The access line's own shape says where
	// the message starts: it opens with the client's address, which a tag
	// is not.
	if ok2 && relayTag(tok2) && addrToken(firstToken(after2)) {
		setTag(r, tok2)
		return message(after2, true)
	}
	return message(after, true)
}

// relayTag reports whether tok can be an RFC 3164 tag written without its
// colon: a letter, then up to 47 letters, digits or "-_./@", and an
// optional "[pid]"; and not an address itself.
func relayTag(tok []byte) bool {
	if n := len(tok); n > 2 && tok[n-1] == ']' {
		if k := bytes.IndexByte(tok, '['); k > 0 {
			tok = tok[:k]
		}
	}
	if len(tok) == 0 || len(tok) > 48 || (tok[0]|0x20)-'a' > 'z'-'a' || addrToken(tok) {
		return false
	}
	for _, c := range tok {
		if (c|0x20)-'a' > 'z'-'a' && c-'0' > 9 && c != '-' && c != '_' && c != '.' && c != '/' && c != '@' {
			return false
		}
	}
	return true
}

// addrToken reports whether tok is shaped like the first field of an
// access line: an IPv4 or IPv6 address (hex digits with dots or colons),
// possibly the first of a list ("a, b"), or "-" or "unix:" as nginx logs
// for no address or a unix socket client.
func addrToken(tok []byte) bool {
	if n := len(tok); n > 1 && tok[n-1] == ',' {
		tok = tok[:n-1]
	}
	if len(tok) == 1 && tok[0] == '-' || string(tok) == "unix:" {
		return true
	}
	sep := false
	for _, c := range tok {
		switch {
		case c == '.' || c == ':':
			sep = true
		case c-'0' <= 9 || (c|0x20)-'a' <= 'f'-'a':
		default:
			return false
		}
	}
	return sep && len(tok) >= 2
}

// firstToken returns s up to its first space.
func firstToken(s []byte) []byte {
	if k := bytes.IndexByte(s, ' '); k >= 0 {
		return s[:k]
	}
	return s
}

// rfc3339Stamp returns the length of the RFC 3339 timestamp that starts s
// and ends at a space, as valid5424Time checks it, or 0.
func rfc3339Stamp(s []byte) int {
	if len(s) == 0 || s[0]-'0' > 9 {
		return 0
	}
	k := bytes.IndexByte(s, ' ')
	if k < 0 || !valid5424Time(s[:k]) {
		return 0
	}
	return k
}

// cutSpace splits s at its first space into a capped view before it and
// the rest after it; ok is false when s has no space.
func cutSpace(s []byte) (tok, after []byte, ok bool) {
	k := bytes.IndexByte(s, ' ')
	if k < 0 {
		return view(s, 0, len(s)), nil, false
	}
	return view(s, 0, k), s[k+1:], true
}

// message checks that a header is followed by a message and returns it
// without the spaces it may start with: a relay may keep the one after an
// RFC 3164 tag's colon in an RFC 5424 message ("- -  192.0.2.1 - - [...").
func message(msg []byte, ok bool) ([]byte, error) {
	msg = bytes.TrimLeft(msg, " ")
	if !ok || len(msg) == 0 {
		return nil, errNoMessage
	}
	return msg, nil
}

// isTag reports whether tok is an RFC 3164 TAG field: it ends with ':'.
func isTag(tok []byte) bool { return len(tok) > 1 && tok[len(tok)-1] == ':' }

// setTag stores "nginx" or "nginx[123]" (a tag without its colon) as tag
// "nginx" and proc ID "123".
func setTag(r *Request, tok []byte) {
	if n := len(tok); n > 2 && tok[n-1] == ']' {
		if k := bytes.IndexByte(tok, '['); k > 0 {
			r.SyslogProcID = view(tok, k+1, n-1)
			tok = tok[:k]
		}
	}
	r.SyslogTag = view(tok, 0, len(tok))
}

// check3164Time is valid3164Time for a run of lines: a repeat of the last
// valid stamp costs two 8-byte comparisons.
func (p *Parser) check3164Time(b []byte) bool {
	_ = b[rfc3164TimeLen-1]
	le := binary.LittleEndian
	t := &p.last3164
	if t[0] != 0 && le.Uint64(b) == le.Uint64(t[:]) && le.Uint64(b[7:]) == le.Uint64(t[7:]) {
		return true
	}
	if !valid3164Time(b) {
		return false
	}
	copy(t[:], b)
	return true
}

// valid3164Time checks "Mmm dd hh:mm:ss" with the day padded by a space
// ("Nov  5") or, as some senders do, by a zero ("Nov 05").
func valid3164Time(b []byte) bool {
	if monthIndex(b[0], b[1], b[2]) == 0 || b[3] != ' ' || b[6] != ' ' || b[9] != ':' || b[12] != ':' {
		return false
	}
	d0 := b[4]
	if d0 == ' ' {
		d0 = '0'
	}
	day, ok1 := digits2(d0, b[5])
	h, ok2 := digits2(b[7], b[8])
	m, ok3 := digits2(b[10], b[11])
	sec, ok4 := digits2(b[13], b[14])
	return ok1 && ok2 && ok3 && ok4 && day >= 1 && day <= 31 && h <= 23 && m <= 59 && sec <= 60
}

// valid5424Time checks an RFC 5424 TIMESTAMP as strictly as the access
// time: "YYYY-MM-DDThh:mm:ss", an optional fraction of 1 to 6 digits, then
// "Z" or an offset "+hh:mm" or "-hh:mm"; the day must exist in its month,
// and the second may be 60 (a leap second).
func valid5424Time(b []byte) bool {
	if len(b) < len("2006-01-02T15:04:05Z") || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return false
	}
	y1, ok1 := digits2(b[0], b[1])
	y2, ok2 := digits2(b[2], b[3])
	mo, ok3 := digits2(b[5], b[6])
	d, ok4 := digits2(b[8], b[9])
	h, ok5 := digits2(b[11], b[12])
	mi, ok6 := digits2(b[14], b[15])
	sec, ok7 := digits2(b[17], b[18])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || mo < 1 || mo > 12 ||
		d < 1 || d > daysIn(mo, y1*100+y2) || h > 23 || mi > 59 || sec > 60 {
		return false
	}
	zone := b[19:]
	if zone[0] == '.' {
		_, k := decimal.Digits(zone, 1)
		if k == 1 || k > 1+maxSecFracDigits {
			return false
		}
		zone = zone[k:]
	}
	if len(zone) == 1 {
		return zone[0] == 'Z'
	}
	if len(zone) != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' {
		return false
	}
	oh, ok8 := digits2(zone[1], zone[2])
	om, ok9 := digits2(zone[4], zone[5])
	return ok8 && ok9 && oh <= 23 && om <= 59
}

// maxSecFracDigits is the most digits of an RFC 5424 TIME-SECFRAC.
const maxSecFracDigits = 6

// utf8BOM may start an RFC 5424 message.
var utf8BOM = []byte("\xEF\xBB\xBF")

// parse5424 parses what follows "<PRI>1 ":
// TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG].
func parse5424(r *Request, s []byte) ([]byte, error) {
	var fields [5][]byte
	for i := range fields {
		tok, after, ok := cutSpace(s)
		if len(tok) == 0 || !ok {
			if i == len(fields)-1 && len(tok) > 0 {
				return nil, errNoMessage // ends after MSGID
			}
			return nil, errSyslogField
		}
		fields[i] = dashless(tok)
		s = after
	}
	if fields[0] != nil && !valid5424Time(fields[0]) {
		return nil, errSyslogTime
	}
	r.SyslogTime, r.SyslogHost, r.SyslogTag, r.SyslogProcID, r.SyslogMsgID =
		fields[0], fields[1], fields[2], fields[3], fields[4]

	end, ok := structuredDataEnd(s)
	if !ok {
		return nil, errSyslogSD
	}
	if end == len(s) || s[end] != ' ' {
		if end == len(s) {
			return nil, errNoMessage
		}
		return nil, errSyslogSD
	}
	msg := bytes.TrimPrefix(s[end+1:], utf8BOM)
	return message(msg, true)
}

// structuredDataEnd returns the length of the STRUCTURED-DATA at the start
// of s: "-" or one or more "[id name=\"value\" ...]" elements, where a
// value may hold \", \\ and \].
func structuredDataEnd(s []byte) (int, bool) {
	if len(s) > 0 && s[0] == '-' {
		return 1, true
	}
	i := 0
	for i < len(s) && s[i] == '[' {
		i++
		inValue := false
		for ; i < len(s); i++ {
			c := s[i]
			if inValue {
				if c == '\\' {
					i++
				} else if c == '"' {
					inValue = false
				}
				continue
			}
			if c == '"' {
				inValue = true
			} else if c == ']' {
				break
			}
		}
		if i >= len(s) {
			return 0, false
		}
		i++ // past ']'
	}
	return i, i > 0
}
