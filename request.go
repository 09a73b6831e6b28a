package ingest

import (
	"iter"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"github.com/valyala/bytebufferpool"
)

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
	// SyslogPriority is the PRI value: facility*8 + severity (0..191), or
	// -1 for an RFC 3164 header that came without its <PRI>
	// ("Mmm dd hh:mm:ss host tag: ", as some relays forward it).
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

// varSpan is an extra variable's value as offsets into Request.Line; end 0
// means empty or absent.
type varSpan struct{ start, end uint32 }

// Format returns the compiled format that parsed r, or nil when a built-in
// format (combined, common) did, or r was not parsed.
func (r *Request) Format() *Format { return r.format }

// Var returns the value of the extra variable name ("upstream_response_time",
// "http_x_forwarded_for", ...; no '$') as the line logged it, or nil when
// the line's format has no such variable or the value is empty or "-".
// Variables that fill a Request field (remote_addr, status, request_time,
// host, ...) are read from the field, not with Var.
//
// The value is a view into Line, with the server's escaping kept (see
// AppendUnescapedJSON), and has the lifetime of every other view of r.
func (r *Request) Var(name string) []byte {
	if r.format == nil {
		return nil
	}
	for i, n := range r.format.prog.names {
		if n == name {
			return r.varAt(i)
		}
	}
	return nil
}

// Vars yields the extra variables of the line's format, by name, in the
// order they first appear in the format, with their values as Var returns
// them. It yields nothing for the built-in formats.
func (r *Request) Vars() iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		if r.format == nil {
			return
		}
		for i, n := range r.format.prog.names {
			if !yield(n, r.varAt(i)) {
				return
			}
		}
	}
}

func (r *Request) varAt(i int) []byte {
	sp := r.vars[i]
	if sp.end == 0 || int(sp.end) > len(r.Line) || sp.start > sp.end {
		return nil
	}
	return r.Line[sp.start:sp.end:sp.end]
}

// OwnedRequest is a deep copy of a Request, made by Request.Clone: its
// slices point into one buffer that it owns and nothing else references.
// It may be kept, and passed to other goroutines, for as long as needed.
//
// Release gives the buffer back for reuse. After Release, the OwnedRequest
// and every slice in it must not be used, and Release must not be called
// again. Not calling Release is safe: the garbage collector then frees the
// buffer.
type OwnedRequest struct {
	Request
	buf *bytebufferpool.ByteBuffer
}

// clonePool recycles clone buffers. A pool of its own calibrates on clone
// sizes only.
var clonePool bytebufferpool.Pool

var ownedPool = sync.Pool{New: func() any { return new(OwnedRequest) }}

// cloneSlack is how much more than twice its size a clone may keep of a
// recycled buffer; see Clone.
const cloneSlack = 512

// Clone returns a deep copy of r whose slices alias nothing of r, for a
// handler that must keep a request beyond its call. All the bytes are
// copied into one buffer: Line once, each field that lies inside Line
// re-sliced from it at its offset, other fields after it. Each slice's
// capacity is cut to its length; nil fields stay nil.
//
// The buffer comes from a bytebufferpool.Pool of its own and goes back with
// Release. With Release, Clone does not allocate once the pools are warm;
// without it, it makes three allocations: the OwnedRequest, the
// bytebufferpool.ByteBuffer and the bytes. A pooled buffer more than twice
// the clone's size plus 512 bytes is replaced by an exact-size one, so a
// kept clone never pins much more memory than it uses.
func (r *Request) Clone() *OwnedRequest {
	src := requestViews(r)
	need := len(r.Line)
	for _, v := range src[1:] {
		if _, in := offsetIn(*v, r.Line); !in {
			need += len(*v)
		}
	}
	buf := clonePool.Get()
	if cap(buf.B) < need || cap(buf.B) > 2*need+cloneSlack {
		buf.B = make([]byte, 0, need)
	}
	b := append(buf.B[:0], r.Line...)
	o := ownedPool.Get().(*OwnedRequest)
	o.Request = *r
	o.buf = buf
	dst := requestViews(&o.Request)
	for i, v := range src {
		switch {
		case *v == nil:
			*dst[i] = nil
		case i == 0:
			*dst[i] = b[:len(b):len(b)]
		default:
			off, in := offsetIn(*v, r.Line)
			if !in {
				off = len(b)
				b = append(b, *v...)
			}
			end := off + len(*v)
			*dst[i] = b[off:end:end]
		}
	}
	buf.B = b
	return o
}

// Release gives o's buffer back to the pool. See OwnedRequest for the
// rules.
func (o *OwnedRequest) Release() {
	buf := o.buf
	if buf == nil {
		return
	}
	o.buf = nil
	o.Request = Request{}
	// No Reset before Put: the pool calibrates on len(buf.B).
	clonePool.Put(buf)
	ownedPool.Put(o)
}

// requestViews returns pointers to every byte-slice field of r, Line first.
func requestViews(r *Request) [16]*[]byte {
	return [16]*[]byte{
		&r.Line,
		&r.RemoteAddr, &r.RemoteUser,
		&r.Method, &r.Path, &r.Query, &r.Protocol, &r.RequestLine,
		&r.Referer, &r.UserAgent, &r.Host,
		&r.SyslogTime, &r.SyslogHost, &r.SyslogTag, &r.SyslogProcID, &r.SyslogMsgID,
	}
}

// offsetIn reports whether v, non-empty, lies inside b, and at which
// offset. It compares addresses only; it never makes a pointer from one.
func offsetIn(v, b []byte) (int, bool) {
	if len(v) == 0 || len(v) > len(b) {
		return 0, false
	}
	vp := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	bp := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if vp < bp || vp-bp > uintptr(len(b)-len(v)) {
		return 0, false
	}
	return int(vp - bp), true
}
