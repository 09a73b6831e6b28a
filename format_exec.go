package ingest

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/flatheap/ingest/internal/decimal"
)

// This file holds the interpreter of compiled formats: the loop that runs
// a program's ops over a line, the generic op that any end rule and field
// can take, and the literal searches they share. The fused fast paths are
// in format_fused.go.

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

// runOps runs ops[i:] from s[pos] on. Apart from parseCompiled, and too
// big to be inlined into it (TestInlining checks), so that a line that
// runCombinedHead parses whole does not pay for this function's large
// frame.
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
			_, end = decimal.Digits(s, pos)
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
		if err := p.timeLocal.decode(r, v); err != nil {
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
