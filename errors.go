package ingest

import (
	"bytes"
	"errors"
	"strconv"
)

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
	ErrRemoteAddr        = errors.New("ingest: invalid remote address")
	// ErrNotAccessLine is a line that is not an access line at all (see
	// ErrorReason's "not_access_line"), rather than one with a field
	// missing or spoiled.
	ErrNotAccessLine = errors.New("ingest: not an access line")
	ErrUnknownFormat = errors.New("ingest: unknown format")
)

// ErrTruncated is the error Config.OnBadLine gets for a datagram longer
// than Config.MaxDatagram, with the datagram's first bytes as the line
// (see Stats.Truncated). Parse never returns it; its ErrorReason is
// "truncated".
var ErrTruncated = errors.New("ingest: datagram longer than MaxDatagram, not parsed")

// reason is why a line failed to parse: an index into reasonLabels and
// into the per-reason counters of Stats.
type reason uint8

// The reasons, in the order ParseErrorsByReason yields them; reasonOther,
// for errors that did not come from Parse, is last. reasonTruncated, a
// datagram's reason rather than a line's, follows them and has no counter
// among them (Stats.Truncated counts it).
const (
	reasonEmpty reason = iota
	reasonTooLong
	reasonSyslogHeader
	reasonSyslogTime
	reasonNoMessage
	reasonMissingField
	reasonUnterminatedQuote
	reasonTime
	reasonStatus
	reasonBytes
	reasonRemoteAddr
	reasonNotAccessLine
	reasonOther
	numReasons
	reasonTruncated = numReasons
)

// reasonLabels are the labels ErrorReason returns, indexed by reason.
var reasonLabels = [numReasons + 1]string{
	reasonEmpty:             "empty",
	reasonTooLong:           "too_long",
	reasonSyslogHeader:      "syslog_header",
	reasonSyslogTime:        "syslog_time",
	reasonNoMessage:         "no_message",
	reasonMissingField:      "missing_field",
	reasonUnterminatedQuote: "unterminated_quote",
	reasonTime:              "time",
	reasonStatus:            "status",
	reasonBytes:             "bytes",
	reasonRemoteAddr:        "remote_addr",
	reasonNotAccessLine:     "not_access_line",
	reasonOther:             "other",
	reasonTruncated:         "truncated",
}

// String returns the reason's label.
func (r reason) String() string { return reasonLabels[r] }

// parseError says which field a line failed in. The values are allocated
// once, at package init or when a format is compiled, so a failing line
// costs no allocation; the message is built only when Error is called.
type parseError struct {
	field  string
	reason reason
	err    error
}

func (e *parseError) Error() string {
	if e.field == "" {
		return e.err.Error()
	}
	return e.err.Error() + " (" + e.field + " field)"
}
func (e *parseError) Unwrap() error { return e.err }

func newParseError(field string, r reason, err error) *parseError {
	return &parseError{field: field, reason: r, err: err}
}

var (
	errEmpty          = newParseError("", reasonEmpty, ErrEmpty)
	errTooLong        = newParseError("", reasonTooLong, ErrTooLong)
	errPriority       = newParseError("syslog priority", reasonSyslogHeader, ErrSyslogHeader)
	errSyslogTime     = newParseError("syslog timestamp", reasonSyslogTime, ErrSyslogHeader)
	errSyslogField    = newParseError("syslog header field", reasonSyslogHeader, ErrSyslogHeader)
	errSyslogSD       = newParseError("syslog structured data", reasonSyslogHeader, ErrSyslogHeader)
	errNoMessage      = newParseError("syslog message", reasonNoMessage, ErrNoMessage)
	errNoAddr         = newParseError("remote address", reasonMissingField, ErrMissingField)
	errNoTime         = newParseError("time", reasonMissingField, ErrMissingField)
	errNoRequest      = newParseError("request", reasonMissingField, ErrMissingField)
	errNoStatus       = newParseError("status", reasonMissingField, ErrMissingField)
	errNoBytes        = newParseError("body bytes sent", reasonMissingField, ErrMissingField)
	errNoReferer      = newParseError("referer", reasonMissingField, ErrMissingField)
	errNoUserAgent    = newParseError("user agent", reasonMissingField, ErrMissingField)
	errQuoteRequest   = newParseError("request", reasonUnterminatedQuote, ErrUnterminatedQuote)
	errQuoteReferer   = newParseError("referer", reasonUnterminatedQuote, ErrUnterminatedQuote)
	errQuoteUserAgent = newParseError("user agent", reasonUnterminatedQuote, ErrUnterminatedQuote)
	errTime           = newParseError("time", reasonTime, ErrTime)
	errStatus         = newParseError("status", reasonStatus, ErrStatus)
	errBytes          = newParseError("body bytes sent", reasonBytes, ErrBytes)
	errRemoteAddr     = newParseError("remote address", reasonRemoteAddr, ErrRemoteAddr)
	errNotAccessLine  = newParseError("", reasonNotAccessLine, ErrNotAccessLine)
	errTruncated      = newParseError("", reasonTruncated, ErrTruncated)
)

// notAccessLine returns errNotAccessLine in place of err, the error Parse
// got for line in format f (nil for combined), when line is not an access
// line at all; err otherwise. msg is the access line after its syslog
// header, nil when the header failed. A failing line is not an access line
// when
//
//   - it holds a byte no access-log writer puts in a line unescaped (nginx
//     and Apache write control bytes as \xHH): a NUL or another control
//     byte but tab, or DEL. Binary datagrams have them almost surely; or
//   - its syslog header, if any, was read, and the rest holds none of the
//     format's marks (see formatMarks): text of another shape, such as
//     another program's syslog message, a JSON document, a bare word.
//
// The header's own errors (a PRI out of range, a bad timestamp) keep
// their reasons, unless the line is binary, and so does a line with a
// mark: its reason names the field that is missing or wrong. A line that
// parses is an access line, whatever it holds. The rule depends only on
// the line and the format's text, so that two parsers of one format agree
// on it whatever the field they failed at.
//
//go:noinline
func notAccessLine(f *Format, line, msg []byte, err error) error {
	if hasControlByte(line) || msg != nil && !hasMark(f, msg) {
		return errNotAccessLine
	}
	return err
}

// builtinMarks are the marks of the combined and common formats: the
// separators of nginx's "combined" that hold more than spaces and quotes,
// the " - " after the address and the time field's brackets.
var builtinMarks = [...][]byte{[]byte(" - "), []byte(" ["), []byte("] \"")}

// hasMark reports whether msg holds one of the marks of format f: the
// literal texts between its fields that hold a byte other than a space or
// a double quote (" - ", " [", "] \"", " | "...), or for the built-in
// formats builtinMarks. A format without marks marks every line.
func hasMark(f *Format, msg []byte) bool {
	if f == nil || f.prog == nil {
		for _, m := range builtinMarks {
			if bytes.Contains(msg, m) {
				return true
			}
		}
		return false
	}
	marked := false
	check := func(lit []byte) bool {
		if len(bytes.Trim(lit, ` "`)) == 0 {
			return false
		}
		marked = true
		return bytes.Contains(msg, lit)
	}
	if check(f.prog.lead) {
		return true
	}
	for i := range f.prog.ops {
		if check(f.prog.ops[i].lit) {
			return true
		}
	}
	return !marked
}

// hasControlByte reports whether b holds a control byte other than tab.
func hasControlByte(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

// ErrorReason returns a short, stable label for the reason a line failed
// ("time", "status", "missing_field", ...), for counting errors by reason.
// "not_access_line" is a line that is not an access line at all (binary
// bytes, or text of another shape); "truncated" is ErrTruncated, which
// Config.OnBadLine gets for a datagram too long to parse. It returns
// "other" for errors that did not come from Parse and "" for nil.
func ErrorReason(err error) string {
	if err == nil {
		return ""
	}
	return errorReason(err).String()
}

// errorReason returns the reason of a Parse error, reasonOther for any
// other error. Parse returns its errors unwrapped, so the common case is one
// type assertion.
func errorReason(err error) reason {
	if pe, ok := err.(*parseError); ok {
		return pe.reason
	}
	var pe *parseError
	if errors.As(err, &pe) {
		return pe.reason
	}
	return reasonOther
}

// reasonByLabel returns the reason whose label is label, or false.
func reasonByLabel(label string) (reason, bool) {
	for i, l := range reasonLabels {
		if l == label {
			return reason(i), true
		}
	}
	return 0, false
}

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
