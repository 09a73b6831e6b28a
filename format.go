package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"iter"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// MaxFormatVars is the most extra variables a compiled format may capture:
// variables that fill no Request field ($upstream_response_time,
// $http_x_forwarded_for, ...), counted once per distinct name. A Request
// keeps them as 8-byte offsets in a fixed array, so they cost no allocation
// and at most 256 bytes per Request; CompileNginx and CompileApache reject a
// format with more.
const MaxFormatVars = 32

// ErrBadFormat is what every error of CompileNginx and CompileApache wraps:
// test with errors.Is; errors.As gives the *FormatError with the offset.
var ErrBadFormat = errors.New("ingest: bad format")

// FormatError says what is wrong with a log format given to CompileNginx or
// CompileApache, and where: Offset is the byte offset in the string given.
type FormatError struct {
	Offset int
	Msg    string
}

func (e *FormatError) Error() string {
	return ErrBadFormat.Error() + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Is reports whether target is ErrBadFormat.
func (e *FormatError) Is(target error) bool { return target == ErrBadFormat }

func formatErr(off int, msg string) error { return &FormatError{Offset: off, Msg: msg} }

// varSpan is an extra variable's value as offsets into Request.Line; end 0
// means empty or absent.
type varSpan struct{ start, end uint32 }

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

// VarNames returns the names of the extra variables a compiled format
// captures, in the order Request.Vars yields them; nil for the built-ins.
func (f *Format) VarNames() []string {
	if f.prog == nil {
		return nil
	}
	return append([]string(nil), f.prog.names...)
}

// escapeMode is how the server escaped variable values.
type escapeMode uint8

const (
	escapeDefault escapeMode = iota // nginx default, Apache: \xHH (and Apache's \" \\), "-" for empty
	escapeJSON                      // nginx escape=json: JSON string escapes, nothing for empty
	escapeNone                      // nginx escape=none: raw bytes, "-" for empty
)

// field is what a capture fills.
type field uint8

const (
	fExtra field = iota // an extra variable, by slot
	fRemoteAddr
	fRemoteUser
	fTimeLocal   // dd/Mon/yyyy:hh:mm:ss +hhmm
	fTimeISO     // yyyy-mm-ddThh:mm:ss+hh:mm
	fMsec        // seconds.milliseconds since the epoch
	fEpochSec    // Apache %{sec}t
	fEpochMsec   // Apache %{msec}t
	fEpochUsec   // Apache %{usec}t
	fRequest     // the request line
	fMethod      // $request_method, %m
	fRequestURI  // $request_uri: path and query
	fPath        // $uri, %U
	fQuery       // $args, $query_string
	fQueryMark   // Apache %q: "?query" or ""
	fProtocol    // $server_protocol, %H
	fStatus      // three digits
	fBodyBytes   // $body_bytes_sent, %b, %B
	fBytesSent   // $bytes_sent, %O
	fReferer     // $http_referer
	fUserAgent   // $http_user_agent
	fReqTime     // $request_time: seconds with a fraction
	fReqTimeUsec // Apache %D, %{us}T
	fReqTimeMsec // Apache %{ms}T
	fReqTimeSec  // Apache %T, %{s}T
	fHost        // $host, %v, %V
	fIsArgs      // $is_args: "?" or "", not stored
)

// Bits of program.sets and op.keep.
const (
	setMethod = 1 << iota
	setPath
	setQuery
	setProtocol
	setHost
	setBytesSent
	setReqTime
)

// endRule is how the end of a captured value is found.
type endRule uint8

const (
	endLiteral     endRule = iota // the first occurrence of the next literal
	endQuote                      // the first '"' not escaped by a backslash
	endRequest                    // scanRequest: a closing quote followed by a space and a digit
	endFixed                      // a fixed number of bytes
	endLine                       // the end of the line
	endDigits                     // endLiteral for a number: its digits are skipped first
	endBeforeQuery                // the first '?' (a path followed by %q or $is_args)
	endQueryMark                  // one '?' or nothing ($is_args)
)

// op captures one value and then matches the literal after it.
type op struct {
	code  opCode // a fused end rule and field for the common cases, or codeGeneric
	field field
	end   endRule
	list  bool  // the value may be a ", "-joined list (endLiteral, literal starting with ' ')
	redir bool  // the list may also hold " : " (nginx's $upstream_* across internal redirects)
	slot  uint8 // fExtra: index into Request.vars
	width int   // endFixed
	keep  uint8 // fRequest: parts set by more specific variables earlier in the format
	dash  bool  // a value of "-" is stored as empty (every escape mode but json)
	lit   []byte
	// word holds lit's first 4 bytes (fewer when it is shorter, with the
	// rest of mask zero), so most literals compare in one load.
	word, mask uint32
	short      bool // len(lit) <= 4: word and mask say it all

	errs *opErrors
}

// opCode selects a fused fast path in parseCompiled. Each does exactly
// what codeGeneric does with the op's end rule and field.
type opCode uint8

const (
	codeGeneric   opCode = iota
	codeLitView          // endLiteral into a string field
	codeQuoteView        // endQuote into a string field
	codeStatus           // endDigits into Status
	codeBodyBytes        // endDigits into BodyBytesSent
	codeTimeLocal        // endFixed $time_local
	codeRequest          // endRequest without kept parts
)

// opErrors are an op's errors, made once when the format is compiled so
// that a failing line costs no allocation.
type opErrors struct {
	missing, quote, value *parseError
}

// program is a compiled format: a leading literal, then captures each
// followed by a literal (the last one possibly by none).
type program struct {
	escape  escapeMode
	lead    []byte
	ops     []op
	names   []string // extra variables, by slot
	keys    []string // their JSON keys, `,"name":`
	sets    uint8    // set* bits of the optional Request fields the format fills
	leadsLT bool     // the format itself starts with '<': no syslog detection
	// combinedHead: ops start with combinedShape, run by runCombinedHead.
	combinedHead bool
}

// parseCompiled runs f's program over the access line s, which starts at
// offset base of r.Line.
func (p *Parser) parseCompiled(r *Request, s []byte, base int, f *Format) error {
	prog := f.prog
	r.format = f
	if !hasLit(s, 0, prog.lead) {
		return prog.ops[0].errs.missing
	}
	pos, i := len(prog.lead), 0
	if prog.combinedHead {
		var err error
		if i, pos, err = p.runCombinedHead(r, s, pos, prog.ops); err != nil || i == len(prog.ops) {
			return err
		}
	}
	return p.runOps(r, s, base, prog.ops, i, pos)
}

// runOps runs ops[i:] from s[pos] on. Apart from parseCompiled so that a
// line that runCombinedHead parses whole does not pay for this function's
// large frame.
func (p *Parser) runOps(r *Request, s []byte, base int, ops []op, i, pos int) error {
	for ; i < len(ops); i++ {
		o := &ops[i]
		var end int
		var err error
		switch o.code {
		case codeLitView:
			if pos, err = o.litView(r, s, pos); err != nil {
				return err
			}
			continue
		case codeQuoteView:
			if pos, err = o.quoteView(r, s, pos); err != nil {
				return err
			}
			continue
		case codeStatus:
			if next, ok := o.status(r, s, pos); ok {
				pos = next
				continue
			}
		case codeBodyBytes:
			if next, ok := o.bodyBytes(r, s, pos); ok {
				pos = next
				continue
			}
		case codeTimeLocal:
			if pos, err = o.timeLocal(p, r, s, pos); err != nil {
				return err
			}
			continue
		case codeRequest:
			if pos, err = o.request(r, s, pos); err != nil {
				return err
			}
			continue
		}
		// codeGeneric, and the fused numbers whose fast path did not
		// apply (a "-" size, a bad value, a missing literal).
		switch o.end {
		case endLiteral:
			if end = findLiteral(s, pos, o); end < 0 {
				return o.errs.missing
			}
		case endDigits:
			// Where the digits are not followed by the literal, the value
			// is found and reported as endLiteral would.
			end = pos
			for end < len(s) && s[end]-'0' <= 9 {
				end++
			}
			if end == pos && end < len(s) && s[end] == '-' {
				end++
			}
			if !o.at(s, end) {
				if end = findLiteral(s, pos, o); end < 0 {
					return o.errs.missing
				}
			}
		case endQuote:
			if end = closingQuote(s, pos, pos); end < 0 {
				return o.errs.quote
			}
			if !o.at(s, end) {
				return o.errs.missing
			}
		case endRequest:
			if end = p.captureRequest(r, s, pos, o); end < 0 {
				return o.errs.quote
			}
			if !o.at(s, end) {
				return o.errs.missing
			}
			pos = end + len(o.lit)
			continue
		case endFixed:
			end = pos + o.width
			if end > len(s) || !o.at(s, end) {
				return o.errs.value
			}
		case endBeforeQuery:
			end = beforeQuery(s, pos, ops[i+1:])
		case endQueryMark:
			end = pos
			if pos < len(s) && s[pos] == '?' {
				end++
			}
		default: // endLine
			end = len(s)
		}
		// The common string fields are stored here; the others, which
		// decode their value, in store.
		v := s[pos:end:end]
		if len(v) == 0 || len(v) == 1 && v[0] == '-' && o.dash {
			v = nil
		}
		switch o.field {
		case fRemoteAddr, fRemoteUser, fReferer, fUserAgent, fHost:
			r.setString(o.field, v)
		case fStatus:
			st, ok := 0, len(v) == 3
			if ok {
				st, ok = status3(v[0], v[1], v[2])
			}
			if !ok {
				return o.errs.value
			}
			r.Status = st
		case fExtra:
			// A variable logged twice keeps its last value, empty or not.
			r.vars[o.slot] = varSpan{}
			if v != nil {
				r.vars[o.slot] = varSpan{uint32(base + pos), uint32(base + end)}
			}
		default:
			if err := p.store(r, o, s, pos, end, v); err != nil {
				return err
			}
		}
		pos = end + len(o.lit)
	}
	return nil
}

// The fused ops' fast paths, shared by parseCompiled's loop and
// runCombinedHead. Each takes the position where the op's value starts and
// returns the position after its literal. status and bodyBytes report
// false when their fast path does not apply (a "-" size, a bad value, a
// missing literal): the generic code then handles the op.

// litView finds the end of a string field at the op's literal.
func (o *op) litView(r *Request, s []byte, pos int) (int, error) {
	var end int
	if pos < len(s) && s[pos] == '-' && byte(o.word) != '-' && !o.redir && o.at(s, pos+1) {
		// "-", as most lines log $remote_user: the literal right after
		// it is its end (a list cannot have ended earlier), found
		// without a search.
		end = pos + 1
	} else if end = findLiteral(s, pos, o); end < 0 {
		return 0, o.errs.missing
	}
	if end-pos > 1 || end-pos == 1 && (s[pos] != '-' || !o.dash) {
		r.setString(o.field, s[pos:end:end])
	}
	return end + len(o.lit), nil
}

// quoteView ends a string field at its closing quote.
func (o *op) quoteView(r *Request, s []byte, pos int) (int, error) {
	end := closingQuote(s, pos, pos)
	if end < 0 {
		return 0, o.errs.quote
	}
	if !o.at(s, end) {
		return 0, o.errs.missing
	}
	if end-pos > 1 || end-pos == 1 && (s[pos] != '-' || !o.dash) {
		r.setString(o.field, s[pos:end:end])
	}
	return end + len(o.lit), nil
}

// status decodes three digits followed by the literal into Status.
func (o *op) status(r *Request, s []byte, pos int) (int, bool) {
	if pos+3 > len(s) || !o.at(s, pos+3) {
		return 0, false
	}
	st, ok := status3(s[pos], s[pos+1], s[pos+2])
	if !ok {
		return 0, false
	}
	r.Status = st
	return pos + 3 + len(o.lit), true
}

// bodyBytes decodes at most 18 digits followed by the literal into
// BodyBytesSent.
func (o *op) bodyBytes(r *Request, s []byte, pos int) (int, bool) {
	end := pos
	var n uint64
	for ; end < len(s); end++ {
		d := s[end] - '0'
		if d > 9 {
			break
		}
		n = n*10 + uint64(d) // wraps past 19 digits; more than 18 go the slow way
	}
	if end > pos && end-pos <= 18 && o.at(s, end) {
		r.BodyBytesSent = int64(n)
		return end + len(o.lit), true
	}
	return 0, false
}

// timeLocal decodes $time_local.
func (o *op) timeLocal(p *Parser, r *Request, s []byte, pos int) (int, error) {
	end := pos + timeLocalLen
	if end > len(s) || !o.at(s, end) || p.decodeTime(r, s[pos:end]) != nil {
		return 0, o.errs.value
	}
	return end + len(o.lit), nil
}

// request scans and splits $request.
func (o *op) request(r *Request, s []byte, pos int) (int, error) {
	end := scanRequest(r, s, pos)
	if end < 0 {
		return 0, o.errs.quote
	}
	if !o.at(s, end) {
		return 0, o.errs.missing
	}
	return end + len(o.lit), nil
}

// combinedShape is the start of nginx's combined format, which most nginx
// formats begin with (main, ingress-nginx's upstreaminfo, ...):
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
//
// as fused ops, whatever their literals.
var combinedShape = [...]struct {
	code  opCode
	field field
}{
	{codeLitView, fRemoteAddr}, {codeLitView, fRemoteUser}, {codeTimeLocal, fTimeLocal},
	{codeRequest, fRequest}, {codeStatus, fStatus}, {codeBodyBytes, fBodyBytes},
	{codeQuoteView, fReferer}, {codeQuoteView, fUserAgent},
}

// hasCombinedHead reports whether ops start with combinedShape.
func hasCombinedHead(ops []op) bool {
	if len(ops) < len(combinedShape) {
		return false
	}
	for i, c := range combinedShape {
		if ops[i].code != c.code || ops[i].field != c.field {
			return false
		}
	}
	return true
}

// runCombinedHead runs the first len(combinedShape) ops, which
// hasCombinedHead vouched for, in straight-line code. It repeats what the
// ops' methods do (litView, timeLocal, request, status, bodyBytes,
// quoteView), inline, because the loop cost a third of a combined line:
// it reloads its state from the stack at every op, and the methods are too
// big to inline. Calling the methods from here measured 12% slower than
// this (p = 0.002); checkCombinedHead in the fuzz tests compares the two
// paths on every input. It returns the index of the first op it did not
// run (len(combinedShape), or an op whose fast path did not apply, for the
// generic code) and the position there. Like parseAccess it takes the
// request's, the referer's and the user agent's ends from the quote masks
// when the line fits in them (lineMasks).
func (p *Parser) runCombinedHead(r *Request, s []byte, pos int, ops []op) (int, int, error) {
	ops = ops[:len(combinedShape):len(combinedShape)]
	masked := p.quoteMasks(s)
	// 0, 1: $remote_addr, $remote_user (litView)
	for k := range 2 {
		o := &ops[k]
		var end int
		if pos < len(s) && s[pos] == '-' && byte(o.word) != '-' && !o.redir && o.at(s, pos+1) {
			end = pos + 1
		} else if end = findLiteral(s, pos, o); end < 0 {
			return 0, 0, o.errs.missing
		}
		if end-pos > 1 || end-pos == 1 && (s[pos] != '-' || !o.dash) {
			if k == 0 {
				r.RemoteAddr = s[pos:end:end]
			} else {
				r.RemoteUser = s[pos:end:end]
			}
		}
		pos = end + len(o.lit)
	}
	// 2: $time_local (timeLocal)
	o := &ops[2]
	end := pos + timeLocalLen
	if end > len(s) || !o.at(s, end) || p.decodeTime(r, s[pos:end]) != nil {
		return 0, 0, o.errs.value
	}
	pos = end + len(o.lit)
	// 3: $request (request)
	o = &ops[3]
	if end = p.scanRequest(r, s, pos, masked); end < 0 {
		return 0, 0, o.errs.quote
	}
	if !o.at(s, end) {
		return 0, 0, o.errs.missing
	}
	pos = end + len(o.lit)
	// 4: $status (status)
	o = &ops[4]
	if pos+3 > len(s) || !o.at(s, pos+3) {
		return 4, pos, nil
	}
	st, ok := status3(s[pos], s[pos+1], s[pos+2])
	if !ok {
		return 4, pos, nil
	}
	r.Status = st
	pos += 3 + len(o.lit)
	// 5: $body_bytes_sent (bodyBytes)
	o = &ops[5]
	end = pos
	var n uint64
	for ; end < len(s); end++ {
		d := s[end] - '0'
		if d > 9 {
			break
		}
		n = n*10 + uint64(d)
	}
	if !(end > pos && end-pos <= 18 && o.at(s, end)) {
		return 5, pos, nil
	}
	r.BodyBytesSent = int64(n)
	pos = end + len(o.lit)
	// 6, 7: $http_referer, $http_user_agent (quoteView)
	for k := 6; k < 8; k++ {
		o := &ops[k]
		end := p.closingQuote(s, pos, masked)
		if end < 0 {
			return 0, 0, o.errs.quote
		}
		if !o.at(s, end) {
			return 0, 0, o.errs.missing
		}
		if end-pos > 1 || end-pos == 1 && (s[pos] != '-' || !o.dash) {
			if k == 6 {
				r.Referer = s[pos:end:end]
			} else {
				r.UserAgent = s[pos:end:end]
			}
		}
		pos = end + len(o.lit)
	}
	return len(combinedShape), pos, nil
}

// setString stores v in the string field f names, if f is one of them:
// RemoteAddr, RemoteUser, Referer, UserAgent or Host.
func (r *Request) setString(f field, v []byte) {
	switch f {
	case fRemoteAddr:
		r.RemoteAddr = v
	case fRemoteUser:
		r.RemoteUser = v
	case fReferer:
		r.Referer = v
	case fUserAgent:
		r.UserAgent = v
	case fHost:
		r.Host = v
	}
}

// at reports whether o's literal occurs in s at i.
func (o *op) at(s []byte, i int) bool {
	if o.short && i >= 0 && i+4 <= len(s) {
		return binary.LittleEndian.Uint32(s[i:i+4])&o.mask == o.word
	}
	return hasLit(s, i, o.lit)
}

// hasLit reports whether lit occurs in s at i. Literals are short: a loop
// beats a call to memequal.
func hasLit(s []byte, i int, lit []byte) bool {
	if len(s)-i < len(lit) {
		return false
	}
	s = s[i:]
	for k, c := range lit {
		if s[k] != c {
			return false
		}
	}
	return true
}

// findLiteral returns the index of the first occurrence of o.lit in s at or
// after pos. For a list-valued variable, a space that nginx put inside the
// list (after a ',', or around a " : ") does not end the value.
func findLiteral(s []byte, pos int, o *op) int {
	c0 := byte(o.word)
	for from := pos; ; {
		i := indexByteFrom(s, from, c0)
		if i < 0 {
			return -1
		}
		from = i + 1
		if o.short && len(s)-i >= 4 {
			if binary.LittleEndian.Uint32(s[i:])&o.mask != o.word {
				continue
			}
		} else if !hasLit(s, i, o.lit) {
			continue
		}
		if o.list && i > pos && (s[i-1] == ',' ||
			o.redir && (i+2 < len(s) && s[i+1] == ':' && s[i+2] == ' ' || i-2 >= pos && s[i-1] == ':' && s[i-2] == ' ')) {
			continue
		}
		return i
	}
}

// indexByteFrom returns the index of the first c in s at or after from, or
// -1. Values are often a few bytes long ("-", a status, an address), so the
// first 32 bytes are searched 8 at a time in registers, where the call to
// bytes.IndexByte would cost more than the search.
func indexByteFrom(s []byte, from int, c byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	rep := uint64(c) * lo
	i := from
	for n := 0; n < 4 && len(s)-i >= 8; n++ {
		x := binary.LittleEndian.Uint64(s[i:]) ^ rep
		// The lowest high bit set marks the first zero byte of x; a
		// borrow can only set bits above a real zero byte.
		if t := (x - lo) &^ x & hi; t != 0 {
			return i + bits.TrailingZeros64(t)/8
		}
		i += 8
	}
	if i >= len(s) {
		return -1
	}
	if k := bytes.IndexByte(s[i:], c); k >= 0 {
		return i + k
	}
	return -1
}

// beforeQuery returns where a path followed directly by a query variable
// (%U%q, $uri$is_args$args) ends: at its first '?', or where the literal
// after the query would start.
func beforeQuery(s []byte, pos int, next []op) int {
	limit := len(s)
	for j := range next {
		if lit := next[j].lit; len(lit) > 0 {
			if k := bytes.Index(s[pos:], lit); k >= 0 {
				limit = pos + k
			}
			break
		}
	}
	if q := bytes.IndexByte(s[pos:limit], '?'); q >= 0 {
		return pos + q
	}
	return limit
}

// captureRequest scans a quoted $request with scanRequest, keeping the
// parts that more specific variables already set.
func (p *Parser) captureRequest(r *Request, s []byte, pos int, o *op) int {
	if o.keep == 0 {
		return scanRequest(r, s, pos)
	}
	saved := *r
	end := scanRequest(r, s, pos)
	restoreParts(r, &saved, o.keep)
	return end
}

func restoreParts(r, saved *Request, keep uint8) {
	if keep&setMethod != 0 {
		r.Method = saved.Method
	}
	if keep&setPath != 0 {
		r.Path = saved.Path
	}
	if keep&setQuery != 0 {
		r.Query = saved.Query
	}
	if keep&setProtocol != 0 {
		r.Protocol = saved.Protocol
	}
}

// store decodes the value s[pos:end] into the field o fills; v is the
// value as a view, nil when empty or "-" (except with escape=json).
func (p *Parser) store(r *Request, o *op, s []byte, pos, end int, v []byte) error {
	switch o.field {
	case fTimeLocal:
		if len(v) != timeLocalLen {
			return o.errs.value
		}
		if err := p.decodeTime(r, v); err != nil {
			return o.errs.value
		}
	case fTimeISO:
		t, ok := decodeTimeISO(v)
		if !ok {
			return o.errs.value
		}
		r.Time = t
	case fMsec, fEpochSec, fEpochMsec, fEpochUsec:
		t, ok := decodeEpoch(v, o.field)
		if !ok {
			return o.errs.value
		}
		r.Time = t
	case fRequest:
		if o.keep == 0 {
			splitRequest(r, s, pos, end)
			return nil
		}
		saved := *r
		splitRequest(r, s, pos, end)
		restoreParts(r, &saved, o.keep)
	case fMethod:
		r.Method = v
	case fRequestURI:
		if v == nil {
			r.Path, r.Query = nil, nil
			return nil
		}
		te := len(v)
		if q := bytes.IndexByte(v, '?'); q >= 0 {
			r.Query = nilIfEmpty(v[q+1:])
			te = q
		} else {
			r.Query = nil
		}
		r.Path = nilIfEmpty(v[uriPathStart(v[:te]):te:te])
	case fPath:
		r.Path = v
	case fQuery:
		r.Query = v
	case fQueryMark:
		if len(v) > 0 && v[0] == '?' {
			v = nilIfEmpty(v[1:])
		}
		r.Query = v
	case fProtocol:
		r.Protocol = v
	case fBodyBytes, fBytesSent:
		n, ok := parseByteCount(view(s, pos, end))
		if !ok {
			return o.errs.value
		}
		if o.field == fBodyBytes {
			r.BodyBytesSent = n
		} else {
			r.BytesSent = n
		}
	case fReqTime, fReqTimeUsec, fReqTimeMsec, fReqTimeSec:
		if v == nil {
			r.RequestTime, r.HasRequestTime = 0, false
			return nil
		}
		d, ok := decodeDuration(v, o.field)
		if !ok {
			return o.errs.value
		}
		r.RequestTime, r.HasRequestTime = d, true
	}
	return nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
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

// An item is one piece of a format being compiled: a literal, or a
// variable (name set) with its Request field.
type item struct {
	lit   []byte
	name  string // nginx name; "" for a literal
	label string // as written in the format, for error messages
	field field
	off   int // offset in the source text
}

// nginxFields maps the nginx variables that fill Request fields.
var nginxFields = map[string]field{
	"remote_addr":     fRemoteAddr,
	"remote_user":     fRemoteUser,
	"time_local":      fTimeLocal,
	"time_iso8601":    fTimeISO,
	"msec":            fMsec,
	"request":         fRequest,
	"request_method":  fMethod,
	"request_uri":     fRequestURI,
	"uri":             fPath,
	"args":            fQuery,
	"query_string":    fQuery,
	"server_protocol": fProtocol,
	"status":          fStatus,
	"body_bytes_sent": fBodyBytes,
	"bytes_sent":      fBytesSent,
	"http_referer":    fReferer,
	"http_user_agent": fUserAgent,
	"request_time":    fReqTime,
	"host":            fHost,
	"is_args":         fIsArgs,
}

// CompileNginx compiles an nginx log_format into a Format for Parser and
// Config. logFormat is what follows "log_format" in nginx.conf, or the whole
// directive:
//
//	log_format main escape=json '{"addr":"$remote_addr",'
//	                            '"time":"$time_iso8601"}';
//
// An optional "log_format NAME" and "escape=default|json|none" come first.
// When the rest starts with a quote it is read as nginx reads it: strings,
// quoted or not, separated by white space, backslash escapes decoded, joined
// without separators, an optional ';' at the end. Otherwise the rest is the
// format itself, taken verbatim, so '$remote_addr - $remote_user ...' works
// as well. (A verbatim format that starts with a quote must be quoted.)
//
// The variables listed in the Request field comments fill those fields;
// every other variable is captured by name (Request.Var). Variables end
// where nginx ends them: at a byte not in [A-Za-z0-9_], at the end of a
// string, or at the '}' of "${name}".
//
// Each value ends at the first occurrence of the literal text that follows
// it in the format. A value followed by '"' ends at the first '"' not
// escaped by a backslash (nginx escapes a quote in a value as \x22, or \"
// with escape=json); a quoted $request keeps the built-in parser's
// tolerance for a bare quote inside it. Values of $remote_addr,
// $http_x_forwarded_for and $upstream_* may be lists: a space after a ','
// (and, for $upstream_*, around a " : ") does not end them. The last value
// of a format that ends with a variable runs to the end of the line; text
// after a format's final literal is ignored, as the built-ins ignore fields
// appended after theirs. "-" is an empty value, except with escape=json.
//
// Compilation fails with a *FormatError for two variables with nothing
// between them (unless the first has a fixed width: $time_local,
// $time_iso8601), more than MaxFormatVars extra variables, a format with no
// variable, an unknown escape= value, an unterminated "${" or quoted string,
// and a '$' without a name.
func CompileNginx(logFormat string) (*Format, error) {
	name := "nginx"
	src := logFormat
	i := skipSpace(src, 0)
	if strings.HasPrefix(src[i:], "log_format") && i+10 < len(src) && isSpace(src[i+10]) {
		i = skipSpace(src, i+10)
		j := i
		for j < len(src) && !isSpace(src[j]) && src[j] != '\'' && src[j] != '"' {
			j++
		}
		if j == i {
			return nil, formatErr(i, "log_format without a name")
		}
		name = src[i:j]
		i = skipSpace(src, j)
	}
	esc := escapeDefault
	if strings.HasPrefix(src[i:], "escape=") {
		j := i + len("escape=")
		k := j
		for k < len(src) && !isSpace(src[k]) {
			k++
		}
		switch src[j:k] {
		case "default":
		case "json":
			esc = escapeJSON
		case "none":
			esc = escapeNone
		default:
			return nil, formatErr(j, "unknown escape="+strconv.Quote(src[j:k])+": want default, json or none")
		}
		i = skipSpace(src, k)
	}
	if i == len(src) {
		return nil, formatErr(i, "empty format")
	}
	var items []item
	var err error
	if src[i] == '\'' || src[i] == '"' {
		items, err = nginxStrings(src, i)
	} else {
		items, err = nginxString(nil, src[i:], offsetsFrom(i, len(src)-i))
	}
	if err != nil {
		return nil, err
	}
	return link(name, items, esc)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// offsetsFrom returns the source offsets of n bytes copied verbatim from
// offset start.
func offsetsFrom(start, n int) []int {
	offs := make([]int, n)
	for k := range offs {
		offs[k] = start + k
	}
	return offs
}

// nginxStrings reads the strings of a log_format directive from src[i:],
// as nginx's configuration reader does, and compiles each in turn.
func nginxStrings(src string, i int) ([]item, error) {
	var items []item
	for {
		i = skipSpace(src, i)
		if i == len(src) {
			return items, nil
		}
		if src[i] == ';' {
			if j := skipSpace(src, i+1); j != len(src) {
				return nil, formatErr(j, "text after ';'")
			}
			return items, nil
		}
		var text []byte
		var offs []int
		quote := byte(0)
		if src[i] == '\'' || src[i] == '"' {
			quote = src[i]
			i++
		}
		start := i
		for {
			if i == len(src) {
				if quote != 0 {
					return nil, formatErr(start-1, "unterminated quoted string")
				}
				break
			}
			c := src[i]
			if quote != 0 && c == quote {
				i++
				if i < len(src) && !isSpace(src[i]) && src[i] != ';' {
					return nil, formatErr(i, "unexpected "+strconv.Quote(src[i:i+1])+" after a quoted string")
				}
				break
			}
			if quote == 0 && (isSpace(c) || c == ';') {
				break
			}
			if c == '\\' && i+1 < len(src) {
				d := src[i+1]
				switch d {
				case '"', '\'', '\\':
					text, offs = append(text, d), append(offs, i+1)
					i += 2
					continue
				case 't', 'r', 'n':
					text, offs = append(text, controlEscape(d)), append(offs, i)
					i += 2
					continue
				}
				// Any other escaped byte is kept, backslash and all; the
				// backslash only stops it from ending the string.
				text, offs = append(text, c, d), append(offs, i, i+1)
				i += 2
				continue
			}
			text, offs = append(text, c), append(offs, i)
			i++
		}
		var err error
		if items, err = nginxString(items, string(text), offs); err != nil {
			return nil, err
		}
	}
}

// nginxString compiles one string of a log_format; offs[k] is the source
// offset of s[k].
func nginxString(items []item, s string, offs []int) ([]item, error) {
	at := func(k int) int {
		if k < len(offs) {
			return offs[k]
		}
		if len(offs) > 0 {
			return offs[len(offs)-1] + 1
		}
		return 0
	}
	for k := 0; k < len(s); {
		if s[k] != '$' {
			j := strings.IndexByte(s[k:], '$')
			if j < 0 {
				j = len(s) - k
			}
			items = append(items, item{lit: []byte(s[k : k+j]), off: at(k)})
			k += j
			continue
		}
		start := k
		k++
		bracket := k < len(s) && s[k] == '{'
		if bracket {
			k++
		}
		n := k
		for k < len(s) && isVarByte(s[k]) {
			k++
		}
		name := s[n:k]
		if bracket {
			if k == len(s) || s[k] != '}' {
				return nil, formatErr(at(start), "unterminated \"${\": no '}' after the variable name")
			}
			k++
		}
		if name == "" {
			return nil, formatErr(at(start), "'$' without a variable name")
		}
		f, known := nginxFields[name]
		if !known {
			f = fExtra
		}
		items = append(items, item{name: name, label: "$" + name, field: f, off: at(start)})
	}
	return items, nil
}

// controlEscape returns the byte that \t, \r or \n stands for.
func controlEscape(c byte) byte {
	switch c {
	case 't':
		return '\t'
	case 'r':
		return '\r'
	}
	return '\n'
}

func isVarByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// listVar reports whether nginx may log the variable as a ", "-joined list,
// and whether the list may also hold " : " (upstreams across internal
// redirects).
func listVar(name string) (list, redir bool) {
	if strings.HasPrefix(name, "upstream_") {
		return true, true
	}
	switch name {
	case "remote_addr", "http_x_forwarded_for", "proxy_add_x_forwarded_for", "realip_remote_addr":
		return true, false
	}
	return false, false
}

// jsonKeys are the keys Request.AppendJSON always writes; an extra
// variable with one of these names is written as "$name".
var jsonKeys = []string{"remote_addr", "remote_user", "time", "method", "path", "query", "protocol",
	"status", "body_bytes_sent", "referer", "user_agent", "request", "host", "bytes_sent", "request_time",
	"syslog_priority", "syslog_host", "syslog_tag", "line", "error"}

// link turns a list of items into a program: literals merged, each
// variable given its end rule, its literal and its errors.
func link(name string, items []item, esc escapeMode) (*Format, error) {
	// Merge adjacent literals.
	var merged []item
	for _, it := range items {
		if it.name == "" {
			if len(it.lit) == 0 {
				continue
			}
			if n := len(merged); n > 0 && merged[n-1].name == "" {
				merged[n-1].lit = append(merged[n-1].lit, it.lit...)
				continue
			}
		}
		merged = append(merged, it)
	}
	prog := &program{escape: esc}
	k := 0
	if len(merged) > 0 && merged[0].name == "" {
		prog.lead = merged[0].lit
		k = 1
	}
	if k == len(merged) {
		return nil, formatErr(0, "the format has no variable")
	}
	prog.leadsLT = len(prog.lead) > 0 && prog.lead[0] == '<'
	slots := map[string]int{}
	var specific uint8 // parts set so far by $request_method, $uri, ...
	for ; k < len(merged); k++ {
		it := merged[k]
		if it.name == "" {
			continue
		}
		o := op{field: it.field}
		var next []byte
		beforeQuery := false
		if k+1 < len(merged) {
			nf := merged[k+1].field
			switch {
			case merged[k+1].name == "":
				next = merged[k+1].lit
			case nf == fQueryMark || nf == fIsArgs:
				beforeQuery = true
			case fixedWidth(it.field) == 0 && it.field != fIsArgs:
				return nil, formatErr(merged[k+1].off, "variables "+it.label+" and "+merged[k+1].label+
					" have nothing between them that could separate them")
			}
		}
		o.lit = next
		o.short = len(next) <= 4
		for b := range min(len(next), 4) {
			o.word |= uint32(next[b]) << (8 * b)
			o.mask |= 0xff << (8 * b)
		}
		o.list, o.redir = listVar(it.name)
		switch {
		case fixedWidth(it.field) > 0:
			o.end, o.width = endFixed, fixedWidth(it.field)
		case it.field == fIsArgs:
			o.end = endQueryMark
		case beforeQuery:
			o.end = endBeforeQuery
		case next == nil:
			o.end = endLine
		case next[0] == '"' && it.field == fRequest && esc != escapeJSON && len(next) > 1 && next[1] == ' ':
			o.end = endRequest
		case next[0] == '"':
			o.end = endQuote
		case (it.field == fStatus || it.field == fBodyBytes || it.field == fBytesSent) &&
			(next[0] < '0' || next[0] > '9') && next[0] != '-':
			o.end = endDigits
		}
		o.list = o.list && o.end == endLiteral && next[0] == ' '
		o.redir = o.redir && o.list && !bytes.HasPrefix(next, []byte(" :"))
		switch it.field {
		case fExtra:
			slot, ok := slots[it.name]
			if !ok {
				if len(prog.names) == MaxFormatVars {
					return nil, formatErr(it.off, "more than "+strconv.Itoa(MaxFormatVars)+" extra variables")
				}
				slot = len(prog.names)
				slots[it.name] = slot
				prog.names = append(prog.names, it.name)
				key := it.name
				for _, b := range jsonKeys {
					if b == key {
						key = "$" + key
						break
					}
				}
				prog.keys = append(prog.keys, string(AppendJSONString([]byte(","), key))+":")
			}
			o.slot = uint8(slot)
		case fRequest:
			o.keep = specific
		case fMethod:
			specific |= setMethod
		case fPath:
			specific |= setPath
		case fQuery, fQueryMark:
			specific |= setQuery
		case fRequestURI:
			specific |= setPath | setQuery
		case fProtocol:
			specific |= setProtocol
		case fHost:
			prog.sets |= setHost
		case fBytesSent:
			prog.sets |= setBytesSent
		case fReqTime, fReqTimeUsec, fReqTimeMsec, fReqTimeSec:
			prog.sets |= setReqTime
		}
		o.errs = &opErrors{
			missing: newParseError(it.label, "missing_field", ErrMissingField),
			quote:   newParseError(it.label, "unterminated_quote", ErrUnterminatedQuote),
			value:   valueError(it.label, it.field),
		}
		o.dash = esc != escapeJSON
		o.code = fuse(&o)
		prog.ops = append(prog.ops, o)
	}
	prog.combinedHead = hasCombinedHead(prog.ops)
	return &Format{name: name, kind: kindCompiled, prog: prog}, nil
}

// fuse picks the fast path for o, if one applies.
func fuse(o *op) opCode {
	switch o.field {
	case fRemoteAddr, fRemoteUser, fReferer, fUserAgent, fHost: // setString's fields
		switch o.end {
		case endLiteral:
			return codeLitView
		case endQuote:
			return codeQuoteView
		}
	case fStatus:
		if o.end == endDigits {
			return codeStatus
		}
	case fBodyBytes:
		if o.end == endDigits {
			return codeBodyBytes
		}
	case fTimeLocal:
		if o.end == endFixed {
			return codeTimeLocal
		}
	case fRequest:
		if o.end == endRequest && o.keep == 0 {
			return codeRequest
		}
	}
	return codeGeneric
}

// fixedWidth returns the width of a variable nginx always logs with the
// same length, or 0.
func fixedWidth(f field) int {
	switch f {
	case fTimeLocal:
		return timeLocalLen
	case fTimeISO:
		return isoTimeLen
	}
	return 0
}

// valueError is the error for a value of field f that does not decode.
func valueError(label string, f field) *parseError {
	switch f {
	case fStatus:
		return newParseError(label, "status", ErrStatus)
	case fBodyBytes, fBytesSent:
		return newParseError(label, "bytes", ErrBytes)
	case fTimeLocal, fTimeISO, fMsec, fEpochSec, fEpochMsec, fEpochUsec,
		fReqTime, fReqTimeUsec, fReqTimeMsec, fReqTimeSec:
		return newParseError(label, "time", ErrTime)
	}
	return newParseError(label, "missing_field", ErrMissingField)
}

// CompileApache compiles an Apache httpd LogFormat string (mod_log_config)
// into a Format, the same kind of program CompileNginx makes:
//
//	%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"
//
// logFormat may also be the whole directive, `LogFormat "..." nickname`,
// or the quoted string alone; then \" inside it is a quote, as httpd reads
// it. In the format, \" is a quote too, and \\, \n, \r and \t are decoded.
//
// Directives that fill Request fields: %h and %a (RemoteAddr), %u, %t
// (with its brackets), %{sec}t, %{msec}t, %{usec}t, %r, %m, %U, %q, %H,
// %s and %>s, %b and %B (BodyBytesSent), %O (BytesSent), %D, %T,
// %{ms}T, %{us}T (RequestTime), %v and %V (Host), %{Referer}i and
// %{User-Agent}i. Others are captured under nginx-style names, so that
// the same daemon code reads both servers' logs: %{X-Forwarded-For}i is
// "http_x_forwarded_for", %{Content-Type}o "sent_http_content_type",
// %{X}C "cookie_x", %{X}e "env_x", %{X}n "note_x", %l "remote_logname",
// %A "server_addr", %p "server_port", %{remote}p "remote_port",
// %{c}a "realip_remote_addr", %I "request_length", %k
// "connection_requests", %f "request_filename", %P "pid", %R "handler",
// %L "request_log_id", %X "connection_status". Status conditions
// ("%400,501{User-agent}i") and the < and > modifiers are accepted and
// ignored. Other strftime forms of %{...}t, %S and the trailer directives
// are rejected with a *FormatError. Values end as described for
// CompileNginx; Apache escapes a quote in a value as \".
func CompileApache(logFormat string) (*Format, error) {
	src := logFormat
	name := "apache"
	i := skipSpace(src, 0)
	if strings.HasPrefix(src[i:], "LogFormat") && i+9 < len(src) && isSpace(src[i+9]) {
		i = skipSpace(src, i+9)
	}
	var text []byte
	var offs []int
	if i < len(src) && src[i] == '"' {
		j := i + 1
		for ; j < len(src) && src[j] != '"'; j++ {
			if src[j] == '\\' && j+1 < len(src) && src[j+1] == '"' {
				j++
			}
			text, offs = append(text, src[j]), append(offs, j)
		}
		if j == len(src) {
			return nil, formatErr(i, "unterminated quoted string")
		}
		if rest := strings.TrimSpace(src[j+1:]); rest != "" {
			name = rest
		}
	} else {
		text, offs = []byte(src[i:]), offsetsFrom(i, len(src)-i)
	}
	items, err := apacheItems(string(text), offs)
	if err != nil {
		return nil, err
	}
	return link(name, items, escapeDefault)
}

// apacheItems compiles a LogFormat string; offs[k] is the source offset of
// s[k].
func apacheItems(s string, offs []int) ([]item, error) {
	var items []item
	lit := func(b []byte, off int) { items = append(items, item{lit: b, off: off}) }
	for k := 0; k < len(s); {
		c := s[k]
		if c == '\\' && k+1 < len(s) {
			switch d := s[k+1]; d {
			case '\\', '"':
				lit([]byte{d}, offs[k])
				k += 2
				continue
			case 'n', 'r', 't':
				lit([]byte{controlEscape(d)}, offs[k])
				k += 2
				continue
			}
		}
		if c != '%' {
			lit([]byte{c}, offs[k])
			k++
			continue
		}
		start := k
		k++
		arg, hasArg := "", false
		for k < len(s) {
			d := s[k]
			if d == '!' || d == ',' || d == '<' || d == '>' || '0' <= d && d <= '9' {
				k++
				continue
			}
			if d == '{' {
				j := strings.IndexByte(s[k:], '}')
				if j < 0 {
					return nil, formatErr(offs[k], "unterminated \"%{\": no '}'")
				}
				arg, hasArg = s[k+1:k+j], true
				k += j + 1
				continue
			}
			break
		}
		if k == len(s) {
			return nil, formatErr(offs[start], "'%' without a directive")
		}
		d := s[k]
		k++
		label := s[start:k]
		if d == '%' {
			lit([]byte{'%'}, offs[start])
			continue
		}
		var it item
		var ok bool
		if d == 't' && !hasArg {
			// %t is the time in brackets.
			lit([]byte{'['}, offs[start])
			items = append(items, item{name: "time_local", label: label, field: fTimeLocal, off: offs[start]})
			lit([]byte{']'}, offs[start])
			continue
		}
		if it, ok = apacheDirective(d, arg); !ok {
			return nil, formatErr(offs[start], "unsupported directive "+strconv.Quote(label))
		}
		it.label, it.off = label, offs[start]
		items = append(items, it)
	}
	return items, nil
}

// apacheDirective maps a directive letter and its {argument} to an item.
func apacheDirective(d byte, arg string) (item, bool) {
	known := func(name string, f field) (item, bool) { return item{name: name, field: f}, true }
	extra := func(name string) (item, bool) { return item{name: name, field: fExtra}, true }
	header := func(prefix string) (item, bool) {
		if arg == "" {
			return item{}, false
		}
		return extra(prefix + strings.ToLower(strings.ReplaceAll(arg, "-", "_")))
	}
	switch d {
	case 'h':
		return known("remote_addr", fRemoteAddr)
	case 'a':
		if arg == "c" {
			return extra("realip_remote_addr")
		}
		return known("remote_addr", fRemoteAddr)
	case 'A':
		return extra("server_addr")
	case 'b', 'B':
		return known("body_bytes_sent", fBodyBytes)
	case 'O':
		return known("bytes_sent", fBytesSent)
	case 'I':
		return extra("request_length")
	case 'D':
		return known("request_time", fReqTimeUsec)
	case 'T':
		switch arg {
		case "", "s":
			return known("request_time", fReqTimeSec)
		case "ms":
			return known("request_time", fReqTimeMsec)
		case "us":
			return known("request_time", fReqTimeUsec)
		}
	case 'f':
		return extra("request_filename")
	case 'H':
		return known("server_protocol", fProtocol)
	case 'k':
		return extra("connection_requests")
	case 'l':
		return extra("remote_logname")
	case 'L':
		return extra("request_log_id")
	case 'm':
		return known("request_method", fMethod)
	case 'p':
		switch arg {
		case "", "canonical", "local":
			return extra("server_port")
		case "remote":
			return extra("remote_port")
		}
	case 'P':
		switch arg {
		case "", "pid":
			return extra("pid")
		case "tid", "hextid":
			return extra("tid")
		}
	case 'q':
		return known("query_string", fQueryMark)
	case 'r':
		return known("request", fRequest)
	case 'R':
		return extra("handler")
	case 's':
		return known("status", fStatus)
	case 't':
		switch strings.TrimPrefix(strings.TrimPrefix(arg, "begin:"), "end:") {
		case "sec":
			return known("msec", fEpochSec)
		case "msec":
			return known("msec", fEpochMsec)
		case "usec":
			return known("msec", fEpochUsec)
		}
	case 'u':
		return known("remote_user", fRemoteUser)
	case 'U':
		return known("uri", fPath)
	case 'v', 'V':
		return known("host", fHost)
	case 'X':
		return extra("connection_status")
	case 'i':
		switch strings.ToLower(arg) {
		case "referer":
			return known("http_referer", fReferer)
		case "user-agent":
			return known("http_user_agent", fUserAgent)
		}
		return header("http_")
	case 'o':
		return header("sent_http_")
	case 'C':
		return header("cookie_")
	case 'e':
		return header("env_")
	case 'n':
		return header("note_")
	}
	return item{}, false
}
