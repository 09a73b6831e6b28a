package ingest

import "bytes"

// MaxLineLength is the longest access line, syslog header included, that
// Parse accepts. Longer lines fail with ErrTooLong without being scanned, so
// the work and memory spent on one line are bounded.
const MaxLineLength = 64 << 10

var (
	// FormatCombined is the nginx/Apache combined format, the default:
	//
	//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
	//
	// Apache's "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\""
	// has the same shape. Fields after the user agent (nginx configs often
	// append "$http_x_forwarded_for" or timings) are ignored.
	FormatCombined = &Format{name: "combined", kind: kindCombined}
	// FormatCommon is the common format: combined without referer and user
	// agent. Fields after the body size are ignored.
	FormatCommon = &Format{name: "common", kind: kindCommon}
)

// FormatByName returns the built-in format with that name ("combined" or
// "common"), or ErrUnknownFormat.
func FormatByName(name string) (*Format, error) {
	switch name {
	case "combined":
		return FormatCombined, nil
	case "common":
		return FormatCommon, nil
	}
	return nil, ErrUnknownFormat
}

// Parser parses access lines into Requests. The zero value parses the
// combined format with syslog envelope detection.
//
// A Parser caches the last decoded timestamps and keeps about 400 bytes of
// scratch for the line it is parsing, so it cannot be used from concurrent
// goroutines: give each goroutine its own. It holds no reference to the
// lines it has parsed.
type Parser struct {
	// Format is the access-line format; nil means FormatCombined.
	Format *Format

	timeLocal timeCache // the last time_local decoded
	// last3164 is the last RFC 3164 timestamp found valid, a copy; zero
	// until one is. Syslog stamps repeat like the access time does.
	last3164 [rfc3164TimeLen]byte

	masks lineMasks // of the line being parsed, when fillMasks made them
	// noMasks makes the parser scan for every field, as it does for lines
	// longer than maskBytes; the fuzz tests compare the two ways.
	noMasks bool
}

// fillMasks fills p.masks for s and returns them, or nil when it cannot
// (s does not fit in them, or the CPU lacks the vector instructions): the
// fields are then found by scanning.
func (p *Parser) fillMasks(s []byte) *lineMasks {
	if len(s) <= maskBytes && !p.noMasks && quoteMasks(s, &p.masks) {
		return &p.masks
	}
	return nil
}

// Parse parses one line into r, overwriting every field of r. A trailing
// "\n" or "\r\n" is ignored. The syslog envelope (RFC 3164, RFC 5424 or none)
// is detected per line.
//
// Request fields reference line; line must not be modified while r is in
// use. On error r holds what was parsed before the failure and the error
// wraps one of the Err* sentinels: ErrNotAccessLine when line is not an
// access line at all (see ErrorReason). Parse does not allocate, also on
// error.
func (p *Parser) Parse(r *Request, line []byte) error {
	r.reset()
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
	}
	if n > 0 && line[n-1] == '\r' {
		n--
	}
	if n == 0 {
		return errEmpty
	}
	if n > MaxLineLength {
		return errTooLong
	}
	line = line[:n:n]
	r.Line = line
	f := p.Format
	msg := line
	var err error
	if c := line[0]; c == '<' && (f == nil || f.prog == nil || !f.prog.leadsLT) {
		if msg, err = p.parseEnvelope(r, line); err != nil {
			return notAccessLine(f, line, nil, err)
		}
	} else if c >= 'A' && c <= 'S' { // the months' initials: a header without <PRI>?
		if msg, err = p.parseNoPRI(r, line); err != nil {
			return notAccessLine(f, line, nil, err)
		}
	}
	switch {
	case f == nil:
		err = p.parseAccess(r, msg, kindCombined)
	case f.kind == kindCompiled:
		err = p.parseCompiled(r, msg, len(line)-len(msg), f)
	default:
		err = p.parseAccess(r, msg, f.kind)
	}
	if err != nil {
		// Binary bytes or text of another shape get their own reason.
		return notAccessLine(f, line, msg, err)
	}
	return nil
}

// parseAccess parses the combined or common format:
//
//	addr ident user [time] "request" status bytes ["referer" "user agent"] [extra...]
//
// The address may hold spaces (a forwarded-for list), so the time field is
// found first and the three leading fields are split from the right.
func (p *Parser) parseAccess(r *Request, s []byte, kind formatKind) error {
	masks := p.fillMasks(s)
	var lb int
	if masks != nil {
		lb = maskedTimeField(masks, s)
	} else {
		lb = findTimeField(s)
	}
	if lb < 0 {
		return errNoTime
	}
	// s[:lb-1] is "addr ident user".
	pre := s[: lb-1 : lb-1]
	i := bytes.LastIndexByte(pre, ' ')
	if i <= 0 {
		return errNoAddr
	}
	r.RemoteUser = dashless(view(pre, i+1, len(pre)))
	j := bytes.LastIndexByte(pre[:i], ' ')
	if j <= 0 {
		return errNoAddr
	}
	if !validAddrField(pre[:j]) {
		return errRemoteAddr
	}
	r.RemoteAddr = dashless(view(pre, 0, j))

	if lb+timeLocalLen+1 >= len(s) || s[lb+timeLocalLen+1] != ']' {
		return errTime
	}
	if err := p.timeLocal.decode(r, s[lb+1:lb+1+timeLocalLen]); err != nil {
		return err
	}
	pos := lb + timeLocalLen + 2 // past "]"
	if pos+1 >= len(s) || s[pos] != ' ' || s[pos+1] != '"' {
		return errNoRequest
	}
	pos += 2
	end := maskedScanRequest(masks, r, s, pos)
	if end < 0 {
		return errQuoteRequest
	}

	// " ddd "
	pos = end + 1
	if pos+1 >= len(s) || s[pos] != ' ' {
		return errNoStatus
	}
	pos++
	if pos+3 > len(s) || (pos+3 < len(s) && s[pos+3] != ' ') {
		return errStatus
	}
	st, ok := status3(s[pos], s[pos+1], s[pos+2])
	if !ok {
		return errStatus
	}
	r.Status = st
	pos += 3
	if pos+1 >= len(s) {
		return errNoBytes
	}
	pos++ // the space after the status
	nb, k, ok := byteCountToken(s[pos:])
	if !ok {
		return errBytes
	}
	r.BodyBytesSent = nb
	if kind == kindCommon {
		return nil
	}
	if pos+k == len(s) {
		return errNoReferer
	}
	pos += k + 1

	// "referer" "user agent"
	if pos >= len(s) || s[pos] != '"' {
		return errNoReferer
	}
	end = maskedClosingQuote(masks, s, pos+1)
	if end < 0 {
		return errQuoteReferer
	}
	r.Referer = dashless(view(s, pos+1, end))
	pos = end + 1
	if pos+1 >= len(s) || s[pos] != ' ' || s[pos+1] != '"' {
		return errNoUserAgent
	}
	pos += 2
	end = maskedClosingQuote(masks, s, pos)
	if end < 0 {
		return errQuoteUserAgent
	}
	r.UserAgent = dashless(view(s, pos, end))
	return nil
}

// findTimeField returns the index of the '[' that opens the time field: the
// first " [" followed by 26 bytes and a ']'. When no '[' has that shape it
// returns the first " [", so that the time decoder reports a bad time
// rather than a missing one; it returns -1 when there is none at all.
func findTimeField(s []byte) int {
	first := -1
	for from := 0; ; {
		k := bytes.IndexByte(s[from:], '[')
		if k < 0 {
			break
		}
		i := from + k
		from = i + 1
		if i == 0 || s[i-1] != ' ' {
			continue
		}
		if i+timeLocalLen+1 < len(s) && s[i+timeLocalLen+1] == ']' {
			return i
		}
		if first < 0 {
			first = i
		}
	}
	return first
}

// maskedTimeField is findTimeField read from m, the masks of s: the first
// '[' when it has the time field's shape.
func maskedTimeField(m *lineMasks, s []byte) int {
	i := m.nextBracket(0, len(s))
	if i > 0 && s[i-1] == ' ' && i+timeLocalLen+1 < len(s) && s[i+timeLocalLen+1] == ']' {
		return i
	}
	return findTimeField(s)
}
