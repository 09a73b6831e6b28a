package routemetrics

import (
	"hash/maphash"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/flatheap/ingest/internal/admission"
	"github.com/flatheap/ingest/route"
)

// Observation is one request as Store.Observe counts it: the values a
// daemon with its own parser has decoded. Observe does not retain it or
// any slice in it.
type Observation struct {
	// VHost is the virtual host; empty is a valid vhost. Bytes that are
	// not valid UTF-8 are replaced by U+FFFD; a vhost longer than
	// MaxVHostLen bytes, before or after that, is counted as Other.
	VHost []byte
	// Route is the route template (see package route), made valid UTF-8
	// and bounded to MaxRouteLen bytes as VHost is. A route spelled like
	// a catch-all (Overflow, Unadmitted, Unmatched) is counted in that
	// catch-all series of its vhost and method (for Unadmitted, under
	// its status class), never in a series of its own, and not in the
	// catch-all counters of Stats.
	Route []byte
	// Method is the request method; anything but GET, HEAD, POST, PUT,
	// DELETE, CONNECT, OPTIONS, TRACE and PATCH is counted as OTHER.
	Method []byte
	// Status is the response status; outside 100-599 it is counted as
	// "other".
	Status int
	// ResponseBytes is the response body size ($body_bytes_sent).
	ResponseBytes int64
	// RequestBytes is the request size ($request_length), counted when
	// HasRequestBytes is set.
	RequestBytes    int64
	HasRequestBytes bool
	// Duration is the request time ($request_time), observed in the
	// request-duration histogram when HasDuration is set.
	Duration    time.Duration
	HasDuration bool
	// Upstream is the upstream time, observed in the upstream-duration
	// histogram when HasUpstream is set.
	Upstream    time.Duration
	HasUpstream bool
	// Pattern says that Route came from a pattern the operator configured
	// (route.Templater.AppendMatch reports it): the route is admitted on
	// its first line, and its statuses are never collapsed (see
	// Config.CollapseUnmatched).
	Pattern bool
}

// New returns an empty Store configured by cfg, or an error wrapping
// ErrConfig that names the bad field.
func New(cfg Config) (*Store, error) {
	s := &Store{seed: maphash.MakeSeed()}
	if err := s.configure(cfg); err != nil {
		return nil, err
	}
	bits := uint(minShardBits)
	for bits < maxShardBits && int64(shardKeys)<<bits < s.maxSeries {
		bits++
	}
	s.shardBits = bits
	s.shards = make([]shard, 1<<bits)
	empty := &table{m: map[uint64]*group{}}
	for i := range s.shards {
		s.shards[i].t.Store(empty)
	}
	for c := range s.sinkHist {
		s.sinkHist[c].v = make([]atomic.Uint64, 2*(len(s.bounds)+2))
	}
	s.advance(time.Now().UnixNano())
	s.buf = make([]byte, 0, bufSize)
	return s, nil
}

func (s *Store) configure(cfg Config) error {
	switch {
	case cfg.MaxSeries < 0:
		return &configError{"MaxSeries", "negative"}
	case cfg.MaxSeries == 0:
		cfg.MaxSeries = DefaultMaxSeries
	}
	switch {
	case cfg.SeriesIdle < 0:
		return &configError{"SeriesIdle", "negative"}
	case cfg.SeriesIdle == 0:
		cfg.SeriesIdle = DefaultSeriesIdle
	}
	if cfg.Buckets == nil {
		cfg.Buckets = defaultBuckets[:]
	}
	if len(cfg.VHost) > MaxVHostLen {
		return &configError{"VHost", "longer than " + strconv.Itoa(MaxVHostLen) + " bytes"}
	}
	bounds, err := checkBuckets(cfg.Buckets)
	if err != nil {
		return err
	}
	s.bounds = bounds
	s.le = make([]string, 0, len(bounds)+1)
	for _, b := range cfg.Buckets {
		s.le = append(s.le, strconv.FormatFloat(b, 'g', -1, 64))
	}
	s.le = append(s.le, "+Inf")
	s.idle = int64(cfg.SeriesIdle)
	n := int64(cfg.MaxSeries)
	s.maxSeries = n
	reserve := max(1, n/20)
	s.regularCap = n - reserve
	s.catchAllCap = reserve - 1
	s.routes = cfg.Routes
	if s.routes == nil {
		t, err := route.New(route.Config{})
		if err != nil {
			return err
		}
		s.routes = t
	}
	s.vhost = []byte(cfg.VHost)
	s.vhostFromTag = cfg.VHostFromTag
	return s.configureAdmission(cfg)
}

// configureAdmission checks and applies the admission and eviction fields
// of cfg, whose MaxSeries has its default.
func (s *Store) configureAdmission(cfg Config) error {
	switch {
	case cfg.AdmitAfter < 0 || cfg.AdmitAfter > MaxAdmitAfter:
		return &configError{"AdmitAfter", strconv.Itoa(cfg.AdmitAfter) + " is not between 1 and " + strconv.Itoa(MaxAdmitAfter)}
	case cfg.AdmitAfter == 0:
		cfg.AdmitAfter = DefaultAdmitAfter
	}
	switch {
	case cfg.AdmitWindow < 0:
		return &configError{"AdmitWindow", cfg.AdmitWindow.String() + " is negative"}
	case cfg.AdmitWindow == 0:
		cfg.AdmitWindow = DefaultAdmitWindow
	}
	switch {
	case cfg.SketchKeys < 0 || cfg.SketchKeys > MaxSketchKeys:
		return &configError{"SketchKeys", strconv.Itoa(cfg.SketchKeys) + " is not between 1 and " + strconv.Itoa(MaxSketchKeys)}
	case cfg.SketchKeys == 0:
		cfg.SketchKeys = max(DefaultSketchKeys, min(cfg.MaxSeries, MaxSketchKeys))
	}
	if cfg.DoorkeeperKeys < 0 || cfg.DoorkeeperKeys > MaxSketchKeys {
		return &configError{"DoorkeeperKeys", strconv.Itoa(cfg.DoorkeeperKeys) + " is not between 1 and " + strconv.Itoa(MaxSketchKeys)}
	}
	for _, st := range cfg.CollapseUnmatched {
		if st < 100 || st > 599 {
			return &configError{"CollapseUnmatched", "status " + strconv.Itoa(st) + " is not between 100 and 599"}
		}
		s.collapse.add(uint16(st))
	}
	adm, err := admission.New(admission.Config{Keys: cfg.SketchKeys, Doorkeeper: cfg.DoorkeeperKeys, Period: cfg.AdmitWindow})
	if err != nil {
		return &configError{"SketchKeys", err.Error()}
	}
	s.adm = adm
	s.admBytes = adm.Bytes()
	s.admitAfter = cfg.AdmitAfter
	s.evict = !cfg.NoEviction
	return nil
}

// Observe counts one request. It returns nil, or a *ValueError when a
// value could not be counted (a negative size or time): the request is
// counted all the same, without that value, and the error is counted in
// ingest_route_value_errors_total. Observe costs no allocation once the
// key exists.
func (s *Store) Observe(o *Observation) error {
	var kb [keyCap]byte
	key := s.appendKey(kb[:0], o.VHost, o.Route, methodIndex(o.Method))
	var err error
	v := values{
		resp:   o.ResponseBytes,
		req:    o.RequestBytes,
		hasReq: o.HasRequestBytes,
		dur:    o.Duration,
		hasDur: o.HasDuration,
		up:     o.Upstream,
		hasUp:  o.HasUpstream,
	}
	if v.resp < 0 {
		v.resp = 0
		err = s.valueError(fieldBodyBytes)
	}
	if v.hasReq && v.req < 0 {
		v.hasReq = false
		err = s.valueError(fieldRequestLength)
	}
	if v.hasDur && v.dur < 0 {
		v.hasDur = false
		err = s.valueError(fieldRequestTime)
	}
	if v.hasUp && v.up < 0 {
		v.hasUp = false
		err = s.valueError(fieldUpstream)
	}
	status := statusKey(o.Status)
	if rt := catchAllRoute(o.Route); rt != "" {
		// A route spelled like a catch-all counts in that catch-all
		// series: it is never admitted as a route of its own, which
		// eviction could take away, so that a series of a catch-all route
		// never goes down but by expiry.
		if rt == Unadmitted {
			status = classStatus(status)
		}
		s.countCatchAll(key, rt, status, &v)
		return err
	}
	s.observe(key, status, &v, o.Pattern)
	return err
}

// catchAllRoute returns the catch-all route rt is spelled as, or "".
func catchAllRoute(rt []byte) string {
	if len(rt) == 0 || rt[0] != '{' {
		return ""
	}
	for _, c := range [...]string{Overflow, Unadmitted, Unmatched} {
		if string(rt) == c {
			return c
		}
	}
	return ""
}

// valueError counts a bad value of field f and returns its error.
func (s *Store) valueError(f int) error {
	s.valueErrs[f].Add(1)
	return valueErrors[f]
}

// values are what a line adds to its key.
type values struct {
	resp, req     int64
	hasReq        bool
	dur, up       time.Duration
	hasDur, hasUp bool
}

// appendKey appends the key of (vhost, route, method) to dst.
func (s *Store) appendKey(dst, vhost, route []byte, method uint8) []byte {
	dst = appendBounded(dst, vhost, MaxVHostLen)
	dst = append(dst, keySep)
	dst = appendBounded(dst, route, MaxRouteLen)
	return append(dst, keySep, method)
}
