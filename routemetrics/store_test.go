package routemetrics

import (
	"bufio"
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flatheap/ingest"
)

// scrape returns the store's exposition as a map from series (name and
// labels, as written) to value, and checks that no series is repeated.
func scrape(t *testing.T, s *Store) map[string]string {
	t.Helper()
	var b bytes.Buffer
	if err := s.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string)
	sc := bufio.NewScanner(&b)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("bad line %q", line)
		}
		if _, dup := m[line[:i]]; dup {
			t.Fatalf("series written twice: %q", line[:i])
		}
		m[line[:i]] = line[i+1:]
	}
	return m
}

// checkSeries reports each series of want whose value in m, a scrape, is
// not the one wanted (or that m lacks).
func checkSeries(t *testing.T, m, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// sumOf adds the values of the series of family name.
func sumOf(t *testing.T, m map[string]string, name string) uint64 {
	t.Helper()
	var n uint64
	for k, v := range m {
		if strings.HasPrefix(k, name+"{") {
			x, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			n += x
		}
	}
	return n
}

func countOf(m map[string]string, name string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, name+"{") {
			n++
		}
	}
	return n
}

func mustNew(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// firstCome returns cfg with every route admitted on its first line, as
// the store admitted them before it admitted by frequency: the tests of
// counting, labels, budgets and expiry are about what a key counts and
// when it goes, not about which routes get one (admit_test.go is).
func firstCome(cfg Config) Config {
	cfg.AdmitAfter = 1
	return cfg
}

func obs(vhost, route, method string, status int) *Observation {
	return &Observation{VHost: []byte(vhost), Route: []byte(route), Method: []byte(method), Status: status}
}

func TestObserveCounts(t *testing.T) {
	s := mustNew(t, firstCome(Config{Buckets: []float64{0.01, 0.1, 1}}))
	for i := range 3 {
		o := obs("a.example", "/users/{id}", "GET", 200)
		o.ResponseBytes = 100
		o.RequestBytes, o.HasRequestBytes = 10, true
		o.Duration, o.HasDuration = time.Duration(i+1)*5*time.Millisecond, true // 5, 10, 15 ms
		if err := s.Observe(o); err != nil {
			t.Fatal(err)
		}
	}
	o := obs("a.example", "/users/{id}", "GET", 204)
	o.Duration, o.HasDuration = 2*time.Second, true
	o.Upstream, o.HasUpstream = 1500*time.Millisecond, true
	s.Observe(o)
	s.Observe(obs("a.example", "/users/{id}", "GET", 404))
	s.Observe(obs("", "/", "BREW", 1000))

	m := scrape(t, s)
	l := `{vhost="a.example",route="/users/{id}",method="GET"`
	want := map[string]string{
		`http_requests_total` + l + `,status="200"}`:                                   "3",
		`http_requests_total` + l + `,status="204"}`:                                   "1",
		`http_requests_total` + l + `,status="404"}`:                                   "1",
		`http_requests_total{vhost="",route="/",method="OTHER",status="other"}`:        "1",
		`http_response_size_bytes_total` + l + `,status="200"}`:                        "300",
		`http_response_size_bytes_total` + l + `,status="204"}`:                        "0",
		`http_request_size_bytes_total` + l + `,status="200"}`:                         "30",
		`http_request_duration_seconds_bucket` + l + `,status_class="2xx",le="0.01"}`:  "2",
		`http_request_duration_seconds_bucket` + l + `,status_class="2xx",le="0.1"}`:   "3",
		`http_request_duration_seconds_bucket` + l + `,status_class="2xx",le="1"}`:     "3",
		`http_request_duration_seconds_bucket` + l + `,status_class="2xx",le="+Inf"}`:  "4",
		`http_request_duration_seconds_sum` + l + `,status_class="2xx"}`:               "2.03",
		`http_request_duration_seconds_count` + l + `,status_class="2xx"}`:             "4",
		`http_upstream_duration_seconds_bucket` + l + `,status_class="2xx",le="1"}`:    "0",
		`http_upstream_duration_seconds_bucket` + l + `,status_class="2xx",le="+Inf"}`: "1",
		`http_upstream_duration_seconds_sum` + l + `,status_class="2xx"}`:              "1.5",
		`http_upstream_duration_seconds_count` + l + `,status_class="2xx"}`:            "1",
		`ingest_series`:                "4",
		`ingest_series_limit`:          "10000",
		`ingest_series_overflow_total`: "0",
		`ingest_series_expired_total`:  "0",
		`ingest_route_value_errors_total{field="upstream_response_time"}`: "0",
	}
	checkSeries(t, m, want)
	// No request size where none was logged; no histogram for a class that
	// observed nothing.
	for k := range m {
		if strings.HasPrefix(k, "http_request_size_bytes_total") && !strings.Contains(k, `status="200"`) {
			t.Errorf("unexpected %s", k)
		}
		if strings.Contains(k, `status_class="4xx"`) || strings.Contains(k, `status_class="other"`) {
			t.Errorf("unexpected %s", k)
		}
	}
	if st := s.Stats(); st.Series != 4 || st.Bytes <= 0 || st.Bytes > st.LimitBytes {
		t.Errorf("Stats = %+v", st)
	}
}

func TestMethodAndStatus(t *testing.T) {
	f := func(method string, status int, wantMethod, wantStatus string) {
		t.Helper()
		s := mustNew(t, firstCome(Config{}))
		s.Observe(obs("", "/", method, status))
		m := scrape(t, s)
		k := `http_requests_total{vhost="",route="/",method="` + wantMethod + `",status="` + wantStatus + `"}`
		if m[k] != "1" {
			t.Errorf("%q %d: no %s in %v", method, status, k, m)
		}
	}
	for _, name := range methodNames[1:] {
		f(name, 200, name, "200")
	}
	f("get", 200, "OTHER", "200")
	f("", 200, "OTHER", "200")
	f("PROPFIND", 207, "OTHER", "207")
	f("GETX", 100, "OTHER", "100")
	f("GET", 599, "GET", "599")
	f("GET", 99, "GET", "other")
	f("GET", 600, "GET", "other")
	f("GET", 0, "GET", "other")
	f("GET", -1, "GET", "other")
}

func TestLabelsBoundedAndEscaped(t *testing.T) {
	s := mustNew(t, firstCome(Config{}))
	s.Observe(obs("a\"b\\c\nd", "/x\"y", "GET", 200))
	s.Observe(obs("bad\xffutf8", "/r\xc3", "GET", 200))
	s.Observe(obs(strings.Repeat("h", MaxVHostLen+1), "/"+strings.Repeat("r", MaxRouteLen), "GET", 200))
	s.Observe(obs(strings.Repeat("h", MaxVHostLen), "/"+strings.Repeat("r", MaxRouteLen-1), "GET", 200))
	m := scrape(t, s)
	for _, k := range []string{
		`http_requests_total{vhost="a\"b\\c\nd",route="/x\"y",method="GET",status="200"}`,
		"http_requests_total{vhost=\"bad\uFFFDutf8\",route=\"/r\uFFFD\",method=\"GET\",status=\"200\"}",
		`http_requests_total{vhost="{other}",route="{other}",method="GET",status="200"}`,
		`http_requests_total{vhost="` + strings.Repeat("h", MaxVHostLen) + `",route="/` + strings.Repeat("r", MaxRouteLen-1) + `",method="GET",status="200"}`,
	} {
		if m[k] != "1" {
			t.Errorf("missing %s", k)
		}
	}
}

func TestOverflow(t *testing.T) {
	// 60 keys: 57 with their own route, then overflow series up to 59, and
	// the last slot for the catch-all.
	const max = 60
	s := mustNew(t, firstCome(Config{MaxSeries: max}))
	lines := 0
	for i := range 100 {
		s.Observe(obs("v", "/r"+strconv.Itoa(i), "GET", 200))
		lines++
	}
	s.Observe(obs("v", "/r0", "POST", 500))
	lines++
	st := s.Stats()
	if st.Series != 59 {
		t.Fatalf("%d series, want 59", st.Series)
	}
	m := scrape(t, s)
	if got := sumOf(t, m, "http_requests_total"); got != uint64(lines) {
		t.Errorf("sum of requests %d, want %d", got, lines)
	}
	if m[`http_requests_total{vhost="v",route="{overflow}",method="GET",status="200"}`] != "43" ||
		m[`http_requests_total{vhost="v",route="{overflow}",method="POST",status="500"}`] != "1" {
		t.Errorf("overflow series: %v", m)
	}
	if m["ingest_series_overflow_total"] != "44" || st.Overflows != 44 {
		t.Errorf("overflows %s, %d", m["ingest_series_overflow_total"], st.Overflows)
	}
	// An existing key still counts in its own series.
	s.Observe(obs("v", "/r0", "GET", 200))
	if m := scrape(t, s); m[`http_requests_total{vhost="v",route="/r0",method="GET",status="200"}`] != "2" {
		t.Error("existing key not counted after overflow")
	}

	// Many vhosts: the overflow series fill the rest of the budget, then
	// the catch-all takes the last slot.
	for i := range 200 {
		s.Observe(obs("v"+strconv.Itoa(i), "/new", "GET", 200))
		lines++
	}
	lines++
	st = s.Stats()
	if st.Series != max {
		t.Fatalf("%d series, want %d", st.Series, max)
	}
	m = scrape(t, s)
	if got := sumOf(t, m, "http_requests_total"); got != uint64(lines) {
		t.Errorf("sum of requests %d, want %d", got, lines)
	}
	if m[`http_requests_total{vhost="{overflow}",route="{overflow}",method="OTHER",status="other"}`] == "" {
		t.Error("no catch-all series")
	}
	if countOf(m, "http_requests_total") != max || m["ingest_series"] != strconv.Itoa(max) {
		t.Errorf("%d series written, ingest_series %s", countOf(m, "http_requests_total"), m["ingest_series"])
	}
}

func TestTinyBudgets(t *testing.T) {
	for _, max := range []int{1, 2, 3} {
		s := mustNew(t, Config{MaxSeries: max})
		for i := range 50 {
			s.Observe(obs("v"+strconv.Itoa(i%7), "/r"+strconv.Itoa(i), "GET", 200+i%3))
		}
		m := scrape(t, s)
		if got := sumOf(t, m, "http_requests_total"); got != 50 || s.Stats().Series > max {
			t.Errorf("max %d: sum %d, %d series", max, got, s.Stats().Series)
		}
	}
}

func TestExpire(t *testing.T) {
	s := mustNew(t, firstCome(Config{SeriesIdle: time.Minute}))
	t0 := time.Now()
	s.Expire(t0)
	s.Observe(obs("", "/old", "GET", 200))
	s.Observe(obs("", "/old", "GET", 500))
	s.Observe(obs("", "/kept", "GET", 200))
	s.Expire(t0.Add(30 * time.Second))
	s.Observe(obs("", "/kept", "GET", 200))
	s.Observe(obs("", "/old", "GET", 500)) // keeps the 5xx entry, not the 2xx one
	if n := s.Expire(t0.Add(61 * time.Second)); n != 1 {
		t.Fatalf("Expire removed %d, want 1", n)
	}
	m := scrape(t, s)
	if len(m) == 0 || m["ingest_series"] != "2" || m["ingest_series_expired_total"] != "1" {
		t.Fatalf("after expiry: %v", m)
	}
	if m[`http_requests_total{vhost="",route="/old",method="GET",status="500"}`] != "2" ||
		m[`http_requests_total{vhost="",route="/kept",method="GET",status="200"}`] != "2" ||
		m[`http_requests_total{vhost="",route="/old",method="GET",status="200"}`] != "" {
		t.Errorf("after expiry: %v", m)
	}
	if n := s.Expire(t0.Add(10 * time.Minute)); n != 2 {
		t.Fatalf("Expire removed %d, want 2", n)
	}
	st := s.Stats()
	if st.Series != 0 || st.Bytes != st.AdmissionBytes || st.Expired != 3 || st.ExpiredRequests != 5 {
		t.Errorf("empty store: %+v", st)
	}
	// A key comes back from zero.
	s.Observe(obs("", "/old", "GET", 200))
	if m := scrape(t, s); m[`http_requests_total{vhost="",route="/old",method="GET",status="200"}`] != "1" {
		t.Error("key not recreated")
	}
}

func TestSaturation(t *testing.T) {
	s := mustNew(t, firstCome(Config{}))
	for range 3 {
		o := obs("", "/big", "GET", 200)
		o.ResponseBytes = math.MaxInt64
		o.RequestBytes, o.HasRequestBytes = math.MaxInt64, true
		o.Duration, o.HasDuration = math.MaxInt64, true
		o.Upstream, o.HasUpstream = math.MaxInt64, true
		s.Observe(o)
	}
	m := scrape(t, s)
	l := `{vhost="",route="/big",method="GET"`
	max := strconv.FormatUint(math.MaxUint64, 10)
	if m["http_response_size_bytes_total"+l+`,status="200"}`] != max || m["http_request_size_bytes_total"+l+`,status="200"}`] != max {
		t.Errorf("byte counters do not saturate: %v", m)
	}
	for _, h := range []string{"http_request_duration_seconds", "http_upstream_duration_seconds"} {
		if got, want := m[h+"_sum"+l+`,status_class="2xx"}`], strconv.FormatFloat(math.MaxUint64/1e9, 'g', -1, 64); got != want {
			t.Errorf("%s_sum = %s, want the saturated %s", h, got, want)
		}
		if m[h+"_bucket"+l+`,status_class="2xx",le="+Inf"}`] != "3" || m[h+"_bucket"+l+`,status_class="2xx",le="10"}`] != "0" {
			t.Errorf("%s buckets: %v", h, m)
		}
	}
}

func TestObserveBadValues(t *testing.T) {
	s := mustNew(t, firstCome(Config{}))
	o := obs("", "/", "GET", 200)
	o.ResponseBytes = -1
	o.RequestBytes, o.HasRequestBytes = -1, true
	o.Duration, o.HasDuration = -1, true
	o.Upstream, o.HasUpstream = -1, true
	err := s.Observe(o)
	var ve *ValueError
	if !errors.Is(err, ErrValue) || !errors.As(err, &ve) {
		t.Fatalf("Observe = %v", err)
	}
	m := scrape(t, s)
	if m[`http_requests_total{vhost="",route="/",method="GET",status="200"}`] != "1" {
		t.Error("line with bad values not counted")
	}
	for _, f := range []string{"upstream_response_time", "request_length", "request_time", "body_bytes_sent"} {
		if m[`ingest_route_value_errors_total{field="`+f+`"}`] != "1" || s.Stats().ValueErrors[f] != 1 {
			t.Errorf("%s errors not counted: %v", f, m)
		}
	}
	if countOf(m, "http_request_duration_seconds_count") != 0 || countOf(m, "http_request_size_bytes_total") != 0 {
		t.Error("a bad value was observed")
	}
}

func TestParseUpstream(t *testing.T) {
	f := func(in string, want time.Duration, wantHas, wantOK bool) {
		t.Helper()
		d, has, ok := parseUpstream([]byte(in))
		if d != want || has != wantHas || ok != wantOK {
			t.Errorf("parseUpstream(%q) = %v %v %v, want %v %v %v", in, d, has, ok, want, wantHas, wantOK)
		}
	}
	f("0.002", 2*time.Millisecond, true, true)
	f("1", time.Second, true, true)
	f("0.002, 0.010 : 0.001", 13*time.Millisecond, true, true)
	f("0.002,0.010:0.001", 13*time.Millisecond, true, true)
	f("-", 0, false, true)
	f("-, 0.005", 5*time.Millisecond, true, true)
	f("0.005, -", 5*time.Millisecond, true, true)
	f("- : -", 0, false, true)
	f("", 0, false, true)
	f("999999999.999999999", 999999999999999999, true, true)
	f("999999999, 999999999, 999999999, 999999999, 999999999, 999999999, 999999999, 999999999, 999999999, 999999999", math.MaxInt64, true, true)
	f("1000000000", 0, false, false)
	f("-0.5", 0, false, false)
	f("0.5, -1", 0, false, false)
	f("abc", 0, false, false)
	f("0.", 0, false, false)
	f(".5", 0, false, false)
	f("0.1234567890", 0, false, false)
	f("1e3", 0, false, false)
	f("0.002 0.003", 5*time.Millisecond, true, true)
}

func TestConfig(t *testing.T) {
	bad := []Config{
		{MaxSeries: -1},
		{SeriesIdle: -time.Second},
		{Buckets: []float64{0.1, 0.1}},
		{Buckets: []float64{0.2, 0.1}},
		{Buckets: []float64{0}},
		{Buckets: []float64{-1}},
		{Buckets: []float64{math.NaN()}},
		{Buckets: []float64{math.Inf(1)}},
		{Buckets: []float64{2e9}},
		{Buckets: []float64{1e-12}},
		{Buckets: make([]float64, MaxBuckets+1)},
		{VHost: strings.Repeat("v", MaxVHostLen+1)},
	}
	for _, cfg := range bad {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	many := make([]float64, MaxBuckets)
	for i := range many {
		many[i] = float64(i+1) / 100
	}
	s := mustNew(t, firstCome(Config{Buckets: many}))
	o := obs("", "/", "GET", 200)
	o.Duration, o.HasDuration = time.Second, true
	s.Observe(o)
	m := scrape(t, s)
	if m[`http_request_duration_seconds_bucket{vhost="",route="/",method="GET",status_class="2xx",le="0.64"}`] != "0" ||
		m[`http_request_duration_seconds_bucket{vhost="",route="/",method="GET",status_class="2xx",le="+Inf"}`] != "1" {
		t.Error("64 buckets: wrong counts")
	}
	// Only +Inf.
	s = mustNew(t, firstCome(Config{Buckets: []float64{}}))
	s.Observe(o)
	if m := scrape(t, s); m[`http_request_duration_seconds_bucket{vhost="",route="/",method="GET",status_class="2xx",le="+Inf"}`] != "1" {
		t.Error("no buckets: wrong counts")
	}
}

func TestServeLine(t *testing.T) {
	f, err := ingest.CompileNginx(`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent ` +
		`"$http_referer" "$http_user_agent" $host $request_time $request_length "$upstream_response_time"`)
	if err != nil {
		t.Fatal(err)
	}
	s := mustNew(t, firstCome(Config{Buckets: []float64{0.01, 1}, VHost: "fixed"}))
	p := ingest.Parser{Format: f}
	var r ingest.Request
	line := func(l string) {
		t.Helper()
		if err := p.Parse(&r, []byte(l)); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		s.ServeLine(&r)
	}
	const pre = `10.0.0.1 - - [25/Nov/2026:21:22:09 +0000] `
	line(pre + `"GET /users/123 HTTP/1.1" 200 512 "-" "ua" a.example 0.005 300 "0.002, 0.003 : 0.001"`)
	line(pre + `"GET /users/456 HTTP/1.1" 200 488 "-" "ua" a.example 0.020 100 "-"`)
	line(pre + `"GET /users/7 HTTP/1.1" 201 0 "-" "ua" a.example 5.5 - "-, 2.5"`)
	line(pre + `"GET /users/8 HTTP/1.1" 200 0 "-" "ua" a.example 0.001 junk "-0.5"`)
	line(pre + `"GET /users/9 HTTP/1.1" 200 0 "-" "ua" a.example 0.001 12 "soon"`)
	line(pre + `"POST /login HTTP/1.1" 302 0 "-" "ua" - 999999999.5 10 "1000000000"`)
	line(pre + `"GET /users/10 HTTP/1.1" 200 0 "-" "ua" a.example 0.001 1 "999999999"`)
	m := scrape(t, s)
	l := `{vhost="a.example",route="/users/{id}",method="GET"`
	want := map[string]string{
		`http_requests_total` + l + `,status="200"}`:                                                                    "5",
		`http_requests_total` + l + `,status="201"}`:                                                                    "1",
		`http_requests_total{vhost="fixed",route="/login",method="POST",status="302"}`:                                  "1",
		`http_response_size_bytes_total` + l + `,status="200"}`:                                                         "1000",
		`http_request_size_bytes_total` + l + `,status="200"}`:                                                          "413",
		`http_request_duration_seconds_count` + l + `,status_class="2xx"}`:                                              "6",
		`http_request_duration_seconds_bucket` + l + `,status_class="2xx",le="0.01"}`:                                   "4",
		`http_request_duration_seconds_bucket` + l + `,status_class="2xx",le="1"}`:                                      "5",
		`http_request_duration_seconds_sum` + l + `,status_class="2xx"}`:                                                "5.528",
		`http_upstream_duration_seconds_count` + l + `,status_class="2xx"}`:                                             "3",
		`http_upstream_duration_seconds_bucket` + l + `,status_class="2xx",le="0.01"}`:                                  "1",
		`http_upstream_duration_seconds_bucket` + l + `,status_class="2xx",le="+Inf"}`:                                  "3",
		`http_upstream_duration_seconds_sum` + l + `,status_class="2xx"}`:                                               "1.000000001506e+09",
		`http_request_duration_seconds_bucket{vhost="fixed",route="/login",method="POST",status_class="3xx",le="+Inf"}`: "1",
		`ingest_route_value_errors_total{field="upstream_response_time"}`:                                               "3",
		`ingest_route_value_errors_total{field="request_length"}`:                                                       "1",
	}
	checkSeries(t, m, want)
	if countOf(m, "http_upstream_duration_seconds_count") != 1 {
		t.Error("upstream observed for a line whose value was bad")
	}
}

// TestServeLineNegative checks that a Request built by hand with negative
// values is counted, and its bad values counted as errors.
func TestServeLineNegative(t *testing.T) {
	s := mustNew(t, firstCome(Config{}))
	s.ServeLine(&ingest.Request{Method: []byte("GET"), Path: []byte("/"), Status: 200,
		BodyBytesSent: -5, RequestTime: -time.Second, HasRequestTime: true})
	m := scrape(t, s)
	if m[`http_requests_total{vhost="",route="/",method="GET",status="200"}`] != "1" ||
		m[`http_response_size_bytes_total{vhost="",route="/",method="GET",status="200"}`] != "0" ||
		m[`ingest_route_value_errors_total{field="request_time"}`] != "1" ||
		m[`ingest_route_value_errors_total{field="body_bytes_sent"}`] != "1" ||
		countOf(m, "http_request_duration_seconds_count") != 0 {
		t.Errorf("%v", m)
	}
}

func TestServeLineVHostFromTag(t *testing.T) {
	s := mustNew(t, firstCome(Config{VHost: "fallback", VHostFromTag: true}))
	var p ingest.Parser
	var r ingest.Request
	for _, l := range []string{
		`<190>Nov  5 21:22:09 web01 shop: 10.0.0.1 - - [25/Nov/2026:21:22:09 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`10.0.0.1 - - [25/Nov/2026:21:22:09 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
	} {
		if err := p.Parse(&r, []byte(l)); err != nil {
			t.Fatal(err)
		}
		s.ServeLine(&r)
	}
	m := scrape(t, s)
	if m[`http_requests_total{vhost="shop",route="/",method="GET",status="200"}`] != "1" ||
		m[`http_requests_total{vhost="fallback",route="/",method="GET",status="200"}`] != "1" {
		t.Errorf("vhosts: %v", m)
	}
}

// TestConcurrent counts lines from several goroutines while others scrape
// and expire, and checks that no line is lost.
func TestConcurrent(t *testing.T) {
	s := mustNew(t, Config{MaxSeries: 200})
	const writers, per = 4, 5000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var b bytes.Buffer
			if err := s.WritePrometheus(&b); err != nil {
				t.Error(err)
			}
			s.Expire(time.Now()) // idle is 30 min: removes nothing
		}
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				o := obs("v", "/r"+strconv.Itoa((i*7+w)%400), "GET", 200+i%5)
				o.Duration, o.HasDuration = time.Duration(i)*time.Microsecond, true
				s.Observe(o)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("writers did not finish")
	}
	close(stop)
	bg.Wait()
	m := scrape(t, s)
	if got := sumOf(t, m, "http_requests_total"); got != writers*per {
		t.Errorf("sum %d, want %d", got, writers*per)
	}
	if s.Stats().Series > 200 {
		t.Errorf("%d series", s.Stats().Series)
	}
}

type failWriter struct{ n int }

var errWrite = errors.New("write failed")

func (w *failWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errWrite
}

func TestWritePrometheusError(t *testing.T) {
	s := mustNew(t, firstCome(Config{}))
	for i := range 3000 {
		s.Observe(obs("v", "/r"+strconv.Itoa(i), "GET", 200))
	}
	w := &failWriter{}
	if err := s.WritePrometheus(w); !errors.Is(err, errWrite) || w.n != 1 {
		t.Errorf("err %v after %d writes", err, w.n)
	}
	// The next scrape works.
	if m := scrape(t, s); sumOf(t, m, "http_requests_total") != 3000 {
		t.Error("scrape after a failed one")
	}
}

// TestTableCollisions checks the tables' handling of keys whose hashes
// collide, which real keys almost never do.
func TestTableCollisions(t *testing.T) {
	ga := &group{key: "a", hash: 1}
	gb := &group{key: "b", hash: 1}
	gc := &group{key: "c", hash: 1}
	gd := &group{key: "d", hash: 2}
	tb := (&table{m: map[uint64]*group{}}).with(ga).with(gb).with(gd)
	if tb.get(1, []byte("a")) != ga || tb.get(1, []byte("b")) != gb || tb.get(2, []byte("d")) != gd ||
		tb.get(1, []byte("c")) != nil || tb.get(3, []byte("a")) != nil || len(tb.coll) != 1 {
		t.Fatalf("with: %+v", tb)
	}
	var n int
	tb.each(func(*group) { n++ })
	if n != 3 {
		t.Errorf("each visited %d groups", n)
	}
	t2 := tb.without([]*group{ga})
	if t2.get(1, []byte("a")) != nil || t2.get(1, []byte("b")) != gb || tb.get(1, []byte("a")) != ga {
		t.Fatalf("without: %+v", t2)
	}
	t3 := t2.with(gc)
	if t3.get(1, []byte("c")) != gc || t3.get(1, []byte("b")) != gb {
		t.Fatalf("with after without: %+v", t3)
	}
	t4 := t3.without([]*group{gb, gc})
	if len(t4.m) != 1 || len(t4.coll) != 0 || t4.get(2, []byte("d")) != gd {
		t.Fatalf("without both: %+v", t4)
	}
}

// TestRequestTimeFromParser pins what the parser hands over for unusual
// $request_time values: "-" is no time (not observed), a negative or
// over-long value fails the line, and the largest it accepts goes to +Inf.
func TestRequestTimeFromParser(t *testing.T) {
	f, err := ingest.CompileNginx(`$remote_addr "$request" $status $request_time`)
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.Parser{Format: f}
	var r ingest.Request
	s := mustNew(t, firstCome(Config{}))
	for _, bad := range []string{"-1", "-0.5", "1000000000", "abc", "1e3"} {
		if err := p.Parse(&r, []byte(`10.0.0.1 "GET / HTTP/1.1" 200 `+bad)); err == nil {
			t.Errorf("request_time %q parsed", bad)
		}
	}
	for _, good := range []string{"-", "999999999.999"} {
		if err := p.Parse(&r, []byte(`10.0.0.1 "GET / HTTP/1.1" 200 `+good)); err != nil {
			t.Fatalf("request_time %q: %v", good, err)
		}
		s.ServeLine(&r)
	}
	m := scrape(t, s)
	l := `{vhost="",route="/",method="GET",status_class="2xx"`
	if m[`http_requests_total{vhost="",route="/",method="GET",status="200"}`] != "2" ||
		m["http_request_duration_seconds_count"+l+"}"] != "1" ||
		m["http_request_duration_seconds_bucket"+l+`,le="10"}`] != "0" {
		t.Errorf("%v", m)
	}
}

// TestConcurrentExpire counts lines while Expire removes every key over
// and over: the store's count of series always matches its tables, and it
// is back to zero, bytes included, once everything is expired.
func TestConcurrentExpire(t *testing.T) {
	s := mustNew(t, firstCome(Config{MaxSeries: 100, SeriesIdle: time.Nanosecond}))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s.Observe(obs("v", "/r"+strconv.Itoa((i+w)%150), "GET", 200+i%4))
			}
		}()
	}
	// At least 500 ms, and until something expired: on a loaded machine
	// the goroutines that count may not have run yet.
	least, deadline := time.Now().Add(500*time.Millisecond), time.Now().Add(20*time.Second)
	for time.Now().Before(least) || s.Stats().Expired == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("nothing expired in 20 s: %+v", s.Stats())
		}
		s.Expire(time.Now().Add(time.Hour))
		var b bytes.Buffer
		s.WritePrometheus(&b)
		if n := s.Stats().Series; n > 100 || n < 0 {
			t.Fatalf("%d series", n)
		}
	}
	close(stop)
	wg.Wait()
	held := 0
	for i := range s.shards {
		s.shards[i].t.Load().each(func(g *group) { held += len(*g.entries.Load()) })
	}
	if st := s.Stats(); st.Series != held || st.Expired == 0 {
		t.Errorf("Stats %+v, %d keys in the tables", st, held)
	}
	// Keys stamped since the clock last moved outlive one Expire, not two.
	s.Expire(time.Now().Add(2 * time.Hour))
	s.Expire(time.Now().Add(3 * time.Hour))
	if st := s.Stats(); st.Series != 0 || st.Bytes != st.AdmissionBytes {
		t.Errorf("after expiring everything: %+v", st)
	}
}

// held returns the keys the store's tables hold and the bytes Stats
// should estimate for them.
func held(s *Store) (keys int, size int64) {
	for i := range s.shards {
		s.shards[i].t.Load().each(func(g *group) {
			n := len(*g.entries.Load())
			keys += n
			size += groupBytes + int64(len(g.key)) + int64(n-1)*entryBytes
			for c := range g.hists {
				if g.hists[c].Load() != nil {
					size += histBytes(len(s.bounds))
				}
			}
		})
	}
	return keys, size
}

// TestExpireWhileCounting counts lines of groups with many statuses while
// Expire removes the idle ones over and over: the store's count of keys
// and bytes stays that of its tables, so the budget still holds once the
// store fills up.
func TestExpireWhileCounting(t *testing.T) {
	const max = 1300
	s := mustNew(t, firstCome(Config{MaxSeries: max, SeriesIdle: time.Nanosecond}))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s.Observe(obs("v", "/r"+strconv.Itoa((i+w)%4), "GET", 200+(i/4+w*7)%300))
			}
		}()
	}
	deadline := time.Now().Add(400 * time.Millisecond)
	for time.Now().Before(deadline) {
		s.Expire(time.Now())
	}
	close(stop)
	wg.Wait()
	keys, size := held(s)
	if st := s.Stats(); st.Series != keys || st.Bytes-st.AdmissionBytes != size || keys > max {
		t.Fatalf("Stats: %d series, %d bytes; tables: %d keys, %d bytes", st.Series, st.Bytes-st.AdmissionBytes, keys, size)
	}
	for i := range 5000 {
		s.Observe(obs("v", "/n"+strconv.Itoa(i), "GET", 200))
	}
	keys, size = held(s)
	if st := s.Stats(); st.Series != keys || st.Bytes-st.AdmissionBytes != size || keys > max {
		t.Fatalf("after filling: Stats %d series, %d bytes; tables: %d keys, %d bytes", st.Series, st.Bytes-st.AdmissionBytes, keys, size)
	}
}

// TestExpireLate checks that a key that saw a line since the clock last
// moved is kept, however late Expire comes.
func TestExpireLate(t *testing.T) {
	s := mustNew(t, firstCome(Config{SeriesIdle: time.Minute}))
	t0 := time.Now()
	s.Expire(t0)
	s.Observe(obs("", "/busy", "GET", 200))
	if n := s.Expire(t0.Add(10 * time.Minute)); n != 0 {
		t.Fatalf("a late Expire removed %d active keys", n)
	}
	if n := s.Expire(t0.Add(20 * time.Minute)); n != 1 {
		t.Fatalf("Expire removed %d idle keys, want 1", n)
	}
	// A late scrape moves the clock too: the key it saw is kept.
	s.Observe(obs("", "/busy", "GET", 200))
	s.advance(t0.Add(40 * time.Minute).UnixNano())
	s.Observe(obs("", "/busy", "GET", 200))
	if n := s.Expire(t0.Add(50 * time.Minute)); n != 0 {
		t.Fatalf("Expire after a late scrape removed %d active keys", n)
	}
}

// TestAppendBoundedInvalid checks the bound of a label with invalid UTF-8:
// it applies to the label once each invalid byte is replaced by U+FFFD.
func TestAppendBoundedInvalid(t *testing.T) {
	f := func(b []byte, max int, want string) {
		t.Helper()
		if got := string(appendBounded([]byte("x"), b, max)); got != "x"+want {
			t.Errorf("appendBounded(%q, %d) = %q, want %q", b, max, got, "x"+want)
		}
	}
	f(bytes.Repeat([]byte{0xff}, 84), 253, strings.Repeat("\uFFFD", 84))
	f(bytes.Repeat([]byte{0xff}, 85), 253, Other)
	f([]byte("a\xffé\xc3"), 9, "a\uFFFDé\uFFFD")
	f([]byte("a\xffé\xc3"), 8, Other)
	f([]byte("é"), 2, "é")
}

// TestValueErrorFieldNotShared checks that a caller changing the Field of
// an error Observe returned changes neither Stats nor the exposition.
func TestValueErrorFieldNotShared(t *testing.T) {
	s := mustNew(t, firstCome(Config{}))
	o := obs("", "/", "GET", 200)
	o.ResponseBytes = -1
	var ve *ValueError
	if err := s.Observe(o); !errors.As(err, &ve) || ve.Field != "body_bytes_sent" {
		t.Fatalf("Observe: %v", err)
	}
	ve.Field = "x\"}\n"
	defer func() { ve.Field = "body_bytes_sent" }()
	if st := s.Stats(); st.ValueErrors["body_bytes_sent"] != 1 || len(st.ValueErrors) != numFields {
		t.Errorf("Stats.ValueErrors: %v", st.ValueErrors)
	}
	if m := scrape(t, s); m[`ingest_route_value_errors_total{field="body_bytes_sent"}`] != "1" {
		t.Errorf("exposition: %v", m)
	}
}

// TestDefaultBucketsCopy checks that changing DefaultBuckets does not
// change the buckets of a new store.
func TestDefaultBucketsCopy(t *testing.T) {
	saved := DefaultBuckets[0]
	DefaultBuckets[0] = 7
	defer func() { DefaultBuckets[0] = saved }()
	s := mustNew(t, Config{})
	if s.bounds[0] != 5*int64(time.Millisecond) || s.le[0] != "0.005" || len(s.le) != 12 {
		t.Errorf("bounds %v, le %v", s.bounds, s.le)
	}
}
