package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flatheap/ingest/route"
	"github.com/flatheap/ingest/routemetrics"
)

// maxMaxSeries bounds --max-series: at about 1 KiB a key, a million keys
// is a gigabyte, past what one instance should hold; scale out instead.
const maxMaxSeries = 1_000_000

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// routeFlags are serve's flags for the route metrics.
type routeFlags struct {
	patterns   stringList
	file       *string
	noAuto     *bool
	maxSeries  *int
	seriesIdle *time.Duration
	buckets    *string
	vhost      *string

	// Admission and eviction (routemetrics.Config).
	admitAfter     *int
	admitWindow    *time.Duration
	noEviction     *bool
	collapse       *string
	sketchKeys     *int
	doorkeeperKeys *int
}

func addRouteFlags(fs *flag.FlagSet) *routeFlags {
	f := &routeFlags{}
	fs.Var(&f.patterns, "route", "route `pattern` as net/http.ServeMux writes them (\"GET /users/{id}\", \"/static/{file...}\"); repeatable, tried in order before --routes'")
	f.file = fs.String("routes", "", "`file` of route patterns, one a line; blank lines and lines starting with # are skipped")
	f.noAuto = fs.Bool("no-auto-routes", false, "keep the path segments no pattern matches as written, instead of replacing numbers, UUIDs, hex strings, tokens and e-mail addresses by {id} {uuid} {hex} {token} {email}")
	f.maxSeries = fs.Int("max-series", routemetrics.DefaultMaxSeries, "most route-metric series (vhost, route, method, status), at most 1000000 (about 1 KiB each); when it is full, a new route takes the place of a colder one or counts under route {overflow}")
	f.seriesIdle = fs.Duration("series-idle", routemetrics.DefaultSeriesIdle, "remove a route-metric series after this long without a line")
	f.buckets = fs.String("buckets", "", "comma-separated histogram bucket bounds in `seconds` (default 0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10)")
	f.vhost = fs.String("vhost", "", "vhost label of the lines that log no $host: a fixed `name`, or \"tag\" for the syslog tag")
	f.admitAfter = fs.Int("admit-after", routemetrics.DefaultAdmitAfter, "`lines` a route (vhost, route, method) needs within --admit-window before it gets series of its own, 1 to 15; until then its lines count under route {unadmitted}; 1 is first come, first served. A route of a --route pattern gets series on its first line")
	f.admitWindow = fs.Duration("admit-window", routemetrics.DefaultAdmitWindow, "longest time a route's first line is remembered for admission, and between two halvings of the route frequencies that admission and eviction compare")
	f.noEviction = fs.Bool("no-eviction", false, "when the series budget is full, never evict a held route for a more frequent one: new routes then count under {overflow}, first come, first served")
	f.collapse = fs.String("collapse-unmatched", "", "comma-separated `statuses` (e.g. 404) whose lines of routes no --route pattern matched count under route {unmatched}, never in series of their own; use it with patterns that cover the application")
	f.sketchKeys = fs.Int("sketch-keys", 0, "`routes` the admission frequency sketch is sized for, 8 bytes each (default the larger of 16384 and --max-series)")
	f.doorkeeperKeys = fs.Int("doorkeeper-keys", routemetrics.DefaultDoorkeeperKeys, "`routes` whose first sighting each admission generation remembers, 32 bytes each; the default remembers a first line for 3 to 6 s of a flood of 20,000 new paths/s")
	return f
}

// maxRoutesFileLine bounds a line of the --routes file.
const maxRoutesFileLine = 64 << 10

// config returns the route-metric store's configuration the flags
// describe, after fs.Parse: the route templater built, the budget and the
// buckets checked. Its error is one line naming the flag, or the file and
// line.
func (f *routeFlags) config() (routemetrics.Config, error) {
	patterns := append([]string(nil), f.patterns...)
	where := make([]string, len(patterns)) // where each pattern comes from
	for i := range patterns {
		where[i] = "--route"
	}
	if *f.file != "" {
		fp, err := os.Open(*f.file)
		if err != nil {
			return routemetrics.Config{}, fmt.Errorf("--routes: %v", err)
		}
		defer fp.Close()
		sc := bufio.NewScanner(fp)
		sc.Buffer(nil, maxRoutesFileLine)
		n := 0
		for sc.Scan() {
			n++
			line := strings.TrimSpace(sc.Text())
			if line == "" || line[0] == '#' {
				continue
			}
			patterns = append(patterns, line)
			where = append(where, *f.file+":"+strconv.Itoa(n))
		}
		if err := sc.Err(); err != nil {
			return routemetrics.Config{}, fmt.Errorf("--routes: %s:%d: %v", *f.file, n+1, err)
		}
	}
	routes, err := route.New(route.Config{Patterns: patterns, NoAutoClasses: *f.noAuto})
	if err != nil {
		if pe, ok := errors.AsType[*route.PatternError](err); ok && pe.Index >= 0 && pe.Index < len(where) {
			return routemetrics.Config{}, fmt.Errorf("%s: pattern %q: at byte %d: %s", where[pe.Index], pe.Pattern, pe.Offset, pe.Reason)
		}
		return routemetrics.Config{}, fmt.Errorf("route patterns: %v", err)
	}
	if *f.maxSeries <= 0 || *f.maxSeries > maxMaxSeries {
		return routemetrics.Config{}, fmt.Errorf("--max-series must be from 1 to %d", maxMaxSeries)
	}
	if *f.seriesIdle < 100*time.Millisecond {
		return routemetrics.Config{}, errors.New("--series-idle must be at least 100ms")
	}
	buckets, err := parseBuckets(*f.buckets)
	if err != nil {
		return routemetrics.Config{}, fmt.Errorf("--buckets: %v", err)
	}
	cfg := routemetrics.Config{
		Routes:     routes,
		MaxSeries:  *f.maxSeries,
		SeriesIdle: *f.seriesIdle,
		Buckets:    buckets,
	}
	if err := f.admission(&cfg); err != nil {
		return routemetrics.Config{}, err
	}
	if *f.vhost == "tag" {
		cfg.VHostFromTag = true
	} else {
		cfg.VHost = *f.vhost
	}
	return cfg, nil
}

// admission checks the admission and eviction flags and sets them in cfg.
// Its error is one line naming the flag.
func (f *routeFlags) admission(cfg *routemetrics.Config) error {
	if *f.admitAfter < 1 || *f.admitAfter > routemetrics.MaxAdmitAfter {
		return fmt.Errorf("--admit-after must be from 1 to %d", routemetrics.MaxAdmitAfter)
	}
	if *f.admitWindow < time.Second {
		return errors.New("--admit-window must be at least 1s")
	}
	if *f.sketchKeys < 0 || *f.sketchKeys > routemetrics.MaxSketchKeys {
		return fmt.Errorf("--sketch-keys must be from 1 to %d, or 0 for the default", routemetrics.MaxSketchKeys)
	}
	if *f.doorkeeperKeys < 1 || *f.doorkeeperKeys > routemetrics.MaxSketchKeys {
		return fmt.Errorf("--doorkeeper-keys must be from 1 to %d", routemetrics.MaxSketchKeys)
	}
	collapse, err := parseStatuses(*f.collapse)
	if err != nil {
		return fmt.Errorf("--collapse-unmatched: %v", err)
	}
	cfg.AdmitAfter = *f.admitAfter
	cfg.AdmitWindow = *f.admitWindow
	cfg.NoEviction = *f.noEviction
	cfg.CollapseUnmatched = collapse
	cfg.SketchKeys = *f.sketchKeys
	cfg.DoorkeeperKeys = *f.doorkeeperKeys
	return nil
}

// parseStatuses parses a comma-separated list of statuses from 100 to
// 599; "" is none.
func parseStatuses(s string) ([]int, error) {
	var out []int
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 100 || v > 599 {
			return nil, fmt.Errorf("status %d, %q, is not a number from 100 to 599", i+1, f)
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// newRouteStore returns the store of cfg. Its error is one line, naming
// the flag that set what the store refused.
func newRouteStore(cfg routemetrics.Config) (*routemetrics.Store, error) {
	store, err := routemetrics.New(cfg)
	if err != nil {
		flagName := "route metrics"
		switch {
		case strings.Contains(err.Error(), "Buckets"):
			flagName = "--buckets"
		case strings.Contains(err.Error(), "VHost"):
			flagName = "--vhost"
		case strings.Contains(err.Error(), "SketchKeys"):
			flagName = "--sketch-keys"
		case strings.Contains(err.Error(), "DoorkeeperKeys"):
			flagName = "--doorkeeper-keys"
		}
		return nil, fmt.Errorf("%s: %v", flagName, err)
	}
	return store, nil
}

// parseBuckets parses a comma-separated list of bucket bounds; "" is nil,
// the store's default. The store checks the order and range.
func parseBuckets(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []float64
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("bound %d, %q, is not a number of seconds", i+1, f)
		}
		out = append(out, v)
	}
	return out, nil
}

// expiryInterval is how often serve removes idle series and moves the
// store's clock, which ages admission: ten times per --series-idle, as the
// store asks, ten times per --admit-window, so that the window is kept to
// a tenth, and at least once a minute.
func expiryInterval(idle, admitWindow time.Duration) time.Duration {
	return min(max(idle/10, 10*time.Millisecond), max(admitWindow/10, 100*time.Millisecond), time.Minute)
}

// expireRoutes removes the idle route series every interval until done.
func (d *daemon) expireRoutes(done <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			d.store.Expire(now)
		}
	}
}

// maxRoutesPath bounds /routes' path parameter.
const maxRoutesPath = 8 << 10

// serveRoutes answers /routes?path=P[&method=M] with the route of P and
// the rule or classes that made it, as JSON.
func (d *daemon) serveRoutes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	path, method := q.Get("path"), q.Get("method")
	if !q.Has("path") || len(path) > maxRoutesPath || len(method) > 32 {
		http.Error(w, "want /routes?path=/some/path[&method=GET], path at most "+strconv.Itoa(maxRoutesPath)+" bytes", http.StatusBadRequest)
		return
	}
	// A query string in path is not part of the path: the parser splits it
	// off a logged request the same way.
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	ex := d.routes.Explain([]byte(method), []byte(path))
	w.Header().Set("Content-Type", "application/json")
	out := struct {
		Path   string `json:"path"`
		Method string `json:"method,omitempty"`
		route.Explanation
	}{path, method, ex}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(append(b, '\n'))
}

// statusesText returns statuses for the start-up line: "404,410", or
// "none".
func statusesText(statuses []int) string {
	if len(statuses) == 0 {
		return "none"
	}
	parts := make([]string, len(statuses))
	for i, st := range statuses {
		parts[i] = strconv.Itoa(st)
	}
	return strings.Join(parts, ",")
}
