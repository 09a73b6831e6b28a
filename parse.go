package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"sync/atomic"
	"time"
	"unsafe"
)

// MaxLineLength is the longest access line, syslog header included, that
// Parse accepts. Longer lines fail with ErrTooLong without being scanned, so
// the work and memory spent on one line are bounded.
const MaxLineLength = 64 << 10

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

// Request is one parsed access line.
//
// The byte-slice fields are views into the line given to Parse: nothing is
// copied. The Request and every slice in it are valid only until the handler
// returns. Do not retain them; use Interner.Intern or Request.Clone for
// values that must outlive the call. When you call Parser.Parse yourself,
// the views are valid while the line is reachable and unmodified, and until
// the next Parse into the same Request.
//
// Fields logged as "-" are empty (nil). Quoted fields keep the escaping the
// server wrote (Apache's \" and \\, nginx's \x22): they are views, not
// decoded copies.
type Request struct {
	// RemoteAddr is the first field as logged: usually an IP address, but
	// it may be an address list ("203.0.113.7, 10.0.0.1") or "unix:".
	RemoteAddr []byte
	// RemoteUser is the authenticated user ($remote_user, %u).
	RemoteUser []byte
	// Time is the request time with the line's own UTC offset.
	Time time.Time
	// Method, Path, Query and Protocol are split from RequestLine on its
	// first and last space. Path has no query; Query has no leading '?'.
	// For an absolute URI ("GET http://example.com/a?b HTTP/1.1") Path is
	// the path component ("/a"). All four are empty when the request line
	// is not an HTTP request (empty, "-", TLS bytes, junk); RequestLine and
	// Status are still set. Protocol is empty for HTTP/0.9 lines.
	Method   []byte
	Path     []byte
	Query    []byte
	Protocol []byte
	// RequestLine is the raw request field, between its quotes ($request, %r).
	RequestLine []byte
	// Status is the three-digit response status, 0..999.
	Status int
	// BodyBytesSent is the response body size; 0 when logged as "-".
	BodyBytesSent int64
	// Referer and UserAgent are empty in the common format.
	Referer   []byte
	UserAgent []byte
	// Host is $host (nginx) or %v/%V (Apache). It, BytesSent and
	// RequestTime are set only by compiled formats that log them.
	Host []byte
	// BytesSent is the whole response size, headers included ($bytes_sent,
	// Apache's %O).
	BytesSent int64
	// RequestTime is how long the request took ($request_time, Apache's %D
	// and %T), at the precision the server logged it. HasRequestTime says
	// whether the line carried one.
	RequestTime    time.Duration
	HasRequestTime bool
	// Source is the address of the sender of the datagram the line came
	// in. Server sets it; Parse leaves it zero.
	Source netip.AddrPort

	// Line is the whole line as given to Parse, syslog header included,
	// without its line ending.
	Line []byte

	// Envelope says whether the line came inside a syslog header; the
	// Syslog fields are set only when it did.
	Envelope Envelope
	// SyslogPriority is the PRI value: facility*8 + severity (0..191).
	SyslogPriority int
	// SyslogTime is the header's timestamp as written (RFC 3164 has no year,
	// so it is left undecoded).
	SyslogTime []byte
	// SyslogHost is the HOSTNAME field; empty when absent or "-".
	SyslogHost []byte
	// SyslogTag is the RFC 3164 tag without its "[pid]", or the RFC 5424 APP-NAME.
	SyslogTag []byte
	// SyslogProcID is the RFC 3164 "[pid]" or the RFC 5424 PROCID.
	SyslogProcID []byte
	// SyslogMsgID is the RFC 5424 MSGID.
	SyslogMsgID []byte

	// format is the compiled format that filled vars; nil for the built-ins.
	format *Format
	// vars holds the extra variables of a compiled format as offsets into
	// Line, in the order of format.prog.names. Offsets, not views: they pin
	// nothing, and a Request copied with its Line stays consistent.
	vars [MaxFormatVars]varSpan
}

// Reset clears r and drops every reference it holds, so a Request kept in a
// pool does not pin the last line it saw.
func (r *Request) Reset() { *r = Request{} }

// reset clears r for Parse, leaving it equal to a Request that Reset
// cleared, at a fraction of the cost: the extra variables of a compiled
// format (a quarter of a Request's size) are cleared only when the last
// Parse into r went through a format that has some. A slot of vars is
// nonzero only below len(r.format.prog.names): parseCompiled sets format
// before it fills a slot, and only Reset and reset clear format.
func (r *Request) reset() {
	if r.format != nil {
		// A loop, not clear: the call to memclr would make Parse save its
		// arguments on every line.
		for i := range r.format.prog.names {
			r.vars[i] = varSpan{}
		}
	}
	// Zeroing the head through its own type keeps the write barriers for
	// its pointers; TestRequestHeadLayout checks the two layouts agree.
	*(*requestHead)(unsafe.Pointer(r)) = requestHead{}
}

// requestHead is Request without vars: the same fields, of the same types,
// in the same order, so that the first unsafe.Sizeof(requestHead{}) bytes
// of a Request may be read as one (unsafe.Pointer rule 1). Keep the two in
// step: TestRequestHeadLayout fails when they differ.
type requestHead struct {
	RemoteAddr     []byte
	RemoteUser     []byte
	Time           time.Time
	Method         []byte
	Path           []byte
	Query          []byte
	Protocol       []byte
	RequestLine    []byte
	Status         int
	BodyBytesSent  int64
	Referer        []byte
	UserAgent      []byte
	Host           []byte
	BytesSent      int64
	RequestTime    time.Duration
	HasRequestTime bool
	Source         netip.AddrPort
	Line           []byte
	Envelope       Envelope
	SyslogPriority int
	SyslogTime     []byte
	SyslogHost     []byte
	SyslogTag      []byte
	SyslogProcID   []byte
	SyslogMsgID    []byte
	format         *Format
}

// Format is an access-log format. The zero value is not valid; use
// FormatCombined or FormatCommon, look one up with FormatByName, or compile
// one from a server's configuration with CompileNginx or CompileApache. A
// Format is immutable and may be shared by any number of Parsers.
type Format struct {
	name string
	kind formatKind
	prog *program // kindCompiled only
}

type formatKind uint8

const (
	kindCombined formatKind = iota + 1
	kindCommon
	kindCompiled
)

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

// Name returns the format's name: "combined" or "common" for the built-ins;
// for a compiled format, the name its log_format or LogFormat directive gave
// it, else "nginx" or "apache".
func (f *Format) Name() string { return f.name }

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

	lastTime    [timeLocalLen]byte // the last time_local text decoded, a copy
	lastTimeVal time.Time
	// last3164 is the last RFC 3164 timestamp found valid, a copy; zero
	// until one is. Syslog stamps repeat like the access time does.
	last3164 [rfc3164TimeLen]byte

	masks lineMasks // of the line being parsed, when quoteMasks made them
	// noMasks makes the parser scan for every field, as it does for lines
	// longer than maskBytes; the fuzz tests compare the two ways.
	noMasks bool
}

// quoteMasks fills p.masks for s and reports whether it did: s fits in
// them and the CPU has the vector instructions.
func (p *Parser) quoteMasks(s []byte) bool {
	return len(s) <= maskBytes && !p.noMasks && quoteMasks(s, &p.masks)
}

// Errors returned by Parse. Each failing line gets exactly one of them,
// wrapped with the field it was found in: test with errors.Is, and use
// ErrorReason for a short label to count by.
var (
	ErrEmpty             = errors.New("ingest: empty line")
	ErrTooLong           = errors.New("ingest: line too long")
	ErrSyslogHeader      = errors.New("ingest: malformed syslog header")
	ErrNoMessage         = errors.New("ingest: syslog header with no message")
	ErrMissingField      = errors.New("ingest: missing field")
	ErrUnterminatedQuote = errors.New("ingest: quoted field with no closing quote")
	ErrTime              = errors.New("ingest: invalid time")
	ErrStatus            = errors.New("ingest: invalid status")
	ErrBytes             = errors.New("ingest: invalid byte count")
	ErrUnknownFormat     = errors.New("ingest: unknown format")
)

// parseError says which field a line failed in. The values are allocated
// once, at package init, so a failing line costs no allocation; the message
// is built only when Error is called.
type parseError struct {
	field  string
	reason string
	err    error
}

func (e *parseError) Error() string {
	if e.field == "" {
		return e.err.Error()
	}
	return e.err.Error() + " (" + e.field + " field)"
}
func (e *parseError) Unwrap() error { return e.err }

func newParseError(field, reason string, err error) *parseError {
	return &parseError{field: field, reason: reason, err: err}
}

var (
	errEmpty          = newParseError("", "empty", ErrEmpty)
	errTooLong        = newParseError("", "too_long", ErrTooLong)
	errPriority       = newParseError("syslog priority", "syslog_header", ErrSyslogHeader)
	errSyslogTime     = newParseError("syslog timestamp", "syslog_header", ErrSyslogHeader)
	errSyslogField    = newParseError("syslog header field", "syslog_header", ErrSyslogHeader)
	errSyslogSD       = newParseError("syslog structured data", "syslog_header", ErrSyslogHeader)
	errNoMessage      = newParseError("syslog message", "no_message", ErrNoMessage)
	errNoAddr         = newParseError("remote address", "missing_field", ErrMissingField)
	errNoTime         = newParseError("time", "missing_field", ErrMissingField)
	errNoRequest      = newParseError("request", "missing_field", ErrMissingField)
	errNoStatus       = newParseError("status", "missing_field", ErrMissingField)
	errNoBytes        = newParseError("body bytes sent", "missing_field", ErrMissingField)
	errNoReferer      = newParseError("referer", "missing_field", ErrMissingField)
	errNoUserAgent    = newParseError("user agent", "missing_field", ErrMissingField)
	errQuoteRequest   = newParseError("request", "unterminated_quote", ErrUnterminatedQuote)
	errQuoteReferer   = newParseError("referer", "unterminated_quote", ErrUnterminatedQuote)
	errQuoteUserAgent = newParseError("user agent", "unterminated_quote", ErrUnterminatedQuote)
	errTime           = newParseError("time", "time", ErrTime)
	errStatus         = newParseError("status", "status", ErrStatus)
	errBytes          = newParseError("body bytes sent", "bytes", ErrBytes)
)

// ErrorReason returns a short, stable label for the reason a line failed
// ("time", "status", "missing_field", ...), for counting errors by reason.
// It returns "other" for errors that did not come from Parse and "" for nil.
func ErrorReason(err error) string {
	if err == nil {
		return ""
	}
	if pe, ok := err.(*parseError); ok {
		return pe.reason
	}
	var pe *parseError
	if errors.As(err, &pe) {
		return pe.reason
	}
	return "other"
}

// Parse parses one line into r, overwriting every field of r. A trailing
// "\n" or "\r\n" is ignored. The syslog envelope (RFC 3164, RFC 5424 or none)
// is detected per line.
//
// Request fields reference line; line must not be modified while r is in
// use. On error r holds what was parsed before the failure and the error
// wraps one of the Err* sentinels. Parse does not allocate, also on error.
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
	if line[0] == '<' && (f == nil || f.prog == nil || !f.prog.leadsLT) {
		var err error
		if msg, err = p.parseEnvelope(r, line); err != nil {
			return err
		}
	}
	if f == nil {
		return p.parseAccess(r, msg, kindCombined)
	}
	if f.kind == kindCompiled {
		return p.parseCompiled(r, msg, len(line)-len(msg), f)
	}
	return p.parseAccess(r, msg, f.kind)
}

// view returns b[i:j] with its capacity cut to its length, so that appending
// to a view can never write into the rest of the line.
func view(b []byte, i, j int) []byte { return b[i:j:j] }

// dashless returns nil for the "-" that servers log for an absent value.
func dashless(b []byte) []byte {
	if len(b) == 1 && b[0] == '-' {
		return nil
	}
	return b
}

// parseAccess parses the combined or common format:
//
//	addr ident user [time] "request" status bytes ["referer" "user agent"] [extra...]
//
// The address may hold spaces (a forwarded-for list), so the time field is
// found first and the three leading fields are split from the right.
func (p *Parser) parseAccess(r *Request, s []byte, kind formatKind) error {
	masked := p.quoteMasks(s)
	var lb int
	if masked {
		lb = p.maskedTimeField(s)
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
	r.RemoteAddr = dashless(view(pre, 0, j))

	if lb+timeLocalLen+1 >= len(s) || s[lb+timeLocalLen+1] != ']' {
		return errTime
	}
	if err := p.decodeTime(r, s[lb+1:lb+1+timeLocalLen]); err != nil {
		return err
	}
	pos := lb + timeLocalLen + 2 // past "]"
	if pos+1 >= len(s) || s[pos] != ' ' || s[pos+1] != '"' {
		return errNoRequest
	}
	pos += 2
	end := p.scanRequest(r, s, pos, masked)
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
	end = p.closingQuote(s, pos+1, masked)
	if end < 0 {
		return errQuoteReferer
	}
	r.Referer = dashless(view(s, pos+1, end))
	pos = end + 1
	if pos+1 >= len(s) || s[pos] != ' ' || s[pos+1] != '"' {
		return errNoUserAgent
	}
	pos += 2
	end = p.closingQuote(s, pos, masked)
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

// maskedTimeField is findTimeField read from p.masks: the first '[' when
// it has the time field's shape.
func (p *Parser) maskedTimeField(s []byte) int {
	i := p.masks.nextBracket(0, len(s))
	if i > 0 && s[i-1] == ' ' && i+timeLocalLen+1 < len(s) && s[i+timeLocalLen+1] == ']' {
		return i
	}
	return findTimeField(s)
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

// closingQuote is closingQuote(s, start, start), read from p.masks when
// masked says they hold s: the first quote is the answer unless a
// backslash precedes it.
func (p *Parser) closingQuote(s []byte, start int, masked bool) int {
	if masked {
		i := p.masks.nextQuote(start, len(s))
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

// scanRequest is scanRequest(r, s, pos), read from p.masks when masked
// says they hold s: when the field's first quote has no backslash before it
// and a status after it, that quote ends the field, and the query is the
// first '?' before it. Any other field is left to the scanning function.
func (p *Parser) scanRequest(r *Request, s []byte, pos int, masked bool) int {
	if !masked {
		return scanRequest(r, s, pos)
	}
	end := p.masks.nextQuote(pos, len(s))
	if end < 0 || (end > pos && s[end-1] == '\\') || !endsRequest(s, end) {
		return scanRequest(r, s, pos)
	}
	m := methodEnd(s[pos:])
	if m == 0 || pos+m >= len(s) || s[pos+m] != ' ' {
		r.RequestLine = dashless(view(s, pos, end))
		return end
	}
	setRequest(r, s, pos, m, end, p.masks.nextQuery(pos+m+1, end))
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
	if len(b) == 1 && b[0] == '-' {
		return 0, true
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// byteCountToken decodes the body size at the start of b, a token that ends
// at the first space or at the end of b, in one pass: it returns the size
// and the token's length. The token must be decimal digits, or "-" for
// none; negative and overflowing values are rejected (ok false), as by
// parseByteCount.
func byteCountToken(b []byte) (n int64, length int, ok bool) {
	var v uint64
	i := 0
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		v = v*10 + uint64(d) // wraps past 19 digits, which are rejected below
	}
	switch {
	case i < len(b) && b[i] != ' ':
		if i == 0 && b[0] == '-' && (len(b) == 1 || b[1] == ' ') {
			return 0, 1, true
		}
		return 0, 0, false
	case i == 0 || i > 19 || v > math.MaxInt64:
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

// timeLocalLen is len("10/Oct/2026:13:55:36 +0000"), nginx's $time_local
// and Apache's %t without the brackets.
const timeLocalLen = 26

// decodeTime decodes "dd/Mon/yyyy:hh:mm:ss +hhmm" into r.Time. Consecutive
// lines usually carry the same second, so the last text decoded is kept and
// a repeat costs one 26-byte comparison.
func (p *Parser) decodeTime(r *Request, b []byte) error {
	if !p.lastTimeVal.IsZero() && sameTimeText(b, &p.lastTime) {
		r.Time = p.lastTimeVal
		return nil
	}
	t, ok := decodeTimeLocal(b)
	if !ok {
		return errTime
	}
	copy(p.lastTime[:], b)
	p.lastTimeVal = t
	r.Time = t
	return nil
}

// sameTimeText compares b, of length timeLocalLen, with t in four loads
// per side instead of a call to the runtime's memequal.
func sameTimeText(b []byte, t *[timeLocalLen]byte) bool {
	_ = b[timeLocalLen-1]
	le := binary.LittleEndian
	return le.Uint64(b) == le.Uint64(t[:]) && le.Uint64(b[8:]) == le.Uint64(t[8:]) &&
		le.Uint64(b[16:]) == le.Uint64(t[16:]) && le.Uint16(b[24:]) == le.Uint16(t[24:])
}

func decodeTimeLocal(b []byte) (time.Time, bool) {
	if len(b) != timeLocalLen || b[2] != '/' || b[6] != '/' || b[11] != ':' ||
		b[14] != ':' || b[17] != ':' || b[20] != ' ' || (b[21] != '+' && b[21] != '-') {
		return time.Time{}, false
	}
	day, ok1 := digits2(b[0], b[1])
	year, ok2 := digits2(b[7], b[8])
	yearLo, ok3 := digits2(b[9], b[10])
	hour, ok4 := digits2(b[12], b[13])
	minute, ok5 := digits2(b[15], b[16])
	sec, ok6 := digits2(b[18], b[19])
	offH, ok7 := digits2(b[22], b[23])
	offM, ok8 := digits2(b[24], b[25])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) {
		return time.Time{}, false
	}
	return civilTime(year*100+yearLo, monthIndex(b[3], b[4], b[5]), day, hour, minute, sec, offH, offM, b[21] == '-')
}

// civilTime checks the fields of a decoded timestamp and returns the time
// they name in its own UTC offset, offH:offM east of UTC (west when
// negative), for decodeTimeLocal and decodeTimeISO.
func civilTime(year, month, day, hour, minute, sec, offH, offM int, negative bool) (time.Time, bool) {
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 ||
		sec > 59 || offH > 23 || offM > 59 {
		return time.Time{}, false
	}
	off := offH*60 + offM
	if negative {
		off = -off
	}
	unix := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec) - int64(off)*60
	return time.Unix(unix, 0).In(fixedZone(off)), true
}

func digits2(a, b byte) (int, bool) {
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, false
	}
	return int(a-'0')*10 + int(b-'0'), true
}

// monthIndex returns 1..12 for "Jan".."Dec" as nginx and Apache write them,
// or 0.
func monthIndex(a, b, c byte) int {
	key := uint32(a)<<16 | uint32(b)<<8 | uint32(c)
	for i, m := range monthKeys {
		if m == key {
			return i + 1
		}
	}
	return 0
}

var monthKeys = func() (k [12]uint32) {
	for i, m := range [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"} {
		k[i] = uint32(m[0])<<16 | uint32(m[1])<<8 | uint32(m[2])
	}
	return k
}()

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(month, year int) int {
	switch month {
	case 2:
		if isLeap(year) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch returns the days from 1970-01-01 to the given civil date
// in the proleptic Gregorian calendar (Howard Hinnant's days_from_civil).
func daysSinceEpoch(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 { // only year 0000 in January or February
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097+doe) - 719468
}

// zones caches one *time.Location per UTC offset in minutes, because
// time.FixedZone allocates. The table is bounded (offsets are at most
// ±23:59) and lock-free to read.
var zones [2*maxOffsetMinutes + 1]atomic.Pointer[time.Location]

const maxOffsetMinutes = 23*60 + 59

func fixedZone(offMinutes int) *time.Location {
	if offMinutes == 0 {
		return time.UTC
	}
	slot := &zones[offMinutes+maxOffsetMinutes]
	if loc := slot.Load(); loc != nil {
		return loc
	}
	loc := time.FixedZone("", offMinutes*60)
	if slot.CompareAndSwap(nil, loc) {
		return loc
	}
	return slot.Load()
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
	if len(s) < rfc3164TimeLen || !p.check3164Time(s[:rfc3164TimeLen]) {
		return nil, errSyslogTime
	}
	r.SyslogTime = view(s, 0, rfc3164TimeLen)
	s = s[rfc3164TimeLen:]
	if len(s) < 2 || s[0] != ' ' {
		return nil, errNoMessage
	}
	s = s[1:]
	// Then "host tag: msg", "tag: msg" (nohostname) or "host msg" (no tag).
	tok, after, ok := cutSpace(s)
	if isTag(tok) {
		setTag(r, tok)
		return message(after, ok)
	}
	r.SyslogHost = tok
	if !ok {
		return nil, errNoMessage
	}
	tok2, after2, ok2 := cutSpace(after)
	if isTag(tok2) {
		setTag(r, tok2)
		return message(after2, ok2)
	}
	return message(after, true)
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

// message checks that a header is followed by a message.
func message(msg []byte, ok bool) ([]byte, error) {
	if !ok || len(bytes.TrimLeft(msg, " ")) == 0 {
		return nil, errNoMessage
	}
	return msg, nil
}

// isTag reports whether tok is an RFC 3164 TAG field: it ends with ':'.
func isTag(tok []byte) bool { return len(tok) > 1 && tok[len(tok)-1] == ':' }

// setTag stores "nginx:" or "nginx[123]:" as tag "nginx" and proc ID "123".
func setTag(r *Request, tok []byte) {
	tok = tok[:len(tok)-1]
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
