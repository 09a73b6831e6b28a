//go:build linux

package main

import (
	"fmt"
	"maps"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rulesFile is the recording-rules file of docs/scaling.md, relative to
// this package.
const (
	rulesFile     = "../../deploy/prometheus/ingest-rules.yml"
	rulesTestFile = "../../deploy/prometheus/ingest-rules_test.yml"
)

// TestPrometheusRules checks the recording rules with promtool, and runs
// their unit tests.
func TestPrometheusRules(t *testing.T) {
	_, promtool := needPrometheus(t)
	for _, args := range [][]string{
		{"check", "rules", rulesFile},
		{"test", "rules", rulesTestFile},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// The scale-out test's traffic: nginx lines of this format, with the
// request time, the upstream time and the host, as docs/scaling.md
// configures nginx.
const (
	scaleLogFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent ` +
		`"$http_referer" "$http_user_agent" $host $request_time "$upstream_response_time"`
	scaleVHost     = "shop.example"
	scaleMaxSeries = 20
	// scaleBuckets puts the fast requests (3 ms) in the first bucket and the
	// slow ones (700 ms) in (0.5, 1].
	scaleBuckets = "0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10"
	junkRoute    = "junk" // stands for every route of a junk path in the truth
)

// scaleLine returns line i of the scale-out traffic and its route, or
// junkRoute for a path whose route is itself, {unadmitted} or {overflow},
// depending on admission and the budget. Each junk path is sent twice,
// as lines 8 and 9 of a block of ten, from two source ports, so that an
// instance sees it once or twice. One line in ten of every route takes
// 700 ms, the others 3 ms; one /orders request in four fails with 500.
// With junk false, no junk path is sent.
func scaleLine(i int, junk bool) (line, route string) {
	method, status, upstream := "GET", 200, "0.002"
	var path string
	kind := i % 10
	if !junk && kind >= 8 {
		kind -= 8
	}
	switch kind {
	case 0, 1:
		path, route = "/users/"+strconv.Itoa(1000+i)+"/orders", "/users/{id}/orders"
	case 2:
		path, route = fmt.Sprintf("/static/css/app.%08x.css", i), "/static/{file...}"
	case 3:
		path, route, upstream = "/health", "/health", "-"
	case 4, 5:
		path, route = fmt.Sprintf("/api/v1/items/%08x-3c1a-4f0e-9d0b-2a6c1e5f7a10", i), "/api/v1/items/{uuid}"
	case 6, 7:
		// Two upstream attempts, as nginx logs them.
		method, status, route, upstream = "POST", 201, "/orders/{id}", "0.002, 0.010 : 0.001"
		path = "/orders/" + strconv.Itoa(i)
		if (i/10)%4 == 0 {
			status = 500
		}
	default:
		// Letters only: no automatic class applies, so every path is a
		// route of its own until the budget is spent.
		path, route, status = "/junk/"+junkWord(i/10), junkRoute, 404
	}
	requestTime := "0.003"
	if (i/10)%10 == 3 {
		requestTime = "0.700"
	}
	line = `203.0.113.7 - - [02/Dec/2026:10:00:00 +0000] "` + method + " " + path + ` HTTP/1.1" ` +
		strconv.Itoa(status) + ` 512 "-" "curl/8.5.0" ` + scaleVHost + " " + requestTime + ` "` + upstream + `"`
	return line, route
}

// junkWord spells i in letters.
func junkWord(i int) string {
	b := []byte("junk")
	for {
		b = append(b, byte('a'+i%26))
		i /= 26
		if i == 0 {
			return string(b)
		}
	}
}

// scaleRoutes are the --route patterns of the scale-out test.
var scaleRoutes = []string{"/users/{id}/orders", "/static/{file...}", "GET /health"}

// scaleAdmitted are the routes of the scale-out traffic that no pattern
// makes: each instance admits them on their second line, and counts their
// first in a catch-all series.
var scaleAdmitted = []string{"/api/v1/items/{uuid}", "/orders/{id}"}

// scaleWarmup is one line of every known series key (vhost, route,
// method, status), which each sender sends first, so that both instances
// hold every known key before the junk spends their budgets.
var scaleWarmup = []int{0, 2, 3, 4, 6, 16}

// udpSenders are sockets with distinct source ports sending to one
// address, the way nginx workers do.
type udpSenders []*net.UDPConn

func newSenders(t *testing.T, addr string, n int) udpSenders {
	t.Helper()
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := make(udpSenders, n)
	for i := range s {
		s[i], err = net.DialUDP("udp", nil, raddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s[i].Close() })
	}
	return s
}

// send sends lines [from, to) of the traffic round-robin over the
// sockets at about rate lines per second, and adds their routes to truth.
func (s udpSenders) send(t *testing.T, from, to int, junk bool, rate int, truth map[string]float64) {
	t.Helper()
	start := time.Now()
	for i := from; i < to; i++ {
		line, route := scaleLine(i, junk)
		if _, err := s[i%len(s)].Write([]byte(line)); err != nil {
			t.Fatalf("send line %d: %v", i, err)
		}
		truth[route]++
		if n := i - from + 1; n%50 == 0 {
			if d := time.Duration(n) * time.Second / time.Duration(rate); d > time.Since(start) {
				time.Sleep(d - time.Since(start))
			}
		}
	}
}

// warmup sends scaleWarmup from every socket and adds it to truth.
func (s udpSenders) warmup(t *testing.T, truth map[string]float64) int {
	t.Helper()
	n := 0
	for _, c := range s {
		for _, i := range scaleWarmup {
			line, route := scaleLine(i, true)
			if _, err := c.Write([]byte(line)); err != nil {
				t.Fatalf("send: %v", err)
			}
			truth[route]++
			n++
		}
	}
	return n
}

// TestPrometheusScaleOut runs two `ingest serve --reuse-port` instances on
// one UDP port, with serve's default admission, scraped by a real
// Prometheus every second, sends them traffic with a known count per
// route from many source ports, and checks what Prometheus sums: the
// exact total, the exact count per route (less, for a route no pattern
// makes, the first line each instance counted in a catch-all series), the
// catch-all series and their counters, the overflow of junk paths, the
// p99 bucket, the recording rules; then kills one instance
// (Prometheus shows it down, and the sums hold what the other counts),
// restarts it (its counters start again from 0, and increase() adds both
// lives up exactly).
func TestPrometheusScaleOut(t *testing.T) {
	prometheus, promtool := needPrometheus(t)
	bin := buildIngest(t)
	serveArgs := func(name string) []string {
		args := []string{"--reuse-port", "--instance", name, "--log-format", scaleLogFormat,
			"--max-series", strconv.Itoa(scaleMaxSeries), "--buckets", scaleBuckets,
			"--heap-interval", "1h"}
		for _, r := range scaleRoutes {
			args = append(args, "--route", r)
		}
		return args
	}
	a := startServeInstance(t, "serve a", bin, "127.0.0.1:0", "127.0.0.1:0", serveArgs("a")...)
	b := startServeInstance(t, "serve b", bin, a.udp, "127.0.0.1:0", serveArgs("b")...)
	if a.udp != b.udp {
		t.Fatalf("instances listen on %s and %s, want one address", a.udp, b.udp)
	}
	prom := startPrometheus(t, prometheus, []string{a.http, b.http}, rulesFile)
	// Both instances' counters are stored at 0 before any line is sent:
	// increase() then counts every line, from the first.
	prom.waitScrapes(t, time.Now(), true, a.http, b.http)

	senders := newSenders(t, a.udp, 16)
	truth := make(map[string]float64)
	total := float64(senders.warmup(t, truth))
	waitLines(t, total, a, b)
	// And every known series is stored with its warmup count before the
	// main traffic: rate() counts nothing before a series' first sample,
	// so a series first scraped in the middle of the traffic would lose
	// part of it to the rules' ratios.
	prom.waitScrapes(t, time.Now(), true, a.http, b.http)
	const mainLines = 4000
	senders.send(t, 0, mainLines, true, 2000, truth)
	total += mainLines
	shares := waitLines(t, total, a, b)
	prom.waitScrapes(t, time.Now(), true, a.http, b.http)

	t.Run("sums", func(t *testing.T) {
		if got := prom.scalar(t, "sum(http_requests_total)"); got != total {
			t.Errorf("sum(http_requests_total) = %v, want %v", got, total)
		}
		if got := prom.scalar(t, "sum(ingest_lines_total)"); got != total {
			t.Errorf("sum(ingest_lines_total) = %v, want %v", got, total)
		}
		for _, expr := range []string{"sum(ingest_dropped_total)", "sum(ingest_parse_errors_total)", "sum(ingest_truncated_total)"} {
			if got := prom.scalar(t, expr); got != 0 {
				t.Errorf("%s = %v, want 0", expr, got)
			}
		}
		routes := prom.byLabel(t, "sum by (route) (http_requests_total)", "route")
		// An instance counts the first line of a route no pattern makes
		// in a catch-all series, and its later lines in the route's own:
		// a route is short by one line per instance that holds it.
		firstLines := map[string]float64{}
		for _, route := range scaleAdmitted {
			firstLines[route] = prom.scalar(t, fmt.Sprintf(`count(count by (instance) (http_requests_total{route=%q}))`, route))
			if firstLines[route] != 2 {
				t.Errorf("route %s is held by %v instances, want 2", route, firstLines[route])
			}
			// They are among the catch-alls' lines, which the junk's
			// count below adds up.
			firstLines[junkRoute] -= firstLines[route]
		}
		junk := 0.0
		for route, n := range routes {
			if _, known := truth[route]; known {
				continue
			}
			if route != "{overflow}" && route != "{unadmitted}" && !strings.HasPrefix(route, "/junk/junk") {
				t.Errorf("unexpected route %q: %v", route, n)
			}
			junk += n
		}
		for route, want := range truth {
			got := routes[route]
			if route == junkRoute {
				got = junk
			}
			if got+firstLines[route] != want {
				t.Errorf("route %s: %v requests, %+v for first lines in catch-alls, want %v", route, got, firstLines[route], want)
			}
		}
		if routes["{overflow}"] == 0 {
			t.Errorf("no {overflow} route with %d junk paths and --max-series %d: %v", int(truth[junkRoute]), scaleMaxSeries, routes)
		}
		// Junk paths seen twice by an instance took its free keys, the
		// rest overflowed; none was more frequent than a route held, so
		// none was evicted, and every line of a catch-all series is
		// counted by the counter of its kind.
		if got := prom.scalar(t, "sum(ingest_series_evicted_total)"); got != 0 {
			t.Errorf("sum(ingest_series_evicted_total) = %v, want 0", got)
		}
		catchAlls := routes["{overflow}"] + routes["{unadmitted}"]
		if got := prom.scalar(t, "sum(ingest_series_overflow_total) + sum(ingest_series_unadmitted_total)"); got != catchAlls {
			t.Errorf("overflow and unadmitted counters add up to %v, the catch-all series to %v", got, catchAlls)
		}
		if got := prom.scalar(t, "sum(ingest_series_overflow_total)"); got == 0 {
			t.Errorf("sum(ingest_series_overflow_total) = 0, want the junk paths seen twice that found no free key")
		}
		if got := prom.scalar(t, "max(ingest_series)"); got > scaleMaxSeries {
			t.Errorf("max(ingest_series) = %v, above --max-series %d", got, scaleMaxSeries)
		}
		// Every line but /health's ("-") logged an upstream time, /orders'
		// a list of two attempts: each is one observation.
		if got := prom.scalar(t, "sum(http_upstream_duration_seconds_count)"); got != total-truth["/health"] {
			t.Errorf("sum(http_upstream_duration_seconds_count) = %v, want %v", got, total-truth["/health"])
		}
		// The upstream time of a list is the sum of its attempts: 13 ms.
		orders := truth["/orders/{id}"] - firstLines["/orders/{id}"]
		if got := prom.scalar(t, `sum(http_upstream_duration_seconds_sum{route="/orders/{id}"})`); !approxEqual(got, 0.013*orders) {
			t.Errorf("upstream seconds of /orders/{id} = %v, want %v", got, 0.013*orders)
		}
		if got := prom.scalar(t, "sum(http_request_duration_seconds_count)"); got != total {
			t.Errorf("sum(http_request_duration_seconds_count) = %v, want %v", got, total)
		}
	})

	t.Run("instances", func(t *testing.T) {
		got := prom.byLabel(t, "sum by (instance) (http_requests_total)", "instance")
		want := map[string]float64{a.http: shares[0], b.http: shares[1]}
		if !maps.Equal(got, want) {
			t.Errorf("requests per instance = %v, want what each counted: %v", got, want)
		}
		if shares[0] == 0 || shares[1] == 0 {
			t.Errorf("one instance received every line: %v", shares)
		}
		t.Logf("SO_REUSEPORT shares of %d source ports: %v", len(senders), shares)
		// ingest_build_info's own instance label: Prometheus keeps its
		// target label and renames the exposed one.
		names := prom.byLabel(t, "ingest_build_info", "exported_instance")
		if len(names) != 2 || names["a"] != 1 || names["b"] != 1 {
			t.Errorf("ingest_build_info by exported_instance = %v, want a and b", names)
		}
	})

	t.Run("latency", func(t *testing.T) {
		q := func(quantile string) float64 {
			return prom.scalar(t, "histogram_quantile("+quantile+", sum by (le) (rate(http_request_duration_seconds_bucket[1m])))")
		}
		// A tenth of the requests took 700 ms: p99 is in (0.5, 1], and
		// the median in the first bucket, (0, 0.005].
		if p99 := q("0.99"); !(p99 > 0.5 && p99 <= 1) {
			t.Errorf("p99 = %v, want in (0.5, 1]", p99)
		}
		if p50 := q("0.5"); !(p50 > 0 && p50 <= 0.005) {
			t.Errorf("p50 = %v, want in (0, 0.005]", p50)
		}
	})

	t.Run("rules", func(t *testing.T) {
		// The rules are evaluated every second: wait for an evaluation
		// that saw the last scrapes.
		var rates map[string]float64
		deadline := time.Now().Add(promWait)
		for {
			rates = prom.byLabel(t, "vhost_route:http_requests:rate5m", "route")
			if rates["/orders/{id}"] > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(promPoll)
		}
		for route := range truth {
			if route != junkRoute && !(rates[route] > 0) {
				t.Errorf("vhost_route:http_requests:rate5m{route=%q} = %v, want > 0", route, rates[route])
			}
		}
		// A quarter of /orders requests failed; the rates leave out
		// each series' first scrape, so allow some slack.
		errs := prom.byLabel(t, "vhost_route:http_requests_errors:ratio_rate5m", "route")
		if r := errs["/orders/{id}"]; !(r > 0.2 && r < 0.3) {
			t.Errorf("error ratio of /orders/{id} = %v, want about 0.25", r)
		}
		if r, ok := errs["/health"]; !ok || r != 0 {
			t.Errorf("error ratio of /health = %v (present %v), want 0", r, ok)
		}
		p99 := prom.byLabel(t, "vhost_route:http_request_duration_seconds:p99_rate5m", "route")
		if r := p99["/users/{id}/orders"]; !(r > 0.5 && r <= 1) {
			t.Errorf("p99 of /users/{id}/orders = %v, want in (0.5, 1]", r)
		}
	})

	t.Run("promtool", func(t *testing.T) {
		for _, s := range []*serveInstance{a, b} {
			checkMetrics(t, promtool, s.name, s.metrics(t))
		}
	})
	if t.Failed() {
		return
	}

	// An instance dies: Prometheus shows its target down and drops its
	// series from the sums at once, which then hold what the other counts.
	b.kill(t)
	prom.waitScrapes(t, time.Now(), false, b.http)
	const afterKill = 500
	senders.send(t, mainLines, mainLines+afterKill, false, 2000, truth)
	aLines := waitLines(t, shares[0]+afterKill, a)[0]
	prom.waitScrapes(t, time.Now(), true, a.http)
	t.Run("killed", func(t *testing.T) {
		up := prom.byLabel(t, "up", "instance")
		if up[a.http] != 1 || up[b.http] != 0 {
			t.Errorf("up = %v, want %s up and %s down", up, a.http, b.http)
		}
		if got := prom.scalar(t, "sum(http_requests_total)"); got != aLines {
			t.Errorf("sum(http_requests_total) with one instance down = %v, want %v", got, aLines)
		}
	})

	// It restarts on the same addresses: its counters start from 0, and
	// increase() adds the lines of both its lives.
	b = startServeInstance(t, "serve b again", bin, a.udp, b.http, serveArgs("b")...)
	prom.waitScrapes(t, time.Now(), true, b.http)
	const afterRestart = 1000
	from := mainLines + afterKill
	senders.send(t, from, from+afterRestart, false, 2000, truth)
	last := waitLines(t, aLines+afterRestart, a, b)
	prom.waitScrapes(t, time.Now(), true, a.http, b.http)
	t.Run("restarted", func(t *testing.T) {
		t.Logf("after the restart: a counted %v lines, b %v", last[0]-aLines, last[1])
		if got := prom.scalar(t, "sum(http_requests_total)"); got != last[0]+last[1] {
			t.Errorf("sum(http_requests_total) = %v, want %v", got, last[0]+last[1])
		}
		sel := fmt.Sprintf(`ingest_lines_total{instance=%q}`, b.http)
		if got := prom.scalar(t, "resets("+sel+"[5m])"); got != 1 {
			t.Errorf("resets(%s) = %v, want 1", sel, got)
		}
		// Evaluated at the time of the last sample, increase() does not
		// extrapolate: the first sample was 0, so it is exact.
		for _, c := range []struct {
			instance string
			want     float64
		}{{a.http, last[0]}, {b.http, shares[1] + last[1]}} {
			sel := fmt.Sprintf(`ingest_lines_total{instance=%q}`, c.instance)
			at := prom.scalar(t, "timestamp("+sel+")")
			r := prom.query(t, "increase("+sel+"[5m])", at)
			if len(r) != 1 || !approxEqual(r[0].Value, c.want) {
				t.Errorf("increase(%s[5m]) = %v, want %v", sel, r, c.want)
			}
		}
	})
	a.stop(t)
	b.stop(t)
}
