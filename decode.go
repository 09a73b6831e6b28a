package ingest

import (
	"bytes"
	"encoding/binary"
	"math"
	"sync/atomic"
	"time"
)

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

// isoTimeLen is len("2026-11-25T21:22:09+00:00"), nginx's $time_iso8601.
const isoTimeLen = 25

// decodeTimeISO decodes nginx's $time_iso8601, "yyyy-mm-ddThh:mm:ss+hh:mm".
func decodeTimeISO(b []byte) (time.Time, bool) {
	if len(b) != isoTimeLen || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' ||
		b[16] != ':' || (b[19] != '+' && b[19] != '-') || b[22] != ':' {
		return time.Time{}, false
	}
	y1, ok1 := digits2(b[0], b[1])
	y2, ok2 := digits2(b[2], b[3])
	month, ok3 := digits2(b[5], b[6])
	day, ok4 := digits2(b[8], b[9])
	hour, ok5 := digits2(b[11], b[12])
	minute, ok6 := digits2(b[14], b[15])
	sec, ok7 := digits2(b[17], b[18])
	offH, ok8 := digits2(b[20], b[21])
	offM, ok9 := digits2(b[23], b[24])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8 && ok9) {
		return time.Time{}, false
	}
	return civilTime(y1*100+y2, month, day, hour, minute, sec, offH, offM, b[19] == '-')
}

// decimal splits "123.456" into 123 and 456000000 nanoseconds of the unit.
// The integer part has 1 to maxInt digits, the fraction 1 to 9 when a '.'
// is present.
func decimal(b []byte, maxInt int) (whole int64, frac int64, ok bool) {
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		whole = whole*10 + int64(b[i]-'0')
	}
	if i == 0 || i > maxInt {
		return 0, 0, false
	}
	if i == len(b) {
		return whole, 0, true
	}
	if b[i] != '.' || len(b)-i-1 < 1 || len(b)-i-1 > 9 {
		return 0, 0, false
	}
	scale := int64(1e9)
	for _, c := range b[i+1:] {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		scale /= 10
		frac += int64(c-'0') * scale
	}
	return whole, frac, true
}

// decodeEpoch decodes a time since the Unix epoch: $msec ("1732569729.123")
// or Apache's %{sec}t, %{msec}t and %{usec}t (integers). The time is UTC.
func decodeEpoch(b []byte, f field) (time.Time, bool) {
	if f == fMsec {
		sec, ns, ok := decimal(b, 12)
		if !ok {
			return time.Time{}, false
		}
		return time.Unix(sec, ns).UTC(), true
	}
	n, ok := parseByteCount(b)
	if !ok || len(b) == 1 && b[0] == '-' {
		return time.Time{}, false
	}
	switch f {
	case fEpochMsec:
		return time.UnixMilli(n).UTC(), true
	case fEpochUsec:
		return time.UnixMicro(n).UTC(), true
	}
	if n > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// decodeDuration decodes $request_time (seconds with up to 9 decimals) or
// Apache's integer %D (microseconds), %{ms}T and %T.
func decodeDuration(b []byte, f field) (time.Duration, bool) {
	if f == fReqTime {
		sec, ns, ok := decimal(b, 9)
		if !ok {
			return 0, false
		}
		return time.Duration(sec)*time.Second + time.Duration(ns), true
	}
	n, ok := parseByteCount(b)
	if !ok || len(b) == 1 && b[0] == '-' {
		return 0, false
	}
	unit := time.Microsecond
	switch f {
	case fReqTimeMsec:
		unit = time.Millisecond
	case fReqTimeSec:
		unit = time.Second
	}
	if n > int64(1<<63-1)/int64(unit) {
		return 0, false
	}
	return time.Duration(n) * unit, true
}
