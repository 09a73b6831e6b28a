package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/flatheap/ingest/routemetrics"
)

// seriesUsage is /series' answer to a request it cannot serve.
var seriesUsage = "want /series?path=/some/path or /series?route=/some/{id}, with [&method=GET][&vhost=name]; path at most " +
	strconv.Itoa(maxRoutesPath) + " bytes, route at most " + strconv.Itoa(routemetrics.MaxRouteLen) +
	", vhost at most " + strconv.Itoa(routemetrics.MaxVHostLen) + ", method at most 32"

// seriesAnswer is /series' JSON: the store's explanation of a route, how
// the path became the route, and a sentence that says where the route's
// lines are counted and why.
type seriesAnswer struct {
	// Path is the path asked about, when the request gave one; Rule and
	// MatchedPattern say how it became the route (see /routes).
	Path           string `json:"path,omitempty"`
	Rule           string `json:"rule,omitempty"`
	MatchedPattern string `json:"matched_pattern,omitempty"`
	routemetrics.Explanation
	Why string `json:"why"`
}

// serveSeries answers /series?path=P (or route=R) [&method=M][&vhost=V]
// with whether the route has series of its own in the route store, its
// estimated frequency, and why, as JSON. The method defaults to GET, the
// vhost to --vhost's name. Counting no sighting, it changes nothing.
func (d *daemon) serveSeries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	path, rt := q.Get("path"), q.Get("route")
	method, vhost := "GET", d.cfg.routeMetrics.VHost
	if q.Has("method") {
		method = q.Get("method")
	}
	if q.Has("vhost") {
		vhost = q.Get("vhost")
	}
	if q.Has("path") == q.Has("route") || len(path) > maxRoutesPath || len(rt) > routemetrics.MaxRouteLen ||
		len(method) > 32 || len(vhost) > routemetrics.MaxVHostLen {
		http.Error(w, seriesUsage, http.StatusBadRequest)
		return
	}
	var ans seriesAnswer
	if q.Has("path") {
		// A query string is not part of the path, as in /routes.
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		rex := d.routes.Explain([]byte(method), []byte(path))
		ans.Path, ans.Rule, ans.MatchedPattern = path, rex.Rule, rex.Pattern
		ans.Explanation = d.store.Explain([]byte(vhost), []byte(method), []byte(path))
	} else {
		// A route given as written: a pattern's route if a pattern
		// writes it so.
		pattern := false
		for _, p := range d.routes.Patterns() {
			if patternRoute(p) == rt {
				pattern = true
				break
			}
		}
		ans.Explanation = d.store.ExplainRoute([]byte(vhost), []byte(rt), []byte(method), pattern)
	}
	ans.Why = seriesWhy(&ans.Explanation, &d.cfg.routeMetrics)
	b, err := json.MarshalIndent(ans, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// patternRoute returns the route a pattern writes: the pattern without its
// method.
func patternRoute(p string) string {
	if i := strings.IndexByte(p, ' '); i >= 0 && !strings.HasPrefix(p, "/") {
		return strings.TrimLeft(p[i:], " ")
	}
	return p
}

// seriesWhy says, in a sentence for the operator, where a route's lines
// are counted and why, by the flags that decide it.
func seriesWhy(ex *routemetrics.Explanation, cfg *routemetrics.Config) string {
	var b strings.Builder
	switch ex.State {
	case routemetrics.StatePattern:
		fmt.Fprintf(&b, "the route of a --route pattern: it got series of its own on its first line (statuses %s), and its lines count in them", statusList(ex.Statuses))
	case routemetrics.StateAdmitted:
		fmt.Fprintf(&b, "seen often enough (--admit-after %d): it has series of its own (statuses %s), and its lines count in them; its count on the admission scale is %d of at most %d",
			ex.AdmitAfter, statusList(ex.Statuses), ex.Estimate, routemetrics.MaxAdmitAfter)
	case routemetrics.StateUnadmitted:
		if ex.Estimate == 0 {
			fmt.Fprintf(&b, "not seen within the admission window (--admit-window %v): no series of its own; its next line counts under route %s, by status class, and it gets series of its own once it is seen %d times within the window (--admit-after)",
				cfg.AdmitWindow, routemetrics.Unadmitted, ex.AdmitAfter)
		} else {
			fmt.Fprintf(&b, "seen %d time(s) within the admission window (--admit-window %v), fewer than --admit-after %d: no series of its own yet; its lines count under route %s, by status class",
				ex.Estimate, cfg.AdmitWindow, ex.AdmitAfter, routemetrics.Unadmitted)
		}
	case routemetrics.StateOverflow:
		fmt.Fprintf(&b, "seen often enough (estimate %d, --admit-after %d), but the series budget (--max-series %d) is full", ex.Estimate, ex.AdmitAfter, cfg.MaxSeries)
		if cfg.NoEviction {
			b.WriteString(" and --no-eviction keeps the routes held in place")
		} else {
			b.WriteString(" and it has not been seen more often than the coldest route held, which it would then replace")
		}
		fmt.Fprintf(&b, ": its lines count under route %s", routemetrics.Overflow)
	case routemetrics.StateEvicted:
		fmt.Fprintf(&b, "evicted lately to make room for a more frequent route: its series' counts went to route %s; its lines count under %s or %s until it is seen often enough again (estimate %d)",
			routemetrics.Overflow, routemetrics.Unadmitted, routemetrics.Overflow, ex.Estimate)
	case routemetrics.StateCatchAll:
		b.WriteString("a catch-all route: it counts the lines of routes without series of their own")
	default:
		b.WriteString(ex.State)
	}
	if len(ex.Collapsed) > 0 {
		fmt.Fprintf(&b, "; lines with status %s count under route %s (--collapse-unmatched), as the route matched no --route pattern",
			statusList(ex.Collapsed), routemetrics.Unmatched)
	}
	return b.String()
}

// statusList returns statuses as "200, 404", or "none".
func statusList(statuses []int) string {
	return strings.ReplaceAll(statusesText(statuses), ",", ", ")
}
