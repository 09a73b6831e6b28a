package forward

import (
	"bytes"
	"strconv"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/route"
)

// wire is how one sink writes a record: an optional line before it (the
// _bulk action) and its keys for time and message.
type wire struct {
	prefix  []byte // written before the object, with its '\n'
	timeKey string // `,"_time":`
	msgKey  string // `,"_msg":`
	unix    bool   // time as Unix nanoseconds
}

// maxUnescape bounds the scratch buffer of an encoder; a larger one is
// dropped after use.
const maxUnescape = 64 << 10

// encoder encodes Requests into records. One per shard: it is used under
// the shard's lock.
type encoder struct {
	sel    *selection
	routes *route.Templater
	vhost  []byte
	vk     varKeys
	unesc  []byte // escape=json values, decoded
	// fixed is the most bytes a record takes besides its variable-length
	// values (keys, numbers, time, route, static fields).
	fixed int
}

func newEncoder(sel *selection, o *Options) *encoder {
	e := &encoder{sel: sel, routes: o.Routes, vhost: []byte(o.VHost)}
	e.fixed = 64 + 2*len("@timestamp") + len(sel.static) + 6*route.MaxRouteLen + 6*len(o.VHost)
	for _, k := range sel.keys {
		e.fixed += len(k) + 24 // the key and a number, or the quotes of a string
	}
	return e
}

// bound returns the most bytes append can write for r: every string as
// if each byte took a 6-byte escape.
func (e *encoder) bound(r *ingest.Request, w *wire) int {
	n := len(r.Line) + len(r.RemoteAddr) + len(r.RemoteUser) + len(r.Method) + len(r.Path) +
		len(r.Query) + len(r.Protocol) + len(r.RequestLine) + len(r.Referer) + len(r.UserAgent) +
		len(r.Host) + len(r.SyslogTime) + len(r.SyslogHost) + len(r.SyslogTag) +
		len(r.SyslogProcID) + len(r.SyslogMsgID)
	// The extra variables are disjoint parts of Line: len(Line) bounds
	// them, and their keys are at most MaxFormatVars keys of 64+ bytes.
	n += len(r.Line)
	vars := 0
	if f := r.Format(); f != nil {
		if e.vk.format == f {
			for _, k := range e.vk.keys {
				vars += len(k) + 2
			}
		} else {
			vars = ingest.MaxFormatVars * 512
		}
	}
	return len(w.prefix) + e.fixed + 6*n + vars
}

// append appends r's record to dst as w writes it, with its '\n'.
func (e *encoder) append(dst []byte, r *ingest.Request, w *wire) []byte {
	sel := e.sel
	fs := sel.fields
	dst = append(dst, w.prefix...)
	start := len(dst)
	esc := false
	f := r.Format()
	if f != nil {
		esc = f.JSONEscaped()
	}
	if fs.has(fTime) && !r.Time.IsZero() {
		dst = append(dst, w.timeKey...)
		if w.unix {
			dst = strconv.AppendInt(dst, r.Time.UnixNano(), 10)
		} else {
			dst = append(dst, '"')
			dst = appendRFC3339(dst, r.Time)
			dst = append(dst, '"')
		}
	}
	if fs.has(fMsg) && len(r.Line) > 0 {
		dst = append(dst, w.msgKey...)
		dst = ingest.AppendJSONString(dst, r.Line)
	}
	dst = e.str(dst, fRemoteAddr, r.RemoteAddr, esc)
	dst = e.str(dst, fRemoteUser, r.RemoteUser, esc)
	dst = e.str(dst, fMethod, r.Method, esc)
	dst = e.str(dst, fPath, r.Path, esc)
	dst = e.str(dst, fQuery, r.Query, esc)
	dst = e.str(dst, fProtocol, r.Protocol, esc)
	dst = e.str(dst, fRequest, r.RequestLine, esc)
	if fs.has(fStatus) {
		dst = append(dst, sel.keys[fStatus]...)
		dst = strconv.AppendInt(dst, int64(r.Status), 10)
	}
	if fs.has(fBodyBytes) {
		dst = append(dst, sel.keys[fBodyBytes]...)
		dst = strconv.AppendInt(dst, r.BodyBytesSent, 10)
	}
	if fs.has(fBytesSent) && r.BytesSent != 0 {
		dst = append(dst, sel.keys[fBytesSent]...)
		dst = strconv.AppendInt(dst, r.BytesSent, 10)
	}
	if fs.has(fRequestTime) && r.HasRequestTime {
		dst = append(dst, sel.keys[fRequestTime]...)
		dst = appendSeconds(dst, r.RequestTime)
	}
	dst = e.str(dst, fReferer, r.Referer, esc)
	dst = e.str(dst, fUserAgent, r.UserAgent, esc)
	if len(r.Host) > 0 {
		dst = e.str(dst, fVHost, r.Host, esc)
	} else {
		dst = e.str(dst, fVHost, e.vhost, false)
	}
	if fs.has(fRoute) {
		dst = append(dst, sel.keys[fRoute]...)
		var rb [route.MaxRouteLen + 64]byte
		method, path := r.Method, r.Path
		if esc && (bytes.IndexByte(method, '\\') >= 0 || bytes.IndexByte(path, '\\') >= 0) {
			// Route the decoded path: what the client sent.
			e.unesc = ingest.AppendUnescapedJSON(e.unesc[:0], path)
			n := len(e.unesc)
			e.unesc = ingest.AppendUnescapedJSON(e.unesc, method)
			method, path = e.unesc[n:], e.unesc[:n]
		}
		dst = ingest.AppendJSONString(dst, e.routes.Append(rb[:0], method, path))
	}
	if fs.has(fSource) && r.Source.IsValid() {
		dst = append(dst, sel.keys[fSource]...)
		dst = append(dst, '"')
		dst = r.Source.AppendTo(dst)
		dst = append(dst, '"')
	}
	if r.Envelope != ingest.EnvelopeNone {
		if fs.has(fSyslogPriority) {
			dst = append(dst, sel.keys[fSyslogPriority]...)
			dst = strconv.AppendInt(dst, int64(r.SyslogPriority), 10)
		}
		dst = e.str(dst, fSyslogTime, r.SyslogTime, false)
		dst = e.str(dst, fSyslogHost, r.SyslogHost, false)
		dst = e.str(dst, fSyslogTag, r.SyslogTag, false)
		dst = e.str(dst, fSyslogProcID, r.SyslogProcID, false)
		dst = e.str(dst, fSyslogMsgID, r.SyslogMsgID, false)
	}
	if f != nil {
		if e.vk.format != f {
			e.vk = sel.keysFor(f)
		}
		i := 0
		for _, v := range r.Vars() {
			if i < len(e.vk.keys) && len(v) > 0 && e.vk.keys[i] != "" {
				dst = append(dst, e.vk.keys[i]...)
				dst = e.value(dst, v, esc)
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

// str appends field f when it is selected and v is not empty.
func (e *encoder) str(dst []byte, f int, v []byte, esc bool) []byte {
	if len(v) == 0 || !e.sel.fields.has(f) {
		return dst
	}
	dst = append(dst, e.sel.keys[f]...)
	return e.value(dst, v, esc)
}

// value appends v as a JSON string. With esc, v holds JSON escapes (nginx
// escape=json): they are decoded first, so the store holds the value the
// server logged, and the result escaped again, which also replaces
// invalid UTF-8 and escapes control bytes a forged line may hold.
func (e *encoder) value(dst, v []byte, esc bool) []byte {
	if !esc || bytes.IndexByte(v, '\\') < 0 {
		return ingest.AppendJSONString(dst, v)
	}
	e.unesc = ingest.AppendUnescapedJSON(e.unesc[:0], v)
	dst = ingest.AppendJSONString(dst, e.unesc)
	if cap(e.unesc) > maxUnescape {
		e.unesc = nil
	}
	return dst
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
	frac := u % 1e9
	if frac == 0 {
		return dst
	}
	var b [10]byte
	b[0] = '.'
	for i := 9; i >= 1; i-- {
		b[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 10
	for b[n-1] == '0' {
		n--
	}
	return append(dst, b[:n]...)
}

// appendRFC3339 appends t as RFC 3339 with as many fraction digits as it
// needs and t's own offset, "Z" for UTC. It is time.RFC3339Nano's layout,
// written without the layout interpreter.
func appendRFC3339(dst []byte, t time.Time) []byte {
	_, off := t.Zone()
	local := t.Unix() + int64(off)
	days := local / 86400
	sod := local % 86400
	if sod < 0 {
		sod += 86400
		days--
	}
	y, m, d := civil(days)
	if y < 0 || y > 9999 || off%60 != 0 {
		return t.AppendFormat(dst, time.RFC3339Nano)
	}
	var b [35]byte
	put4(b[0:], int(y))
	b[4] = '-'
	put2(b[5:], int(m))
	b[7] = '-'
	put2(b[8:], int(d))
	b[10] = 'T'
	put2(b[11:], int(sod/3600))
	b[13] = ':'
	put2(b[14:], int(sod/60%60))
	b[16] = ':'
	put2(b[17:], int(sod%60))
	n := 19
	if ns := t.Nanosecond(); ns != 0 {
		b[n] = '.'
		for i := 9; i >= 1; i-- {
			b[n+i] = byte('0' + ns%10)
			ns /= 10
		}
		n += 10
		for b[n-1] == '0' {
			n--
		}
	}
	if off == 0 {
		b[n] = 'Z'
		n++
	} else {
		b[n] = '+'
		if off < 0 {
			b[n] = '-'
			off = -off
		}
		put2(b[n+1:], off/3600)
		b[n+3] = ':'
		put2(b[n+4:], off/60%60)
		n += 6
	}
	return append(dst, b[:n]...)
}

// civil returns the proleptic Gregorian date of the day days after
// 1970-01-01 (H. Hinnant's days-to-civil algorithm).
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func put2(b []byte, v int) {
	b[0] = byte('0' + v/10%10)
	b[1] = byte('0' + v%10)
}

func put4(b []byte, v int) {
	put2(b, v/100)
	put2(b[2:], v%100)
}
