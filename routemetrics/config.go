package routemetrics

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/flatheap/ingest/route"
)

// Defaults and bounds of Config.
const (
	// DefaultMaxSeries is Config.MaxSeries when it is zero.
	DefaultMaxSeries = 10000
	// DefaultSeriesIdle is Config.SeriesIdle when it is zero.
	DefaultSeriesIdle = 30 * time.Minute
	// MaxBuckets is the most histogram buckets Config.Buckets may hold
	// (+Inf not counted).
	MaxBuckets = 64
	// MaxBucket is the largest bucket bound accepted, in seconds.
	MaxBucket = 1e9
	// MaxVHostLen is the longest vhost kept as given, in bytes: the
	// longest DNS name. A longer vhost is counted as "{other}".
	MaxVHostLen = 253
	// MaxRouteLen is the longest route kept as given, in bytes, as the
	// route templater bounds it. A longer route given to Observe is
	// counted as "{other}".
	MaxRouteLen = 256
)

// Fixed label values.
const (
	// Overflow is the route of the series that count the lines whose key
	// did not fit in the budget; they keep the line's vhost, method and
	// status. When even the overflow series are full, the line goes to the
	// one catch-all series: vhost and route Overflow, method "OTHER",
	// status "other".
	Overflow = "{overflow}"
	// Other replaces a vhost or route longer than its bound. (Status codes
	// outside 100-599 get the status label "other".)
	Other = "{other}"
)

// defaultBuckets are the bounds New uses when Config.Buckets is nil.
var defaultBuckets = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// DefaultBuckets are the histogram bucket bounds, in seconds, used when
// Config.Buckets is nil: the buckets Prometheus client libraries use by
// default, from 5 ms to 10 s. It is a copy for reading: New uses its own,
// so changing this slice changes no store's buckets.
var DefaultBuckets = append([]float64(nil), defaultBuckets[:]...)

// Config configures a Store. The zero value is valid: every field has a
// documented default.
type Config struct {
	// Routes maps a line's method and path to its route in ServeLine.
	// nil means a Templater of route.New(route.Config{}): automatic
	// classes, no patterns.
	Routes *route.Templater
	// MaxSeries is the most keys (vhost, route, method, status) the store
	// holds, overflow series included; default DefaultMaxSeries. A
	// twentieth of it (at least one key) is kept for the overflow series,
	// so keys with their own route overflow at MaxSeries - MaxSeries/20.
	MaxSeries int
	// SeriesIdle is how long a key may see no line before Expire removes
	// it; default DefaultSeriesIdle.
	SeriesIdle time.Duration
	// Buckets are the upper bounds of the histogram buckets, in seconds:
	// strictly increasing, positive, at most MaxBucket, at most MaxBuckets
	// of them, none closer than 1ns to the previous. nil means
	// DefaultBuckets; an empty, non-nil slice keeps only +Inf.
	Buckets []float64
	// VHost is the vhost of lines that logged no Host: at most MaxVHostLen
	// bytes.
	VHost string
	// VHostFromTag makes the syslog tag the vhost of lines that logged no
	// Host, when they came with one; VHost is used for the others.
	VHostFromTag bool
}

// ErrConfig is what every error of New wraps.
var ErrConfig = errors.New("routemetrics: bad config")

// configError says which Config field is wrong.
type configError struct{ field, msg string }

func (e *configError) Error() string { return ErrConfig.Error() + ": " + e.field + ": " + e.msg }
func (e *configError) Unwrap() error { return ErrConfig }

// checkBuckets validates bounds (seconds) and converts them to nanoseconds.
func checkBuckets(b []float64) ([]int64, error) {
	if len(b) > MaxBuckets {
		return nil, &configError{"Buckets", "more than " + strconv.Itoa(MaxBuckets) + " buckets"}
	}
	ns := make([]int64, len(b))
	for i, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 || v > MaxBucket {
			return nil, &configError{"Buckets", "bound " + strconv.FormatFloat(v, 'g', -1, 64) +
				" is not a positive finite number of seconds up to 1e9"}
		}
		ns[i] = int64(math.Round(v * 1e9))
		if ns[i] < 1 {
			return nil, &configError{"Buckets", "bound " + strconv.FormatFloat(v, 'g', -1, 64) + " is under 1ns"}
		}
		if i > 0 && ns[i] <= ns[i-1] {
			return nil, &configError{"Buckets", "bounds not strictly increasing at " + strconv.FormatFloat(v, 'g', -1, 64)}
		}
	}
	return ns, nil
}
