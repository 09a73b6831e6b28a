package routemetrics

import (
	"errors"
	"math"
	"sync/atomic"
	"time"

	"github.com/flatheap/ingest/internal/decimal"
)

// ErrValue is what every *ValueError wraps.
var ErrValue = errors.New("routemetrics: bad value")

// ValueError says which field of a line held a value that could not be
// counted. The line itself is still counted (requests, and every other
// field); the bad value is counted in ingest_route_value_errors_total
// under Field.
//
// Observe returns one shared *ValueError per field, made once: do not
// modify it (Stats and the exposition name the fields on their own).
type ValueError struct {
	// Field is the log variable: "upstream_response_time",
	// "request_length", "request_time" or "body_bytes_sent".
	Field string
}

// Error says which field held the bad value.
func (e *ValueError) Error() string { return ErrValue.Error() + " in " + e.Field }

// Unwrap returns ErrValue.
func (e *ValueError) Unwrap() error { return ErrValue }

// Fields that can hold a bad value; the index is the counter's.
const (
	fieldUpstream = iota
	fieldRequestLength
	fieldRequestTime
	fieldBodyBytes
	numFields
)

// fieldNames name the fields in Stats and in the exposition. They are not
// taken from valueErrors, whose Field a caller may change.
var fieldNames = [numFields]string{"upstream_response_time", "request_length", "request_time", "body_bytes_sent"}

// valueErrors are the errors Observe returns: one per field, made once.
var valueErrors = func() (e [numFields]*ValueError) {
	for i := range e {
		e[i] = &ValueError{Field: fieldNames[i]}
	}
	return e
}()

// satAdd adds d to a, stopping at math.MaxUint64 instead of wrapping.
func satAdd(a *atomic.Uint64, d uint64) {
	for {
		old := a.Load()
		n := old + d
		if n < old {
			n = math.MaxUint64
		}
		if n == old || a.CompareAndSwap(old, n) {
			return
		}
	}
}

// maxUpstreamDigits is the most integer digits an upstream time may have:
// 999,999,999 s (31 years) fits a time.Duration with room for a sum.
const maxUpstreamDigits = 9

// parseUpstream decodes $upstream_response_time: one time in seconds with
// up to 9 decimals, or a list of them separated by ", " (attempts at
// several servers) and " : " (internal redirects). It returns the sum of
// the attempts, saturated at the largest time.Duration. An item "-" is an
// attempt without a time and adds nothing; ok is true and has false when
// no item had a time. A negative, malformed or over-long item makes ok
// false.
func parseUpstream(b []byte) (sum time.Duration, has, ok bool) {
	i := 0
	for i < len(b) {
		c := b[i]
		if c == ' ' || c == ',' || c == ':' {
			i++
			continue
		}
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != ',' && b[j] != ':' {
			j++
		}
		tok := b[i:j]
		i = j
		if len(tok) == 1 && tok[0] == '-' {
			continue
		}
		d, good := seconds(tok)
		if !good {
			return 0, false, false
		}
		has = true
		if sum > math.MaxInt64-d {
			sum = math.MaxInt64
		} else {
			sum += d
		}
	}
	return sum, has, true
}

// seconds decodes "123" or "123.456" (at most maxUpstreamDigits integer
// digits and 9 decimals) into a duration.
func seconds(b []byte) (time.Duration, bool) {
	sec, nsec, ok := decimal.Seconds(b, maxUpstreamDigits)
	if !ok {
		return 0, false
	}
	return time.Duration(sec)*time.Second + time.Duration(nsec), true
}

// parseCount decodes $request_length: decimal digits, at most
// math.MaxInt64.
func parseCount(b []byte) (int64, bool) {
	return decimal.Int64(b)
}
