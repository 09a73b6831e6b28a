package routemetrics

import (
	"slices"
)

// States of a route in an Explanation.
const (
	// StatePattern: the route has series of its own, admitted on its
	// first line because it came from a pattern.
	StatePattern = "pattern"
	// StateAdmitted: the route has series of its own, admitted by
	// frequency (or on its first line with AdmitAfter 1).
	StateAdmitted = "admitted"
	// StateUnadmitted: no series of its own; its estimate is below
	// AdmitAfter, and its lines count in {unadmitted}.
	StateUnadmitted = "unadmitted"
	// StateOverflow: no series of its own; it was seen often enough, but
	// the budget is full and it has not beaten the coldest route sampled,
	// so its lines count in {overflow}.
	StateOverflow = "overflow"
	// StateEvicted: no series of its own any more: it was one of the
	// last routes evicted to make room for a more frequent one. Its
	// lines count in {unadmitted} or {overflow} until it is admitted
	// again.
	StateEvicted = "evicted"
	// StateCatchAll: the route is one of the catch-all routes.
	StateCatchAll = "catch-all"
)

// Explanation says whether a route has series of its own in a Store, and
// why. It encodes as JSON.
type Explanation struct {
	// VHost, Route and Method are the labels of the route's series, as
	// the store writes them.
	VHost  string `json:"vhost"`
	Route  string `json:"route"`
	Method string `json:"method"`
	// Pattern says that the route came from a pattern.
	Pattern bool `json:"pattern"`
	// Series says that the route has at least one series of its own, and
	// Statuses lists their statuses.
	Series   bool  `json:"series"`
	Statuses []int `json:"statuses,omitempty"`
	// Requests is the lines counted in the route's own series.
	Requests uint64 `json:"requests"`
	// State is one of the State constants.
	State string `json:"state"`
	// Estimate is the route's frequency on the admission scale (0 to
	// 15): for a route with series, its count (the estimate it was
	// admitted with, plus its lines since, halved at each aging of the
	// filter); for the others, the filter's estimate of its sightings: 0
	// for a route not seen within the window.
	Estimate int `json:"estimate"`
	// AdmitAfter is the store's threshold (Config.AdmitAfter).
	AdmitAfter int `json:"admit_after"`
	// Collapsed lists the statuses whose lines of this route are counted
	// in {unmatched} (Config.CollapseUnmatched, for a route that matched
	// no pattern).
	Collapsed []int `json:"collapsed,omitempty"`
}

// Explain says whether the route of (method, path), made by
// Config.Routes, has series of its own on vhost, and why. It allocates;
// it is meant for a debugging endpoint. It counts no sighting.
func (s *Store) Explain(vhost, method, path []byte) Explanation {
	var kb [keyCap]byte
	key := appendBounded(kb[:0], vhost, MaxVHostLen)
	key = append(key, keySep)
	start := len(key)
	key, pattern := s.routes.AppendMatch(key, method, path)
	if len(key)-start > MaxRouteLen {
		key = fixRoute(key, start) // as ServeLine does
	}
	key = append(key, keySep, methodIndex(method))
	return s.explain(key, pattern)
}

// ExplainRoute is Explain for a route already made, as Observe takes it;
// pattern is Observation.Pattern.
func (s *Store) ExplainRoute(vhost, route, method []byte, pattern bool) Explanation {
	var kb [keyCap]byte
	return s.explain(s.appendKey(kb[:0], vhost, route, methodIndex(method)), pattern)
}

func (s *Store) explain(key []byte, pattern bool) Explanation {
	i := 0
	for key[i] != keySep {
		i++
	}
	j := i + 1
	for key[j] != keySep {
		j++
	}
	ex := Explanation{
		VHost: string(key[:i]), Route: string(key[i+1 : j]), Method: methodNames[key[len(key)-1]],
		Pattern: pattern, AdmitAfter: s.admitAfter,
	}
	h, sh := s.shardOf(key)
	sh.mu.Lock()
	g := sh.t.Load().get(h, key)
	if g != nil {
		ex.Pattern = g.pattern
		for _, e := range *g.entries.Load() {
			ex.Statuses = append(ex.Statuses, int(e.status))
			ex.Requests += e.requests.Load()
		}
		if g.kind == kindRegular {
			ex.Estimate = s.freq(g)
		}
	}
	sh.mu.Unlock()
	slices.Sort(ex.Statuses)
	if !ex.Pattern {
		ex.Collapsed = s.collapse.list()
	}
	switch {
	case ex.Route == Overflow || ex.Route == Unadmitted || ex.Route == Unmatched:
		ex.State = StateCatchAll
		ex.Series = g != nil
		ex.Collapsed = nil
	case g != nil:
		ex.Series = true
		ex.State = StateAdmitted
		if g.pattern {
			ex.State = StatePattern
		}
	default:
		ex.Estimate = s.adm.Estimate(h)
		switch {
		case s.wasEvicted(h):
			ex.State = StateEvicted
		case ex.Estimate == 0 || ex.Estimate < s.admitAfter && !pattern:
			ex.State = StateUnadmitted
		default:
			ex.State = StateOverflow
		}
	}
	return ex
}

// wasEvicted reports whether the group of hash h is one of the last
// evicted.
func (s *Store) wasEvicted(h uint64) bool {
	for i := range s.evictedRing {
		if s.evictedRing[i].Load() == h {
			return true
		}
	}
	return false
}
