package routemetrics

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flatheap/ingest"
)

// The scanner scenario, on the Store with simulated time: 20 real routes at
// Zipf-like rates (20/k lines a second for k = 1..20, the rarest at one a
// second) from the start, a 21st real route that first appears after the
// flood began (one line a second), and a flood of distinct junk paths at
// 20,000 lines a second, one in ten of them seen a second time 0.5 to 5
// seconds later. The new route begins a third of the way into the flood.
// The clock moves only through Expire, once a simulated second.
const (
	scanVHost      = "api.example.com"
	scanStep       = 50 * time.Microsecond // one junk line per step: 20,000 a second
	scanFloodStart = 5 * time.Second
	scanTail       = 5 * time.Second // after the flood
)

// scanRoutes are the real routes' resources: /api/v2/<name>/<id>, whose
// route is /api/v2/<name>/{id}. The last is the new one.
var scanRoutes = [...]string{"cart", "products", "search", "users", "orders", "login", "session", "prices",
	"stock", "reviews", "images", "shipping", "coupons", "wishlist", "addresses", "payments", "invoices",
	"returns", "refunds", "newsletter", "checkout"}

// junkPath appends the junk path of index i to dst: /wp-admin/ and ten
// letters, i in base 26, then .php. Every index has its own path, and the
// path gives the index back (junkIndex), so the test knows how often a
// held path was seen.
func junkPath(dst []byte, i int) []byte {
	dst = append(dst, "/wp-admin/"...)
	for range 10 {
		dst = append(dst, byte('a'+i%26))
		i /= 26
	}
	return append(dst, ".php"...)
}

// junkIndex returns the index of a junk route, or -1.
func junkIndex(rt string) int {
	s, ok := strings.CutPrefix(rt, "/wp-admin/")
	if !ok || len(s) != 14 || !strings.HasSuffix(s, ".php") {
		return -1
	}
	i := 0
	for k := 9; k >= 0; k-- {
		i = i*26 + int(s[k]-'a')
	}
	return i
}

// holdsRoute reports whether the store holds a series of route's own.
func holdsRoute(s *Store, vhost, route string, method uint8) bool {
	var kb [keyCap]byte
	key := s.appendKey(kb[:0], []byte(vhost), []byte(route), method)
	h, sh := s.shardOf(key)
	g := sh.t.Load().get(h, key)
	return g != nil && g.kind == kindRegular
}

// realRoute is the test's record of a real route.
type realRoute struct {
	route      string
	interval   time.Duration
	next       time.Duration // of its next line, since the start
	lines      int
	second     time.Duration // when its second line came
	admitted   time.Duration // when it first held a series; -1 before
	lostAt     time.Duration // when it lost it; -1 if never
	pathBuffer []byte
}

func TestScannerScenario(t *testing.T) {
	junk := 1_000_000
	switch {
	case raceEnabled:
		// The race detector makes each line ten times dearer, and the
		// scenario runs on one goroutine: 2.5 s of flood (the default
		// budget is then not filled), as fast.
		junk = 50_000
	case testing.Short():
		junk = 200_000
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		// wait bounds the time from a real route's second line to its
		// series.
		wait time.Duration
	}{
		{"default", Config{}, 2 * time.Second},
		{"max-series-200", Config{MaxSeries: 200}, 2 * time.Second},
		// Aging every 5 s: held junk cools down and is evicted by newer
		// junk, while the real routes stay hot enough to keep theirs. A
		// route's second line ties with the junk admitted since the last
		// aging (both were seen twice), its third wins; an aging between
		// them halves its count, and its fourth wins.
		{"max-series-200-window-5s", Config{MaxSeries: 200, AdmitWindow: 5 * time.Second}, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) { scannerScenario(t, tc.cfg, junk, tc.wait) })
	}
}

func scannerScenario(t *testing.T, cfg Config, junk int, wait time.Duration) {
	floodEnd := scanFloodStart + time.Duration(junk)*scanStep
	end := floodEnd + scanTail
	newRoute := scanFloodStart + (floodEnd-scanFloodStart)/3
	steps := int(end / scanStep)
	// Repeats are due 0.5 to 5 s after the first sighting: a ring of
	// pending indexes, one slot per step, reused.
	const ringSteps = int(5*time.Second/scanStep) + 2
	ring := make([][]int32, ringSteps)
	for i := range ring {
		ring[i] = make([]int32, 0, 2)
	}
	routes := make([]*realRoute, len(scanRoutes))
	for k, name := range scanRoutes {
		r := &realRoute{route: "/api/v2/" + name + "/{id}", admitted: -1, lostAt: -1, second: -1,
			pathBuffer: make([]byte, 0, 64)}
		if k < 20 {
			r.interval = time.Second * time.Duration(k+1) / 20
			r.next = time.Duration(k) * time.Millisecond // out of step with each other
		} else {
			r.interval, r.next = time.Second, newRoute
		}
		routes[k] = r
	}
	junkBuf := make([]byte, 0, 64)
	req := ingest.Request{Method: []byte("GET"), Host: []byte(scanVHost)}

	s := mustNew(t, cfg)
	// The simulated clock starts now: the store's clock only moves
	// forward, and New set it to now.
	t0 := time.Now()
	s.Expire(t0)
	before := liveHeap()

	lines := 0
	serve := func(path []byte, status int) {
		req.Path, req.Status = path, status
		s.ServeLine(&req)
		lines++
	}
	check := func(r *realRoute, at time.Duration) {
		held := holdsRoute(s, scanVHost, r.route, 1)
		switch {
		case held && r.admitted < 0:
			r.admitted = at
		case !held && r.admitted >= 0 && r.lostAt < 0:
			r.lostAt = at
		}
	}
	maxSeries := 0
	for n := range steps {
		at := time.Duration(n) * scanStep
		if at%time.Second == 0 {
			s.Expire(t0.Add(at))
			maxSeries = max(maxSeries, s.Stats().Series)
			for _, r := range routes {
				if r.lines > 0 {
					check(r, at)
				}
			}
		}
		if at >= scanFloodStart && at < floodEnd {
			j := int((at - scanFloodStart) / scanStep)
			junkBuf = junkPath(junkBuf[:0], j)
			serve(junkBuf, 404)
			if j%10 == 0 {
				delay := 500*time.Millisecond + time.Duration(j*7919%4500)*time.Millisecond
				slot := (n + int(delay/scanStep)) % ringSteps
				ring[slot] = append(ring[slot], int32(j))
			}
		}
		due := &ring[n%ringSteps]
		for _, j := range *due {
			junkBuf = junkPath(junkBuf[:0], int(j))
			serve(junkBuf, 404)
		}
		*due = (*due)[:0]
		for _, r := range routes {
			for r.next <= at {
				r.pathBuffer = strconv.AppendInt(append(r.pathBuffer[:0], r.route[:len(r.route)-4]...), int64(1000+r.lines), 10)
				serve(r.pathBuffer, 200)
				r.lines++
				if r.lines == 2 {
					r.second = at
				}
				r.next += r.interval
				check(r, at)
			}
		}
	}
	s.Expire(t0.Add(end))
	for _, r := range routes {
		check(r, end)
	}
	after := liveHeap()
	st := s.Stats()

	// Every real route got its series within 2 s of its second line and
	// kept it to the end.
	for _, r := range routes {
		switch {
		case r.admitted < 0:
			t.Errorf("%s (%d lines) never got a series", r.route, r.lines)
		case r.admitted-r.second > wait:
			t.Errorf("%s got its series %v after its second line", r.route, r.admitted-r.second)
		}
		if r.lostAt >= 0 {
			t.Errorf("%s lost its series at %v", r.route, r.lostAt)
		}
	}
	nr := routes[len(routes)-1]
	t.Logf("new route: first line at %v, second at %v, series at %v", newRoute, nr.second, nr.admitted)

	// No junk path seen once holds a key; junk seen twice holds what the
	// real routes left.
	heldOnce, heldTwice := 0, 0
	for i := range s.shards {
		s.shards[i].t.Load().each(func(g *group) {
			if g.kind != kindRegular {
				return
			}
			j := junkIndex(g.route)
			switch {
			case j < 0:
			case j%10 == 0:
				heldTwice++
			default:
				heldOnce++
			}
		})
	}
	if heldOnce > 0 {
		t.Errorf("%d junk paths seen once hold a series", heldOnce)
	}

	// Every line is counted once.
	m := scrape(t, s)
	if got := sumOf(t, m, "http_requests_total") + st.ExpiredRequests; got != uint64(lines) {
		t.Errorf("http_requests_total sums to %d (with %d expired), %d lines observed", got, st.ExpiredRequests, lines)
	}
	// Within the budget.
	growth := int64(after) - int64(before)
	if maxSeries > st.Limit || st.Series > st.Limit || st.Bytes > st.LimitBytes || growth > st.LimitBytes-st.AdmissionBytes {
		t.Errorf("at most %d series (limit %d), %d B estimated (limit %d B), live heap +%d B",
			maxSeries, st.Limit, st.Bytes, st.LimitBytes, growth)
	}
	t.Logf("%d lines (%d junk, %d repeats): %d series (%d junk seen twice), %d unadmitted, %d overflow, %d evicted, %d halvings, live heap +%d B (limit %d B + %d B of admission tables)",
		lines, junk, (junk+9)/10, st.Series, heldTwice, st.Unadmitted, st.Overflows, st.Evicted, st.Halvings,
		growth, st.LimitBytes-st.AdmissionBytes, st.AdmissionBytes)
	runtime.KeepAlive(ring)
}
