package ingest

import (
	"bytes"
	"strconv"
)

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

// Name returns the format's name: "combined" or "common" for the built-ins;
// for a compiled format, the name its log_format or LogFormat directive gave
// it, else "nginx" or "apache".
func (f *Format) Name() string { return f.name }

// MaxFormatVars is the most extra variables a compiled format may capture:
// variables that fill no Request field ($upstream_response_time,
// $http_x_forwarded_for, ...), counted once per distinct name. A Request
// keeps them as 8-byte offsets in a fixed array, so they cost no allocation
// and at most 256 bytes per Request; CompileNginx and CompileApache reject a
// format with more.
const MaxFormatVars = 32

// JSONEscaped reports whether the format's values hold the escapes of JSON
// strings, as nginx writes them with escape=json: every byte-slice field
// that a variable of the format fills, and every extra variable, is then
// the inside of a JSON string (decode it with AppendUnescapedJSON). The
// syslog fields and Line are never escaped. False for the built-ins.
func (f *Format) JSONEscaped() bool {
	return f != nil && f.prog != nil && f.prog.escape == escapeJSON
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

// An item is one piece of a format being compiled: a literal, or a
// variable (name set) with its Request field.
type item struct {
	lit   []byte
	name  string // nginx name; "" for a literal
	label string // as written in the format, for error messages
	field field
	off   int // offset in the source text
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
			missing: newParseError(it.label, reasonMissingField, ErrMissingField),
			quote:   newParseError(it.label, reasonUnterminatedQuote, ErrUnterminatedQuote),
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
		return newParseError(label, reasonStatus, ErrStatus)
	case fRemoteAddr:
		return newParseError(label, reasonRemoteAddr, ErrRemoteAddr)
	case fBodyBytes, fBytesSent:
		return newParseError(label, reasonBytes, ErrBytes)
	case fTimeLocal, fTimeISO, fMsec, fEpochSec, fEpochMsec, fEpochUsec,
		fReqTime, fReqTimeUsec, fReqTimeMsec, fReqTimeSec:
		return newParseError(label, reasonTime, ErrTime)
	}
	return newParseError(label, reasonMissingField, ErrMissingField)
}
