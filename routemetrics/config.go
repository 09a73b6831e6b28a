package routemetrics

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/flatheap/ingest/internal/admission"
	"github.com/flatheap/ingest/route"
)

// Defaults and bounds of Config.
const (
	// DefaultMaxSeries is Config.MaxSeries when it is zero.
	DefaultMaxSeries = 10000
	// DefaultSeriesIdle is Config.SeriesIdle when it is zero.
	DefaultSeriesIdle = 30 * time.Minute
	// DefaultAdmitAfter is Config.AdmitAfter when it is zero: a route
	// gets a series of its own on its second sighting.
	DefaultAdmitAfter = 2
	// MaxAdmitAfter bounds Config.AdmitAfter: the admission filter counts
	// up to 15.
	MaxAdmitAfter = admission.MaxEstimate
	// DefaultAdmitWindow is Config.AdmitWindow when it is zero.
	DefaultAdmitWindow = admission.DefaultPeriod
	// DefaultSketchKeys is the least default of Config.SketchKeys.
	DefaultSketchKeys = admission.DefaultKeys
	// DefaultDoorkeeperKeys is Config.DoorkeeperKeys when it is zero.
	DefaultDoorkeeperKeys = admission.DefaultDoorkeeper
	// MaxSketchKeys bounds Config.SketchKeys and Config.DoorkeeperKeys.
	MaxSketchKeys = admission.MaxSize
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
	// did not fit in the budget (it was admitted, but did not beat the
	// coldest route held), and the counts of evicted keys; they keep the
	// line's vhost, method and status. When even the catch-all series are
	// full, the line goes to the one global catch-all series: vhost and
	// route Overflow, method "OTHER", status "other".
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
	// holds, catch-all series included; default DefaultMaxSeries. A
	// twentieth of it (at least one key) is kept for the catch-all series
	// ({overflow}, {unadmitted}, {unmatched}) and the last slot for the
	// global one, so routes of their own have MaxSeries - MaxSeries/20
	// keys.
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

	// AdmitAfter is how many sightings a route (vhost, route, method)
	// needs, within the admission window, before its keys get series of
	// their own; until then its lines count in the series (vhost,
	// {unadmitted}, method, status class). Default 2: a route's second
	// line gets a series, a path seen once never does. 1 admits every
	// route on its first line, first come first served, as a store
	// without admission. At most MaxAdmitAfter. A route that matched one
	// of the Templater's patterns (or Observation.Pattern) is admitted on
	// its first line whatever this is: the operator said it matters.
	AdmitAfter int
	// AdmitWindow is the longest the admission filter remembers a first
	// sighting for: it forgets its older half of them at least once per
	// AdmitWindow (on the clock Expire and scrapes advance), and sooner
	// when DoorkeeperKeys new routes have come; a second sighting counts
	// when it comes within one to two windows of the first. It is also
	// the longest time between two halvings of the frequencies admission
	// and eviction compare. Default DefaultAdmitWindow.
	AdmitWindow time.Duration
	// SketchKeys sizes the sketch that estimates the frequency of routes
	// without a series: 8 bytes per key, rounded up to a power of two;
	// its counts are halved after 10 x SketchKeys sightings. Default the
	// larger of DefaultSketchKeys and MaxSeries; at most MaxSketchKeys.
	SketchKeys int
	// DoorkeeperKeys is how many new routes the admission filter
	// remembers in each of its two generations: it costs 32 bytes per
	// key. At the default of 65,536 (2 MiB), a first sighting is
	// remembered for 3 to 6 seconds of a flood of 20,000 new paths a
	// second, and a path seen once passes for one seen twice about once
	// in 2e11. At most MaxSketchKeys.
	DoorkeeperKeys int
	// NoEviction keeps held routes in place when the budget is full: a
	// new route then counts in {overflow}, first come first served, as a
	// store without eviction. By default a route whose estimated
	// frequency beats the coldest route of a sample takes its place, and
	// the evicted keys' counts go to their {overflow} series.
	NoEviction bool
	// CollapseUnmatched lists statuses (100 to 599) whose lines, when
	// their route matched none of the Templater's patterns, are counted in
	// (vhost, {unmatched}, method, status) and never in a series of their
	// own. Default none: without patterns every route is unmatched, and a
	// default of 404 would take the 404s of real routes out of their
	// series, while admission already keeps paths seen once out. With
	// patterns that cover the application, 404 sends all scanning to one
	// series per vhost and method.
	CollapseUnmatched []int
}

// ErrConfig is what every error of New wraps.
var ErrConfig = errors.New("routemetrics: bad config")

// configError says which Config field is wrong, and its value when that
// helps.
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
