package forward

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/route"
)

// wire is how one sink writes a record: an optional line before it (the
// _bulk action) and its keys for time and message.
type wire struct {
	prefix  []byte // written before the object, with its '\n'
	timeKey key    // `,"_time":"`, without the quote for Unix nanoseconds
	msgKey  key    // `,"_msg":"`
	unix    bool   // time as Unix nanoseconds
}

func newWire(prefix []byte, timeName, msgName string, unix bool) wire {
	tk := appendKey(nil, timeName)
	if !unix {
		tk = append(tk, '"')
	}
	return wire{prefix: prefix, timeKey: newKey(tk), msgKey: newKey(append(appendKey(nil, msgName), '"')), unix: unix}
}

// maxUnescape bounds the scratch buffer of an encoder; a larger one is
// dropped after use.
const maxUnescape = 64 << 10

// maxFormats is how many formats' variable keys an encoder keeps.
const maxFormats = 4

// encoder encodes Requests into records. One per shard: it is used under
// the shard's lock.
//
// A record is a run of appends straight from the Request's views: keys
// are made once (with the quote that opens a string value), and the bytes
// of the line are classified for escaping once per line (lineMask), so
// that a field, a view into the line, is copied whole after a few bit
// tests when none of its bytes needs escaping, which is the rule.
type encoder struct {
	sel    *selection
	routes *route.Templater
	vhost  []byte // Options.VHost, escaped
	// fixed is the most bytes a record takes besides its variable-length
	// values (keys, numbers, time, route, static fields).
	fixed int

	formats [maxFormats]varKeys // the variable keys of the last formats met
	nextFmt int                 // the slot of formats to replace next
	times   timeCache
	source  netip.AddrPort // the last source written, and its text
	srcText [64]byte
	srcN    int
	route   []byte // a route that needs escaping, copied
	unesc   []byte // escape=json values, decoded

	// The line being encoded, set by begin.
	line     []byte
	lineBase uintptr // the address of line's first byte
	mlen     int     // len(line) when mask classifies it, else 0
	esc      bool    // the values hold JSON escapes (nginx escape=json)
	vk       *varKeys
	loose    int // looseBound without the sink's prefix
	tight    int // bound without the sink's prefix; 0 until computed
	mask     lineMask
}

func newEncoder(sel *selection, o *Options) *encoder {
	e := &encoder{sel: sel, routes: o.Routes, vhost: appendString(nil, []byte(o.VHost))}
	e.fixed = 64 + 2*len("@timestamp") + len(sel.static) + 6*route.MaxRouteLen + len(e.vhost) + len(e.srcText) + keySlack
	for _, k := range sel.keys {
		e.fixed += k.n + 24 // the key and a number, or the quotes of a string
	}
	return e
}

// begin prepares the encoding of r, for every sink: it classifies the
// bytes of r's line, finds the keys of r's format's variables and bounds
// the record's length. end must follow, once r's records are written.
func (e *encoder) begin(r *ingest.Request) {
	e.line = r.Line
	e.lineBase = uintptr(unsafe.Pointer(unsafe.SliceData(r.Line)))
	e.mlen = 0
	if e.mask.build(r.Line) {
		e.mlen = len(r.Line)
	}
	e.esc = false
	e.vk = nil
	if f := r.Format(); f != nil {
		e.esc = f.JSONEscaped()
		e.vk = e.keysFor(f)
	}
	// Six bytes a byte of every string: the line for the message and
	// the variables, which are disjoint parts of it, and each field.
	n := len(r.Line) + len(r.RemoteAddr) + len(r.RemoteUser) + len(r.Method) + len(r.Path) +
		len(r.Query) + len(r.Protocol) + len(r.RequestLine) + len(r.Referer) + len(r.UserAgent) +
		len(r.Host) + len(r.SyslogTime) + len(r.SyslogHost) + len(r.SyslogTag) +
		len(r.SyslogProcID) + len(r.SyslogMsgID)
	e.loose = e.fixed + 6*n
	if e.vk != nil {
		e.loose += e.vk.bytes + 6*len(r.Line)
	}
	e.tight = 0
}

// end drops the encoder's views of the line: a Forwarder retains no slice
// of a Request once ServeLine returned.
func (e *encoder) end() {
	e.line, e.lineBase, e.mlen = nil, 0, 0
}

// keysFor returns the variable keys of format f, made the first time an
// encoder meets f; an encoder keeps those of its last maxFormats formats.
func (e *encoder) keysFor(f *ingest.Format) *varKeys {
	for i := range e.formats {
		if e.formats[i].format == f {
			return &e.formats[i]
		}
	}
	vk := &e.formats[e.nextFmt]
	e.nextFmt = (e.nextFmt + 1) % maxFormats
	*vk = e.sel.keysFor(f)
	return vk
}

// looseBound returns a bound of what record can write for r, after
// begin(r), that costs nothing: six bytes for each byte of a string.
func (e *encoder) looseBound(w *wire) int { return len(w.prefix) + e.loose }

// bound returns the most bytes record can write for r, after begin(r),
// closer to the record's length than looseBound: it is asked for when
// that does not fit (a batch nearly full, a line of several KiB in small
// batches).
func (e *encoder) bound(r *ingest.Request, w *wire) int {
	if e.tight == 0 {
		// Both bound the record: the loose one is the lower for a line
		// that is mostly bytes to escape.
		e.tight = min(e.boundOf(r), e.loose)
	}
	return len(w.prefix) + e.tight
}

// boundOf bounds r's record, less the sink's prefix. A string's bytes
// each take one byte, but those that need escaping, which may take six
// (a JSON escape that nginx wrote decodes to a byte that takes at most
// five more than the escape did). The line's are counted by its mask, and
// a byte of the line is in at most four strings: the message, the
// request line, a part of it, and a field of its own. A string that is
// not a view into the classified line is counted at six bytes a byte.
func (e *encoder) boundOf(r *ingest.Request) int {
	n := len(r.RemoteAddr) + len(r.RemoteUser) + len(r.Method) + len(r.Path) + len(r.Query) +
		len(r.Protocol) + len(r.RequestLine) + len(r.Referer) + len(r.UserAgent) + len(r.Host) +
		len(r.SyslogTime) + len(r.SyslogHost) + len(r.SyslogTag) + len(r.SyslogProcID) + len(r.SyslogMsgID)
	ext := e.ext(r.RemoteAddr) + e.ext(r.RemoteUser) + e.ext(r.Method) + e.ext(r.Path) + e.ext(r.Query) +
		e.ext(r.Protocol) + e.ext(r.RequestLine) + e.ext(r.Referer) + e.ext(r.UserAgent) + e.ext(r.Host) +
		e.ext(r.SyslogTime) + e.ext(r.SyslogHost) + e.ext(r.SyslogTag) + e.ext(r.SyslogProcID) + e.ext(r.SyslogMsgID)
	n += 5 * ext
	line := 6 * len(r.Line)
	if e.mlen != 0 {
		line = len(r.Line)
		n += 4 * 5 * e.mask.special
	}
	n += line
	if e.vk != nil {
		// The extra variables are disjoint views into the line.
		n += e.vk.bytes + line
	}
	return e.fixed + n
}

// ext returns len(v) when v is not a view into the classified line, else
// 0.
func (e *encoder) ext(v []byte) int {
	if _, ok := e.view(v); ok {
		return 0
	}
	return len(v)
}

// view returns the offset of v in the line being encoded, when v is a
// view into it and the line's mask classifies its bytes.
func (e *encoder) view(v []byte) (int, bool) {
	off := uintptr(unsafe.Pointer(unsafe.SliceData(v))) - e.lineBase
	// off is huge when v starts before the line: the first test fails.
	if off < uintptr(e.mlen) && off+uintptr(len(v)) <= uintptr(e.mlen) {
		return int(off), true
	}
	return 0, false
}

// append appends r's record to dst as w writes it, with its '\n'.
func (e *encoder) append(dst []byte, r *ingest.Request, w *wire) []byte {
	e.begin(r)
	dst = e.record(slices.Grow(dst, e.looseBound(w)), r, w)
	e.end()
	return dst
}

// record appends r's record to dst as w writes it, with its '\n', after
// begin(r). dst must have room for bound(r, w) (or looseBound(w)) more
// bytes: the record is written without a check on the room left.
//
// It is one straight run of appends in the order of AllFields: for each
// selected field that the line has, its pre-encoded key, then its value,
// copied from the line's views (see keyValue), or a number.
func (e *encoder) record(dst []byte, r *ingest.Request, w *wire) []byte {
	sel := e.sel
	fs := sel.fields
	keys := &sel.keys
	esc := e.esc
	dst = append(dst, w.prefix...)
	start := len(dst)
	if fs.has(fTime) && !r.Time.IsZero() {
		dst = w.timeKey.put(dst)
		if w.unix {
			dst = e.times.appendUnixNano(dst, r.Time)
		} else {
			dst = e.times.appendRFC3339(dst, r.Time)
			dst = append(dst, '"')
		}
	}
	if fs.has(fMsg) && len(r.Line) > 0 {
		dst = w.msgKey.put(dst)
		if e.mlen != 0 {
			dst = e.mask.appendEscaped(dst, r.Line, 0, len(r.Line))
		} else {
			dst = appendString(dst, r.Line)
		}
		dst = append(dst, '"')
	}
	if len(r.RemoteAddr) > 0 && fs.has(fRemoteAddr) {
		dst = e.keyValue(dst, &keys[fRemoteAddr], r.RemoteAddr, esc)
	}
	if len(r.RemoteUser) > 0 && fs.has(fRemoteUser) {
		dst = e.keyValue(dst, &keys[fRemoteUser], r.RemoteUser, esc)
	}
	if len(r.Method) > 0 && fs.has(fMethod) {
		dst = e.keyValue(dst, &keys[fMethod], r.Method, esc)
	}
	if len(r.Path) > 0 && fs.has(fPath) {
		dst = e.keyValue(dst, &keys[fPath], r.Path, esc)
	}
	if len(r.Query) > 0 && fs.has(fQuery) {
		dst = e.keyValue(dst, &keys[fQuery], r.Query, esc)
	}
	if len(r.Protocol) > 0 && fs.has(fProtocol) {
		dst = e.keyValue(dst, &keys[fProtocol], r.Protocol, esc)
	}
	if len(r.RequestLine) > 0 && fs.has(fRequest) {
		dst = e.keyValue(dst, &keys[fRequest], r.RequestLine, esc)
	}
	if fs.has(fStatus) {
		dst = keys[fStatus].put(dst)
		if s := r.Status; s >= 100 && s <= 999 {
			dst = append(dst, byte('0'+s/100), byte('0'+s/10%10), byte('0'+s%10))
		} else {
			dst = strconv.AppendInt(dst, int64(s), 10)
		}
	}
	if fs.has(fBodyBytes) {
		dst = keys[fBodyBytes].put(dst)
		dst = appendInt(dst, r.BodyBytesSent)
	}
	if r.BytesSent != 0 && fs.has(fBytesSent) {
		dst = keys[fBytesSent].put(dst)
		dst = appendInt(dst, r.BytesSent)
	}
	if r.HasRequestTime && fs.has(fRequestTime) {
		dst = keys[fRequestTime].put(dst)
		dst = appendSeconds(dst, r.RequestTime)
	}
	if len(r.Referer) > 0 && fs.has(fReferer) {
		dst = e.keyValue(dst, &keys[fReferer], r.Referer, esc)
	}
	if len(r.UserAgent) > 0 && fs.has(fUserAgent) {
		dst = e.keyValue(dst, &keys[fUserAgent], r.UserAgent, esc)
	}
	if fs.has(fVHost) {
		if len(r.Host) > 0 {
			dst = e.keyValue(dst, &keys[fVHost], r.Host, esc)
		} else if len(e.vhost) > 0 {
			dst = keys[fVHost].put(dst)
			dst = append(dst, e.vhost...)
			dst = append(dst, '"')
		}
	}
	if fs.has(fRoute) {
		dst = e.appendRoute(dst, r.Method, r.Path)
	}
	if r.Source.IsValid() && fs.has(fSource) {
		dst = keys[fSource].put(dst)
		dst = e.appendSource(dst, r.Source)
	}
	if r.Envelope != ingest.EnvelopeNone {
		dst = e.syslog(dst, r)
	}
	if vk := e.vk; vk != nil {
		vkeys := vk.keys
		i := 0
		for _, v := range r.Vars() {
			if i < len(vkeys) && len(v) > 0 && vkeys[i].n != 0 {
				dst = e.keyValue(dst, &vkeys[i], v, esc)
			}
			i++
		}
	}
	dst = append(dst, sel.static...)
	if len(dst) == start {
		dst = append(dst, '{')
	} else {
		dst[start] = '{' // the first field's comma
	}
	return append(dst, '}', '\n')
}

// syslog appends the fields of r's syslog envelope. They are never JSON
// escaped.
func (e *encoder) syslog(dst []byte, r *ingest.Request) []byte {
	if e.sel.fields.has(fSyslogPriority) {
		dst = e.sel.keys[fSyslogPriority].put(dst)
		dst = appendInt(dst, int64(r.SyslogPriority))
	}
	dst = e.str(dst, fSyslogTime, r.SyslogTime, false)
	dst = e.str(dst, fSyslogHost, r.SyslogHost, false)
	dst = e.str(dst, fSyslogTag, r.SyslogTag, false)
	dst = e.str(dst, fSyslogProcID, r.SyslogProcID, false)
	return e.str(dst, fSyslogMsgID, r.SyslogMsgID, false)
}

// str appends field f when it is selected and v is not empty.
func (e *encoder) str(dst []byte, f int, v []byte, esc bool) []byte {
	if len(v) == 0 || !e.sel.fields.has(f) {
		return dst
	}
	return e.keyValue(dst, &e.sel.keys[f], v, esc)
}

// keyValue appends k and v, not empty, as a JSON string. A short view
// into the line whose bytes need no escaping, the rule, takes a few bit
// tests and one 32-byte copy (dst has room for keySlack more bytes).
func (e *encoder) keyValue(dst []byte, k *key, v []byte, esc bool) []byte {
	dst = k.put(dst)
	off := uintptr(unsafe.Pointer(unsafe.SliceData(v))) - e.lineBase
	n := len(v)
	// off is huge when v starts before the line: the first test fails.
	if off < uintptr(e.mlen) && off+uintptr(n) <= uintptr(e.mlen) && n < 32 && off+32 <= uintptr(len(e.line)) {
		// v's bits are in the mask word of its first byte and maybe the
		// next; bits past the line's end are never looked at.
		o := int(off)
		w := e.mask.w[o>>6&(maskWords-1)]>>(o&63) | e.mask.w[(o>>6+1)&(maskWords-1)]<<(64-o&63)
		if w&(1<<n-1) == 0 {
			at := len(dst)
			copy32((*[32]byte)(dst[at:at+32]), (*[32]byte)(e.line[o:o+32]))
			dst = dst[:at+n+1]
			dst[at+n] = '"'
			return dst
		}
	}
	return e.strValue(dst, v, esc)
}

// strValue appends v, not empty, as the inside of a JSON string, and the
// closing quote.
func (e *encoder) strValue(dst, v []byte, esc bool) []byte {
	if off, ok := e.view(v); ok && !e.mask.any(off, off+len(v)) {
		dst = append(dst, v...)
		return append(dst, '"')
	}
	return append(e.value(dst, v, esc), '"')
}

// copy32 copies 32 bytes, in four 8-byte moves.
func copy32(dst, src *[32]byte) {
	a, b := load64(src[0:]), load64(src[8:])
	c, d := load64(src[16:]), load64(src[24:])
	binary.LittleEndian.PutUint64(dst[0:], a)
	binary.LittleEndian.PutUint64(dst[8:], b)
	binary.LittleEndian.PutUint64(dst[16:], c)
	binary.LittleEndian.PutUint64(dst[24:], d)
}

// value appends v, not empty, as the inside of a JSON string: the path
// for values that need escaping or are not views into the classified
// line. With esc, v holds JSON escapes (nginx escape=json): they are
// decoded first, so the store holds the value the server logged, and the
// result escaped again, which also replaces invalid UTF-8 and escapes
// control bytes a forged line may hold.
func (e *encoder) value(dst, v []byte, esc bool) []byte {
	if !esc || bytes.IndexByte(v, '\\') < 0 {
		if off, ok := e.view(v); ok {
			return e.mask.appendEscaped(dst, e.line, off, off+len(v))
		}
		return appendString(dst, v)
	}
	e.unesc = ingest.AppendUnescapedJSON(e.unesc[:0], v)
	dst = appendString(dst, e.unesc)
	if cap(e.unesc) > maxUnescape {
		e.unesc = nil
	}
	return dst
}

// hasEscape reports whether v, a value of an escape=json format, holds a
// JSON escape.
func (e *encoder) hasEscape(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	if off, ok := e.view(v); ok && !e.mask.any(off, off+len(v)) {
		return false
	}
	return bytes.IndexByte(v, '\\') >= 0
}

// appendRoute appends the route key and the route template of method and
// path, as a JSON string.
func (e *encoder) appendRoute(dst, method, path []byte) []byte {
	dst = e.sel.keys[fRoute].put(dst)
	if e.esc && (e.hasEscape(method) || e.hasEscape(path)) {
		// Route the decoded path: what the client sent.
		e.unesc = ingest.AppendUnescapedJSON(e.unesc[:0], path)
		n := len(e.unesc)
		e.unesc = ingest.AppendUnescapedJSON(e.unesc, method)
		method, path = e.unesc[n:], e.unesc[:n]
	}
	n := len(dst)
	dst = e.routes.Append(dst, method, path)
	if routeSpecial(dst, n) {
		// A '"' or '\\' in the route (printable ASCII): escape it.
		e.route = append(e.route[:0], dst[n:]...)
		dst = appendString(dst[:n], e.route)
	}
	return append(dst, '"')
}

// routeSpecial reports whether dst[n:], a route, holds a byte to escape.
// A route is printable ASCII, at most route.MaxRouteLen bytes; the usual
// one, under 32 bytes, is checked with four 8-byte loads: dst has room
// for keySlack more bytes, whose bits are masked off.
func routeSpecial(dst []byte, n int) bool {
	l := len(dst) - n
	if l >= 32 {
		return firstSpecial(dst[n:]) < l
	}
	b := (*[32]byte)(dst[n : n+32])
	m0 := specialBits(load64(b[0:]))
	m1 := specialBits(load64(b[8:]))
	m2 := specialBits(load64(b[16:]))
	m3 := specialBits(load64(b[24:]))
	var m uint64
	switch {
	case l <= 8:
		m = m0 & lowBytes(l)
	case l <= 16:
		m = m0 | m1&lowBytes(l-8)
	case l <= 24:
		m = m0 | m1 | m2&lowBytes(l-16)
	default:
		m = m0 | m1 | m2 | m3&lowBytes(l-24)
	}
	return m != 0
}

// lowBytes returns a word whose first n bytes (1 <= n <= 8) are all ones.
func lowBytes(n int) uint64 { return ^uint64(0) >> (64 - 8*n) }

// appendSource appends the address a and the quote that closes it (the
// key holds the one that opens it). Lines come from the same sender again
// and again: the text of the last one is kept.
func (e *encoder) appendSource(dst []byte, a netip.AddrPort) []byte {
	if a != e.source || e.srcN == 0 {
		e.source = a
		if len(a.Addr().Zone()) > 15 {
			// Longer than an interface name: left out, so the text
			// stays within its bound ("[v6%zone]:port" and the quote:
			// at most 63 bytes).
			a = netip.AddrPortFrom(a.Addr().WithZone(""), a.Port())
		}
		b := a.AppendTo(e.srcText[:0])
		e.srcN = len(append(b, '"'))
	}
	return append(dst, e.srcText[:e.srcN]...)
}

// appendInt appends v in decimal.
func appendInt(dst []byte, v int64) []byte {
	if v >= 0 && v < 10000 {
		// Status-sized numbers: body sizes of small answers, priorities.
		switch {
		case v < 10:
			return append(dst, byte('0'+v))
		case v < 100:
			return append(dst, byte('0'+v/10), byte('0'+v%10))
		case v < 1000:
			return append(dst, byte('0'+v/100), byte('0'+v/10%10), byte('0'+v%10))
		}
		return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
	}
	return strconv.AppendInt(dst, v, 10)
}

// appendSeconds appends d in seconds, with up to nine fraction digits and
// no trailing zeros: 4ms is "0.004".
func appendSeconds(dst []byte, d time.Duration) []byte {
	u := uint64(d)
	if d < 0 {
		dst = append(dst, '-')
		u = uint64(-d)
	}
	dst = strconv.AppendUint(dst, u/1e9, 10)
	if frac := int(u % 1e9); frac != 0 {
		dst = appendFraction(dst, frac)
	}
	return dst
}
