package main

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scannerFormat is the format of the report that started admission:
// combined, then the request time, the upstream time and the host.
const scannerFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$upstream_response_time" $host`

// scannerLine returns a line of scannerFormat for api.example.com.
func scannerLine(path string, status int) string {
	return `198.51.100.9 - - [06/Dec/2026:08:00:00 +0000] "GET ` + path + ` HTTP/1.1" ` + strconv.Itoa(status) +
		` 153 "-" "Mozilla/5.0" 0.004 "0.003" api.example.com`
}

// sendBatched sends lines to udpAddr, n lines to a datagram, so that a
// receive buffer the kernel capped at its default holds a burst of them.
func sendBatched(t *testing.T, udpAddr string, lines []string, n int) {
	t.Helper()
	var datagrams []string
	for i := 0; i < len(lines); i += n {
		datagrams = append(datagrams, strings.Join(lines[i:min(i+n, len(lines))], "\n"))
	}
	sendLines(t, udpAddr, datagrams...)
}

// seriesExplanation is /series' JSON, the fields the tests read.
type seriesExplanation struct {
	Path, Rule, VHost, Route, Method, State, Why string
	MatchedPattern                               string `json:"matched_pattern"`
	Series, Pattern                              bool
	Statuses, Collapsed                          []int
	Requests                                     uint64
	Estimate                                     int
	AdmitAfter                                   int `json:"admit_after"`
}

// getSeries asks /series with query q and decodes the answer.
func getSeries(t *testing.T, httpAddr string, q url.Values) seriesExplanation {
	t.Helper()
	ex, err := trySeries(httpAddr, q)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// TestServeRouteAdmission runs the report that started admission with
// serve's defaults: --max-series 100, 5,000 lines of random
// /wp-admin/<8 letters>.php paths (404), then 100 lines of
// /api/v2/checkout/<n>. Without admission the junk took every key and the
// checkout route counted in {overflow}; now it has its own series from
// its second line, the junk counts in {unadmitted}, and /series says why.
func TestServeRouteAdmission(t *testing.T) {
	_, udpAddr, httpAddr, _, log := startServeLog(t, "--log-format", scannerFormat, "--max-series", "100")
	if l := log.find("msg=serving"); !strings.Contains(l, "admit_after=2 admit_window=10m0s eviction=true collapse_unmatched=none") {
		t.Errorf("start-up line %q does not show the admission defaults", l)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	seen := map[string]bool{}
	var lines []string
	for len(lines) < 5000 {
		w := make([]byte, 8)
		for i := range w {
			w[i] = byte('a' + rng.IntN(26))
		}
		p := "/wp-admin/" + string(w) + ".php"
		if !seen[p] {
			seen[p] = true
			lines = append(lines, scannerLine(p, 404))
		}
	}
	junk := lines[0]
	for n := range 100 {
		lines = append(lines, scannerLine("/api/v2/checkout/"+strconv.Itoa(1000+n), 200))
	}
	sendBatched(t, udpAddr, lines, 50)
	m := scrapeWhenLines(t, httpAddr, 5100)
	if m["ingest_lines_total"] != 5100 || m[`ingest_dropped_total{reason="kernel"}`] != 0 {
		t.Fatalf("%v lines, %v dropped by the kernel: want 5100 and 0", m["ingest_lines_total"], m[`ingest_dropped_total{reason="kernel"}`])
	}
	const api = `vhost="api.example.com",`
	want := map[string]float64{
		`http_requests_total{` + api + `route="/api/v2/checkout/{id}",method="GET",status="200"}`: 99,
		`http_requests_total{` + api + `route="{unadmitted}",method="GET",status="4xx"}`:          5000,
		`http_requests_total{` + api + `route="{unadmitted}",method="GET",status="2xx"}`:          1,
		"ingest_series":                  3,
		"ingest_series_unadmitted_total": 5001,
		"ingest_series_overflow_total":   0,
		"ingest_series_evicted_total":    0,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if got := sumWhere(m, "http_requests_total{"); got != 5100 {
		t.Errorf("sum of http_requests_total = %v, want 5100", got)
	}
	if got := sumWhere(m, "http_request_duration_seconds_count{"); got != 5100 {
		t.Errorf("sum of http_request_duration_seconds_count = %v, want 5100", got)
	}
	checkPromtool(t, httpAddr)

	ex := getSeries(t, httpAddr, url.Values{"path": {"/api/v2/checkout/7?x=1"}, "vhost": {"api.example.com"}})
	if !ex.Series || ex.State != "admitted" || ex.Route != "/api/v2/checkout/{id}" || ex.Path != "/api/v2/checkout/7" ||
		ex.Rule != "segments" || ex.Requests != 99 || len(ex.Statuses) != 1 || ex.Statuses[0] != 200 ||
		ex.Estimate < 2 || ex.AdmitAfter != 2 || !strings.Contains(ex.Why, "series of its own") {
		t.Errorf("checkout: %+v", ex)
	}
	// Explaining counts no sighting: asked twice, a junk path seen once
	// is still seen once.
	for range 2 {
		ex = getSeries(t, httpAddr, url.Values{"path": {strings.Fields(junk)[6]}, "vhost": {"api.example.com"}, "method": {"GET"}})
		if ex.Series || ex.State != "unadmitted" || ex.Estimate != 1 || !strings.Contains(ex.Why, "{unadmitted}") {
			t.Errorf("junk: %+v", ex)
		}
	}
	ex = getSeries(t, httpAddr, url.Values{"path": {"/never/seen"}, "vhost": {"api.example.com"}})
	if ex.Series || ex.State != "unadmitted" || ex.Estimate != 0 || !strings.Contains(ex.Why, "not seen") {
		t.Errorf("a path never seen: %+v", ex)
	}
	// Another vhost is another route.
	ex = getSeries(t, httpAddr, url.Values{"path": {"/api/v2/checkout/7"}, "vhost": {"www.example.com"}})
	if ex.Series || ex.State != "unadmitted" {
		t.Errorf("checkout on another vhost: %+v", ex)
	}
	ex = getSeries(t, httpAddr, url.Values{"route": {"{unadmitted}"}, "vhost": {"api.example.com"}})
	if !ex.Series || ex.State != "catch-all" || ex.Requests != 5001 {
		t.Errorf("{unadmitted}: %+v", ex)
	}
	ex = getSeries(t, httpAddr, url.Values{"route": {"/api/v2/checkout/{id}"}, "vhost": {"api.example.com"}, "method": {"POST"}})
	if ex.Series || ex.Method != "POST" {
		t.Errorf("checkout by POST: %+v", ex)
	}
	for _, q := range []string{"", "method=GET", "path=/a&route=/a", "path=" + strings.Repeat("a", maxRoutesPath+1),
		"route=" + strings.Repeat("a", 257), "path=/a&vhost=" + strings.Repeat("v", 254), "path=/a&method=" + strings.Repeat("M", 33)} {
		if code, body := getBody(t, "http://"+httpAddr+"/series?"+q); code != http.StatusBadRequest || !strings.Contains(body, "want /series") {
			t.Errorf("/series?%.40s: %d %q, want 400", q, code, body)
		}
	}
}

// TestServeRouteCollapse checks --collapse-unmatched with a pattern: the
// 404s of paths no pattern matched count in {unmatched}, the 404s of the
// pattern's route in its own series, and /series says so.
func TestServeRouteCollapse(t *testing.T) {
	_, udpAddr, httpAddr, _, log := startServeLog(t, "--log-format", scannerFormat,
		"--route", "GET /users/{id}", "--collapse-unmatched", "404,410", "--admit-window", "2s", "--no-eviction")
	if l := log.find("msg=serving"); !strings.Contains(l, "admit_window=2s eviction=false collapse_unmatched=404,410") {
		t.Errorf("start-up line %q does not show the flags", l)
	}
	var lines []string
	for i := range 30 {
		lines = append(lines, scannerLine("/.env"+strconv.Itoa(i), 404), scannerLine("/users/"+strconv.Itoa(i), 404))
	}
	lines = append(lines, scannerLine("/about", 200), scannerLine("/about", 200), scannerLine("/about", 404), scannerLine("/once", 200))
	sendBatched(t, udpAddr, lines, 10)
	m := scrapeWhenLines(t, httpAddr, float64(len(lines)))
	const api = `vhost="api.example.com",`
	want := map[string]float64{
		`http_requests_total{` + api + `route="{unmatched}",method="GET",status="404"}`:  31,
		`http_requests_total{` + api + `route="/users/{id}",method="GET",status="404"}`:  30,
		`http_requests_total{` + api + `route="/about",method="GET",status="200"}`:       1,
		`http_requests_total{` + api + `route="{unadmitted}",method="GET",status="2xx"}`: 2,
		"ingest_series_collapsed_total":  31,
		"ingest_series_unadmitted_total": 2,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	checkPromtool(t, httpAddr)
	ex := getSeries(t, httpAddr, url.Values{"path": {"/users/7"}, "vhost": {"api.example.com"}})
	if ex.State != "pattern" || !ex.Pattern || ex.MatchedPattern != "GET /users/{id}" || ex.Rule != "pattern" ||
		len(ex.Collapsed) != 0 || !strings.Contains(ex.Why, "--route pattern") {
		t.Errorf("/users/7: %+v", ex)
	}
	ex = getSeries(t, httpAddr, url.Values{"route": {"/users/{id}"}, "vhost": {"api.example.com"}})
	if ex.State != "pattern" || ex.Requests != 30 {
		t.Errorf("route /users/{id}: %+v", ex)
	}
	ex = getSeries(t, httpAddr, url.Values{"path": {"/about"}, "vhost": {"api.example.com"}})
	if ex.State != "admitted" || len(ex.Collapsed) != 2 || !strings.Contains(ex.Why, "{unmatched}") {
		t.Errorf("/about: %+v", ex)
	}
	// A collapsed status takes no admission: /.env3 was never a candidate.
	ex = getSeries(t, httpAddr, url.Values{"path": {"/.env3"}, "vhost": {"api.example.com"}})
	if ex.Series || ex.Estimate != 0 || len(ex.Collapsed) != 2 {
		t.Errorf("/.env3: %+v", ex)
	}
	// The admission window of 2s ages the filter from serve's own loop:
	// a path seen once is forgotten within two to three windows.
	if ex = getSeries(t, httpAddr, url.Values{"path": {"/once"}, "vhost": {"api.example.com"}}); ex.Estimate != 1 {
		t.Errorf("/once: %+v", ex)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ex = getSeries(t, httpAddr, url.Values{"path": {"/once"}, "vhost": {"api.example.com"}})
		if ex.Estimate == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ex.Estimate != 0 {
		t.Errorf("/once is still remembered 20s later with --admit-window 2s: %+v", ex)
	}
}

// TestExpiryInterval checks that serve moves the store's clock often
// enough for both the idle time and the admission window.
func TestExpiryInterval(t *testing.T) {
	for _, c := range []struct{ idle, window, want time.Duration }{
		{30 * time.Minute, 10 * time.Minute, time.Minute},
		{30 * time.Minute, 2 * time.Second, 200 * time.Millisecond},
		{time.Second, 10 * time.Minute, 100 * time.Millisecond},
		{50 * time.Millisecond, time.Second, 10 * time.Millisecond},
		{time.Hour, time.Second, 100 * time.Millisecond},
	} {
		if got := expiryInterval(c.idle, c.window); got != c.want {
			t.Errorf("expiryInterval(%v, %v) = %v, want %v", c.idle, c.window, got, c.want)
		}
	}
}
