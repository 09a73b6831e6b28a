package ingest

import (
	"bytes"
	"slices"
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
	merged := mergeLiterals(items)
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
	l := linker{prog: prog, slots: map[string]int{}}
	for ; k < len(merged); k++ {
		if merged[k].name == "" {
			continue
		}
		o, err := l.compile(merged[k], merged[k+1:])
		if err != nil {
			return nil, err
		}
		prog.ops = append(prog.ops, o)
	}
	prog.combinedHead = hasCombinedHead(prog.ops)
	return &Format{name: name, kind: kindCompiled, prog: prog}, nil
}

// mergeLiterals returns items with adjacent literals joined and empty ones
// dropped.
func mergeLiterals(items []item) []item {
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
	return merged
}

// linker is what link keeps while it compiles a program's variables.
type linker struct {
	prog     *program
	slots    map[string]int // the extra variables' slots, by name
	specific uint8          // request parts set so far by $request_method, $uri, ...
}

// compile compiles the variable it, which rest follows, into an op.
func (l *linker) compile(it item, rest []item) (op, error) {
	next, beforeQuery, err := endingLiteral(it, rest)
	if err != nil {
		return op{}, err
	}
	o := op{field: it.field}
	o.setLiteral(next)
	o.end, o.width = endRuleFor(it.field, next, beforeQuery, l.prog.escape)
	list, redir := listVar(it.name)
	o.list = list && o.end == endLiteral && next[0] == ' '
	o.redir = redir && o.list && !bytes.HasPrefix(next, []byte(" :"))
	if err := l.note(&o, it); err != nil {
		return op{}, err
	}
	o.errs = &opErrors{
		missing: newParseError(it.label, reasonMissingField, ErrMissingField),
		quote:   newParseError(it.label, reasonUnterminatedQuote, ErrUnterminatedQuote),
		value:   valueError(it.label, it.field),
	}
	o.dash = l.prog.escape != escapeJSON
	o.code = fuse(&o)
	return o, nil
}

// endingLiteral returns the literal that ends the variable it: the first
// of rest, the items after it, when that is a literal; nil at the end of
// the format. beforeQuery reports a query variable ($is_args, %q) right
// after it instead. Two other variables with nothing between them cannot
// be told apart, unless the first has a fixed width.
func endingLiteral(it item, rest []item) (next []byte, beforeQuery bool, err error) {
	if len(rest) == 0 {
		return nil, false, nil
	}
	nx := rest[0]
	switch {
	case nx.name == "":
		return nx.lit, false, nil
	case nx.field == fQueryMark || nx.field == fIsArgs:
		return nil, true, nil
	case fixedWidth(it.field) == 0 && it.field != fIsArgs:
		return nil, false, formatErr(nx.off, "variables "+it.label+" and "+nx.label+
			" have nothing between them that could separate them")
	}
	return nil, false, nil
}

// setLiteral makes lit the literal that ends o's value, its first 4 bytes
// in word and mask.
func (o *op) setLiteral(lit []byte) {
	o.lit = lit
	o.short = len(lit) <= 4
	for b := range min(len(lit), 4) {
		o.word |= uint32(lit[b]) << (8 * b)
		o.mask |= 0xff << (8 * b)
	}
}

// endRuleFor returns how the end of a value of field f is found, given the
// literal after it (nil for none) and whether a query variable follows it,
// and the value's width for endFixed.
func endRuleFor(f field, next []byte, beforeQuery bool, esc escapeMode) (endRule, int) {
	switch {
	case fixedWidth(f) > 0:
		return endFixed, fixedWidth(f)
	case f == fIsArgs:
		return endQueryMark, 0
	case beforeQuery:
		return endBeforeQuery, 0
	case next == nil:
		return endLine, 0
	case next[0] == '"' && f == fRequest && esc != escapeJSON && len(next) > 1 && next[1] == ' ':
		return endRequest, 0
	case next[0] == '"':
		return endQuote, 0
	case (f == fStatus || f == fBodyBytes || f == fBytesSent) && (next[0] < '0' || next[0] > '9') && next[0] != '-':
		return endDigits, 0
	}
	return endLiteral, 0
}

// note records in o and in the program what the variable it means beyond
// its own value: an extra variable's slot, the request parts that more
// specific variables set before $request, the optional fields the format
// fills.
func (l *linker) note(o *op, it item) error {
	prog := l.prog
	switch it.field {
	case fExtra:
		slot, err := l.slot(it)
		if err != nil {
			return err
		}
		o.slot = uint8(slot)
	case fRequest:
		o.keep = l.specific
	case fMethod:
		l.specific |= setMethod
	case fPath:
		l.specific |= setPath
	case fQuery, fQueryMark:
		l.specific |= setQuery
	case fRequestURI:
		l.specific |= setPath | setQuery
	case fProtocol:
		l.specific |= setProtocol
	case fHost:
		prog.sets |= setHost
	case fBytesSent:
		prog.sets |= setBytesSent
	case fReqTime, fReqTimeUsec, fReqTimeMsec, fReqTimeSec:
		prog.sets |= setReqTime
	}
	return nil
}

// slot returns the slot of the extra variable it, giving it the next one
// on its first appearance, with its JSON key.
func (l *linker) slot(it item) (int, error) {
	if slot, ok := l.slots[it.name]; ok {
		return slot, nil
	}
	prog := l.prog
	if len(prog.names) == MaxFormatVars {
		return 0, formatErr(it.off, "more than "+strconv.Itoa(MaxFormatVars)+" extra variables")
	}
	slot := len(prog.names)
	l.slots[it.name] = slot
	prog.names = append(prog.names, it.name)
	key := it.name
	if slices.Contains(jsonKeys, key) {
		key = "$" + key
	}
	prog.keys = append(prog.keys, string(AppendJSONString([]byte(","), key))+":")
	return slot, nil
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
