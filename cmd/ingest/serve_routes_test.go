package main

import (
	"encoding/json"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// routesFormat is an nginx log_format with the fields the route metrics
// read.
const routesFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $request_length $request_time "$upstream_response_time" "$host"`

// routesLine returns a line of routesFormat.
func routesLine(request, status, body, reqLen, reqTime, upstream string) string {
	return `203.0.113.7 - - [26/Nov/2026:00:30:00 +0000] "` + request + `" ` + status + " " + body + " " +
		reqLen + " " + reqTime + ` "` + upstream + `" "api.example.com"`
}

// sumWhere sums the series of m whose name and labels contain every part.
func sumWhere(m map[string]float64, parts ...string) float64 {
	var sum float64
	for k, v := range m {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(k, p)
		}
		if ok {
			sum += v
		}
	}
	return sum
}

// checkPromtool runs "promtool check metrics" on /metrics when promtool
// is installed.
func checkPromtool(t *testing.T, httpAddr string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not on PATH (apt-get install prometheus): exposition not checked with it")
		return
	}
	code, body := getBody(t, "http://"+httpAddr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("code = %v, want %v", code, http.StatusOK)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %s: %v", out, err)
	}
}

// TestServeRouteMetrics sends lines with known routes, sizes and times,
// garbage among them, and checks every series, the histograms' buckets,
// counts and sums, the overflow of a small series budget, /routes, and
// promtool's verdict. It runs with --admit-after 1, first come, first
// served: every route gets series on its first line, so each count is the
// route's every line (TestServeRouteAdmission runs the defaults).
func TestServeRouteMetrics(t *testing.T) {
	_, udpAddr, httpAddr, _ := startServe(t, "--log-format", routesFormat, "--admit-after", "1",
		"--route", "GET /users/{id}/orders", "--max-series", "5", "--buckets", "0.01,0.1,1")
	sendLines(t, udpAddr,
		routesLine("GET /users/12/orders HTTP/1.1", "200", "5", "120", "0.012", "0.002, 0.010 : 0.001"),
		routesLine("GET /users/13/orders?x=1 HTTP/1.1", "200", "7", "80", "0.005", "-"),
		routesLine("GET /users/14/orders HTTP/1.1", "500", "1", "10", "2.500", "0.5"),
		routesLine("POST /items/9f1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a10 HTTP/1.1", "201", "0", "300", "0.200", "0.1, -"),
		// A huge time goes to +Inf; a garbage upstream time is a value
		// error, the line still counted.
		routesLine("GET /slow HTTP/1.1", "200", "0", "1", "99999.999", "garbage"),
		// A garbage or negative request time fails the line: a parse
		// error of reason "time".
		routesLine("GET /slow HTTP/1.1", "200", "0", "1", "abc", "-"),
		routesLine("GET /slow HTTP/1.1", "200", "0", "1", "-0.5", "-"),
		// The budget of 5 keys (one kept for overflow) is full after the
		// four keys above: these three overflow. Eviction does not move
		// them in: a route on its first line is no more frequent than
		// the routes held.
		routesLine("GET /p1 HTTP/1.1", "200", "1", "1", "0.001", "-"),
		routesLine("GET /p2 HTTP/1.1", "200", "1", "1", "0.001", "-"),
		routesLine("GET /p3 HTTP/1.1", "404", "1", "1", "0.001", "-"),
	)
	m := scrapeWhenLines(t, httpAddr, 10)
	if m["ingest_lines_total"] != 10.0 {
		t.Fatalf("m[\"ingest_lines_total\"] = %v, want 10.0", m["ingest_lines_total"])
	}
	if m["ingest_parsed_total"] != 8.0 {
		t.Errorf("m[\"ingest_parsed_total\"] = %v, want 8.0", m["ingest_parsed_total"])
	}
	if m[`ingest_parse_errors_total{reason="time"}`] != 2.0 {
		t.Errorf("%s = %v, want 2.0", `ingest_parse_errors_total{reason="time"}`, m[`ingest_parse_errors_total{reason="time"}`])
	}

	const api = `vhost="api.example.com",`
	users := api + `route="/users/{id}/orders",method="GET",`
	want := map[string]float64{
		`http_requests_total{` + users + `status="200"}`:                                                           1 + 1,
		`http_requests_total{` + users + `status="500"}`:                                                           1,
		`http_requests_total{` + api + `route="/items/{uuid}",method="POST",status="201"}`:                         1,
		`http_requests_total{` + api + `route="/slow",method="GET",status="200"}`:                                  1,
		`http_response_size_bytes_total{` + users + `status="200"}`:                                                12,
		`http_request_size_bytes_total{` + users + `status="200"}`:                                                 200,
		`http_request_size_bytes_total{` + api + `route="/items/{uuid}",method="POST",status="201"}`:               300,
		`http_request_duration_seconds_bucket{` + users + `status_class="2xx",le="0.01"}`:                          1,
		`http_request_duration_seconds_bucket{` + users + `status_class="2xx",le="0.1"}`:                           2,
		`http_request_duration_seconds_bucket{` + users + `status_class="2xx",le="+Inf"}`:                          2,
		`http_request_duration_seconds_sum{` + users + `status_class="2xx"}`:                                       0.017,
		`http_request_duration_seconds_count{` + users + `status_class="2xx"}`:                                     2,
		`http_request_duration_seconds_bucket{` + users + `status_class="5xx",le="1"}`:                             0,
		`http_request_duration_seconds_bucket{` + users + `status_class="5xx",le="+Inf"}`:                          1,
		`http_request_duration_seconds_sum{` + users + `status_class="5xx"}`:                                       2.5,
		`http_request_duration_seconds_bucket{` + api + `route="/slow",method="GET",status_class="2xx",le="1"}`:    0,
		`http_request_duration_seconds_bucket{` + api + `route="/slow",method="GET",status_class="2xx",le="+Inf"}`: 1,
		`http_request_duration_seconds_sum{` + api + `route="/slow",method="GET",status_class="2xx"}`:              99999.999,
		// The upstream list is summed; "-" observes nothing.
		`http_upstream_duration_seconds_sum{` + users + `status_class="2xx"}`:                                   0.013,
		`http_upstream_duration_seconds_count{` + users + `status_class="2xx"}`:                                 1,
		`http_upstream_duration_seconds_bucket{` + users + `status_class="2xx",le="0.01"}`:                      0,
		`http_upstream_duration_seconds_bucket{` + users + `status_class="2xx",le="0.1"}`:                       1,
		`http_upstream_duration_seconds_sum{` + api + `route="/items/{uuid}",method="POST",status_class="2xx"}`: 0.1,
		`ingest_route_value_errors_total{field="upstream_response_time"}`:                                       1,
		"ingest_series":                5,
		"ingest_series_overflow_total": 3,
	}
	for k, v := range want {
		got, ok := m[k]
		if !ok {
			t.Errorf("missing %s", k)
		} else if v != 0 && math.Abs(got-v) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	// Totals stay exact: every parsed line is in exactly one series.
	if got := sumWhere(m, "http_requests_total{"); got != 8.0 {
		t.Errorf("sum of http_requests_total = %v, want 8.0", got)
	}
	if got := sumWhere(m, "http_requests_total{", `route="{overflow}"`); got != 3.0 {
		t.Errorf("http_requests_total of {overflow} = %v, want 3.0", got)
	}
	if got := sumWhere(m, "http_request_duration_seconds_count{"); got != 8.0 {
		t.Errorf("sum of http_request_duration_seconds_count = %v, want 8.0", got)
	}
	// The existing families are still there.
	if _, ok := m["ingest_paths"]; !ok {
		t.Errorf("no %q in m", "ingest_paths")
	}
	for _, name := range []string{"paths", "routes", "receive_buffers"} {
		if _, ok := m[`ingest_budget_used_bytes{name="`+name+`"}`]; !ok {
			t.Errorf("no %q in m", `ingest_budget_used_bytes{name="`+name+`"}`)
		}
		if m[`ingest_budget_limit_bytes{name="`+name+`"}`] <= 0 {
			t.Errorf("%s budget limit = %v, want > 0", name, m[`ingest_budget_limit_bytes{name="`+name+`"}`])
		}
	}
	// The readers' buffers are fixed: at least one datagram buffer.
	if m[`ingest_budget_used_bytes{name="receive_buffers"}`] < 65528.0 {
		t.Errorf("%s = %v, want >= 65528.0", `ingest_budget_used_bytes{name="receive_buffers"}`, m[`ingest_budget_used_bytes{name="receive_buffers"}`])
	}
	if m[`ingest_budget_used_bytes{name="receive_buffers"}`] != m[`ingest_budget_limit_bytes{name="receive_buffers"}`] {
		t.Errorf("receive_buffers budget: used %v, limit %v; want them equal", m[`ingest_budget_used_bytes{name="receive_buffers"}`], m[`ingest_budget_limit_bytes{name="receive_buffers"}`])
	}
	if _, ok := m[`ingest_budget_used_bytes{name="queue"}`]; ok {
		t.Errorf("no queue without --queue: %q in m", `ingest_budget_used_bytes{name="queue"}`)
	}
	if m[`ingest_budget_used_entries{name="routes"}`] != 5.0 {
		t.Errorf("%s = %v, want 5.0", `ingest_budget_used_entries{name="routes"}`, m[`ingest_budget_used_entries{name="routes"}`])
	}
	checkPromtool(t, httpAddr)

	code, body := getBody(t, "http://"+httpAddr+"/routes?path=/users/123/orders&method=GET")
	if code != http.StatusOK {
		t.Fatalf("%v: code = %v, want %v", body, code, http.StatusOK)
	}
	var ex struct {
		Path, Method, Route, Rule, Pattern string
	}
	if err := json.Unmarshal([]byte(body), &ex); err != nil {
		t.Fatalf("%v: %v", body, err)
	}
	if ex.Route != "/users/{id}/orders" || ex.Rule != "pattern" || ex.Pattern != "GET /users/{id}/orders" {
		t.Errorf("%+v, want the route /users/{id}/orders, by the pattern GET /users/{id}/orders", ex)
	}
	code, body = getBody(t, "http://"+httpAddr+"/routes?path=/orders/42/items?x=1")
	if code != http.StatusOK {
		t.Fatalf("%v: code = %v, want %v", body, code, http.StatusOK)
	}
	if err := json.Unmarshal([]byte(body), &ex); err != nil {
		t.Fatalf("%v: %v", body, err)
	}
	if ex.Route != "/orders/{id}/items" || ex.Rule != "segments" {
		t.Errorf("%+v, want the route /orders/{id}/items, by segments", ex)
	}
	code, _ = getBody(t, "http://"+httpAddr+"/routes")
	if code != http.StatusBadRequest {
		t.Errorf("code = %v, want %v", code, http.StatusBadRequest)
	}
}

// TestServeRouteExpiry checks that an idle series is removed and counted,
// from serve's own loop.
func TestServeRouteExpiry(t *testing.T) {
	_, udpAddr, httpAddr, _ := startServe(t, "--log-format", routesFormat, "--series-idle", "300ms", "--vhost", "ignored")
	sendLines(t, udpAddr, routesLine("GET /a HTTP/1.1", "200", "1", "1", "0.001", "-"))
	m := scrapeWhenLines(t, httpAddr, 1)
	if m["ingest_series"] != 1.0 {
		t.Errorf("m[\"ingest_series\"] = %v, want 1.0", m["ingest_series"])
	}
	deadline := time.Now().Add(20 * time.Second)
	for m["ingest_series_expired_total"] < 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		m = scrape(t, httpAddr)
	}
	if m["ingest_series_expired_total"] != 1.0 {
		t.Errorf("m[\"ingest_series_expired_total\"] = %v, want 1.0", m["ingest_series_expired_total"])
	}
	if m["ingest_series"] != 0.0 {
		t.Errorf("m[\"ingest_series\"] = %v, want 0.0", m["ingest_series"])
	}
	if got := sumWhere(m, "http_requests_total{"); got != 0.0 {
		t.Errorf("sumWhere(m, \"http_requests_total{\") = %v, want 0.0", got)
	}
}

// TestServeRouteVHost checks --vhost: a fixed name, or the syslog tag, for
// lines that log no $host. Each route is sent three times: with the
// default admission its first line counts in its vhost's {unadmitted}
// series, the next two in its own.
func TestServeRouteVHost(t *testing.T) {
	check := func(m map[string]float64, vhost string) {
		t.Helper()
		for _, c := range []struct {
			route, status string
			want          float64
		}{{"/a", "200", 2}, {"{unadmitted}", "2xx", 1}} {
			k := `http_requests_total{vhost="` + vhost + `",route="` + c.route + `",method="GET",status="` + c.status + `"}`
			if m[k] != c.want {
				t.Errorf("%s = %v, want %v", k, m[k], c.want)
			}
		}
	}
	line := "<190>Nov 26 00:30:00 web01 shop: " + serveLine("/a", 200)
	_, udpAddr, httpAddr, _ := startServe(t, "--vhost", "tag")
	sendLines(t, udpAddr, line, line, line, serveLine("/a", 200), serveLine("/a", 200), serveLine("/a", 200))
	m := scrapeWhenLines(t, httpAddr, 6)
	check(m, "shop")
	check(m, "")

	_, udpAddr, httpAddr, _ = startServe(t, "--vhost", "www.example.com")
	sendLines(t, udpAddr, line, line, line)
	check(scrapeWhenLines(t, httpAddr, 3), "www.example.com")
}

// TestServeRouteFlagErrors checks that bad route flags exit 2 with one
// line naming the flag, or the file and line.
func TestServeRouteFlagErrors(t *testing.T) {
	dir := t.TempDir()
	routes := filepath.Join(dir, "routes.txt")
	if err := os.WriteFile(routes, []byte("# API\nGET /users/{id}\n\n/static/{file...}/x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := func(want string, args ...string) {
		t.Helper()
		wantUsageError(t, want, args...)
	}
	f("--route", "--route", "/a/{")
	f(routes+":4", "--routes", routes)
	f("--routes", "--routes", filepath.Join(dir, "missing.txt"))
	f("--buckets", "--buckets", "0.1,x")
	f("--buckets", "--buckets", "1,0.5")
	f("--buckets", "--buckets", "0.1,-,1")
	f("--max-series", "--max-series", "0")
	f("--series-idle", "--series-idle", "0s")
	f("--vhost", "--vhost", strings.Repeat("v", 300))
	f("--admit-after", "--admit-after", "0")
	f("--admit-after", "--admit-after", "16")
	f("--admit-window", "--admit-window", "10ms")
	f("--collapse-unmatched", "--collapse-unmatched", "404,4o4")
	f("--collapse-unmatched", "--collapse-unmatched", "600")
	f("--sketch-keys", "--sketch-keys", "-1")
	f("--doorkeeper-keys", "--doorkeeper-keys", "0")
	f("--doorkeeper-keys", "--doorkeeper-keys", "99999999")
	f("-no-eviction", "--no-eviction=maybe")
}

// TestServeQueueBudget checks that with --queue the queue is a tracked
// budget: what a full queue of the longest datagrams would hold, with the
// copy the one reader holds while it waits for room.
func TestServeQueueBudget(t *testing.T) {
	_, udpAddr, httpAddr, _ := startServe(t, "--queue", "100", "--block")
	sendLines(t, udpAddr, serveLine("/a", 200))
	m := scrapeWhenLines(t, httpAddr, 1)
	if m[`ingest_budget_limit_bytes{name="queue"}`] != (100.0+1)*65528 {
		t.Errorf("queue budget limit = %v, want %v", m[`ingest_budget_limit_bytes{name="queue"}`], (100.0+1)*65528)
	}
	if _, ok := m[`ingest_budget_used_bytes{name="queue"}`]; !ok {
		t.Errorf("no %q in m", `ingest_budget_used_bytes{name="queue"}`)
	}
}
