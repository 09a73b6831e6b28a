package ingest

import (
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
	ErrUnknownFormat     = errors.New("ingest: unknown format")
)

// reason is why a line failed to parse: an index into reasonLabels and
// into the per-reason counters of Stats.
type reason uint8

// The reasons, in the order ParseErrorsByReason yields them; reasonOther,
// for errors that did not come from Parse, is last.
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
	reasonOther
	numReasons
)

// reasonLabels are the labels ErrorReason returns, indexed by reason.
var reasonLabels = [numReasons]string{
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
	reasonOther:             "other",
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
)

// ErrorReason returns a short, stable label for the reason a line failed
// ("time", "status", "missing_field", ...), for counting errors by reason.
// It returns "other" for errors that did not come from Parse and "" for nil.
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
