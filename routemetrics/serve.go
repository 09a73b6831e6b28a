package routemetrics

import (
	"github.com/flatheap/ingest"
)

// ServeLine counts one parsed line, so that a Store is an ingest.Handler.
// It reads the line's method, path (made a route by Config.Routes),
// status, $body_bytes_sent, $request_time, $host (or the configured
// vhost, or the syslog tag), and the extra variables request_length and
// upstream_response_time when the format logs them.
//
// $upstream_response_time may be a list ("0.002, 0.010 : 0.001"): the sum
// of its times is observed. An item "-" adds nothing, and a value of "-"
// observes nothing. A negative or malformed value, or one of more than 9
// integer digits, is not observed and is counted in
// ingest_route_value_errors_total{field="upstream_response_time"}; a large
// but well-formed value goes to the +Inf bucket. A $request_length that is
// not a decimal count is counted the same way under "request_length". The
// line itself is always counted.
//
// ServeLine retains neither r nor any slice in it, and costs no allocation
// once the line's key exists.
func (s *Store) ServeLine(r *ingest.Request) {
	vhost := r.Host
	if len(vhost) == 0 {
		vhost = s.vhost
		if s.vhostFromTag && len(r.SyslogTag) > 0 {
			vhost = r.SyslogTag
		}
	}
	// The key is built in place: vhost, separator, the route as the
	// templater appends it, separator, method.
	var kb [keyCap]byte
	key := appendBounded(kb[:0], vhost, MaxVHostLen)
	key = append(key, keySep)
	start := len(key)
	key, pattern := s.routes.AppendMatch(key, r.Method, r.Path)
	if len(key)-start > MaxRouteLen {
		// The templater makes routes of printable ASCII within
		// route.MaxRouteLen, patterns' included: no byte of it needs
		// replacing. The length is checked all the same, for a bound
		// that does not depend on another package.
		key = fixRoute(key, start)
	}
	key = append(key, keySep, methodIndex(r.Method))
	// Hash the key now, and bring in the admission filter's line of it,
	// which a new route needs, while the values are decoded.
	h, sh := s.shardOf(key)
	x := s.adm.Touch(h)
	v := values{
		resp:   r.BodyBytesSent,
		dur:    r.RequestTime,
		hasDur: r.HasRequestTime && r.RequestTime >= 0,
	}
	if v.resp < 0 {
		v.resp = 0
		s.valueErrs[fieldBodyBytes].Add(1)
	}
	if r.HasRequestTime && r.RequestTime < 0 {
		s.valueErrs[fieldRequestTime].Add(1)
	}
	if b := r.Var("request_length"); b != nil {
		if n, ok := parseCount(b); ok {
			v.req, v.hasReq = n, true
		} else {
			s.valueErrs[fieldRequestLength].Add(1)
		}
	}
	if b := r.Var("upstream_response_time"); b != nil {
		if d, has, ok := parseUpstream(b); ok {
			v.up, v.hasUp = d, has
		} else {
			s.valueErrs[fieldUpstream].Add(1)
		}
	}
	s.observeHashed(key, h, x, sh, statusKey(r.Status), &v, pattern)
}

var _ ingest.Handler = (*Store)(nil)

// fixRoute replaces key[start:], a route, by its bounded, valid UTF-8
// form.
//
//go:noinline
func fixRoute(key []byte, start int) []byte {
	var rb [MaxRouteLen]byte
	rt := append(rb[:0], key[start:min(len(key), start+MaxRouteLen+1)]...)
	return appendBounded(key[:start], rt, MaxRouteLen)
}
