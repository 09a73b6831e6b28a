package ingest

import "github.com/flatheap/ingest/internal/decimal"

// This file holds the fused ops: the fast paths that the compiler of a
// format picks (fuse) for the common pairs of end rule and field, and the
// straight-line code that runs the combined format's head, which most
// nginx formats start with (runCombinedHead). Each does what the generic
// op in format_exec.go does, faster.

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
	return o.setView(r, s, pos, end)
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
	return o.setView(r, s, pos, end)
}

// setView stores s[pos:end] in the op's string field, unless it is the "-"
// of an absent value, and returns the position after the op's literal. A
// remote address with a stray space is an error.
func (o *op) setView(r *Request, s []byte, pos, end int) (int, error) {
	if end-pos > 1 || end-pos == 1 && (s[pos] != '-' || !o.dash) {
		if o.field == fRemoteAddr && !validAddrField(s[pos:end]) {
			return 0, o.errs.value
		}
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

// bodyBytes decodes at most decimal.SafeDigits digits followed by the
// literal into BodyBytesSent; longer numbers go the generic way, which
// checks them for overflow.
func (o *op) bodyBytes(r *Request, s []byte, pos int) (int, bool) {
	n, end := decimal.Digits(s, pos)
	if end > pos && end-pos <= decimal.SafeDigits && o.at(s, end) {
		r.BodyBytesSent = int64(n)
		return end + len(o.lit), true
	}
	return 0, false
}

// timeLocal decodes $time_local.
func (o *op) timeLocal(p *Parser, r *Request, s []byte, pos int) (int, error) {
	end := pos + timeLocalLen
	if end > len(s) || !o.at(s, end) || p.timeLocal.decode(r, s[pos:end]) != nil {
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
// big to inline (TestInlining checks they still are). Calling the methods
// from here measured 12% slower than
// this (p = 0.002); checkCombinedHead in the fuzz tests compares the two
// paths on every input. It returns the index of the first op it did not
// run (len(combinedShape), or an op whose fast path did not apply, for the
// generic code) and the position there. Like parseAccess it takes the
// request's, the referer's and the user agent's ends from the quote masks
// when the line fits in them (lineMasks).
func (p *Parser) runCombinedHead(r *Request, s []byte, pos int, ops []op) (int, int, error) {
	ops = ops[:len(combinedShape):len(combinedShape)]
	masks := p.fillMasks(s)
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
				if !validAddrField(s[pos:end]) {
					return 0, 0, o.errs.value
				}
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
	if end > len(s) || !o.at(s, end) || p.timeLocal.decode(r, s[pos:end]) != nil {
		return 0, 0, o.errs.value
	}
	pos = end + len(o.lit)
	// 3: $request (request)
	o = &ops[3]
	if end = maskedScanRequest(masks, r, s, pos); end < 0 {
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
	n, end := decimal.Digits(s, pos)
	if !(end > pos && end-pos <= decimal.SafeDigits && o.at(s, end)) {
		return 5, pos, nil
	}
	r.BodyBytesSent = int64(n)
	pos = end + len(o.lit)
	// 6, 7: $http_referer, $http_user_agent (quoteView)
	for k := 6; k < 8; k++ {
		o := &ops[k]
		end := maskedClosingQuote(masks, s, pos)
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
