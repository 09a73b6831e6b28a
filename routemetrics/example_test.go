package routemetrics_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/route"
	"github.com/flatheap/ingest/routemetrics"
)

// Example parses three nginx lines, counts them in a Store and writes the
// metrics Prometheus would scrape. The first line of /users/{id} counts in
// the vhost's {unadmitted} series: a route gets series of its own on its
// second line. /static/{file...} gets one on its first: it matched a
// pattern.
func Example() {
	format, err := ingest.CompileNginx(`$remote_addr [$time_local] "$request" $status $body_bytes_sent ` +
		`$host $request_time "$upstream_response_time"`)
	if err != nil {
		fmt.Println(err)
		return
	}
	routes, err := route.New(route.Config{Patterns: []string{"/static/{file...}"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	store, err := routemetrics.New(routemetrics.Config{Routes: routes, Buckets: []float64{0.1, 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	p := ingest.Parser{Format: format}
	var r ingest.Request
	for _, line := range []string{
		`10.0.0.1 [25/Nov/2026:21:22:09 +0000] "GET /users/84213 HTTP/1.1" 200 512 shop.example 0.030 "0.020"`,
		`10.0.0.2 [25/Nov/2026:21:22:09 +0000] "GET /users/7 HTTP/1.1" 200 488 shop.example 0.250 "0.100, 0.140"`,
		`10.0.0.3 [25/Nov/2026:21:22:10 +0000] "GET /static/app.js HTTP/1.1" 304 0 shop.example 0.001 "-"`,
	} {
		if err := p.Parse(&r, []byte(line)); err != nil {
			fmt.Println(err)
			return
		}
		store.ServeLine(&r)
	}
	if err := store.WritePrometheus(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// # HELP http_requests_total Requests, by virtual host, route template, method and status.
	// # TYPE http_requests_total counter
	// http_requests_total{vhost="shop.example",route="/static/{file...}",method="GET",status="304"} 1
	// http_requests_total{vhost="shop.example",route="/users/{id}",method="GET",status="200"} 1
	// http_requests_total{vhost="shop.example",route="{unadmitted}",method="GET",status="2xx"} 1
	// # HELP http_response_size_bytes_total Response body bytes ($body_bytes_sent), by virtual host, route template, method and status.
	// # TYPE http_response_size_bytes_total counter
	// http_response_size_bytes_total{vhost="shop.example",route="/static/{file...}",method="GET",status="304"} 0
	// http_response_size_bytes_total{vhost="shop.example",route="/users/{id}",method="GET",status="200"} 488
	// http_response_size_bytes_total{vhost="shop.example",route="{unadmitted}",method="GET",status="2xx"} 512
	// # HELP http_request_size_bytes_total Request bytes ($request_length), by virtual host, route template, method and status.
	// # TYPE http_request_size_bytes_total counter
	// # HELP http_request_duration_seconds Request time ($request_time), by virtual host, route template, method and status class.
	// # TYPE http_request_duration_seconds histogram
	// http_request_duration_seconds_bucket{vhost="shop.example",route="/static/{file...}",method="GET",status_class="3xx",le="0.1"} 1
	// http_request_duration_seconds_bucket{vhost="shop.example",route="/static/{file...}",method="GET",status_class="3xx",le="1"} 1
	// http_request_duration_seconds_bucket{vhost="shop.example",route="/static/{file...}",method="GET",status_class="3xx",le="+Inf"} 1
	// http_request_duration_seconds_sum{vhost="shop.example",route="/static/{file...}",method="GET",status_class="3xx"} 0.001
	// http_request_duration_seconds_count{vhost="shop.example",route="/static/{file...}",method="GET",status_class="3xx"} 1
	// http_request_duration_seconds_bucket{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx",le="0.1"} 0
	// http_request_duration_seconds_bucket{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx",le="1"} 1
	// http_request_duration_seconds_bucket{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx",le="+Inf"} 1
	// http_request_duration_seconds_sum{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx"} 0.25
	// http_request_duration_seconds_count{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx"} 1
	// http_request_duration_seconds_bucket{vhost="shop.example",route="{unadmitted}",method="GET",status_class="2xx",le="0.1"} 1
	// http_request_duration_seconds_bucket{vhost="shop.example",route="{unadmitted}",method="GET",status_class="2xx",le="1"} 1
	// http_request_duration_seconds_bucket{vhost="shop.example",route="{unadmitted}",method="GET",status_class="2xx",le="+Inf"} 1
	// http_request_duration_seconds_sum{vhost="shop.example",route="{unadmitted}",method="GET",status_class="2xx"} 0.03
	// http_request_duration_seconds_count{vhost="shop.example",route="{unadmitted}",method="GET",status_class="2xx"} 1
	// # HELP http_upstream_duration_seconds Upstream time ($upstream_response_time, the sum of the attempts), by virtual host, route template, method and status class.
	// # TYPE http_upstream_duration_seconds histogram
	// http_upstream_duration_seconds_bucket{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx",le="0.1"} 0
	// http_upstream_duration_seconds_bucket{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx",le="1"} 1
	// http_upstream_duration_seconds_bucket{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx",le="+Inf"} 1
	// http_upstream_duration_seconds_sum{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx"} 0.24
	// http_upstream_duration_seconds_count{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx"} 1
	// http_upstream_duration_seconds_bucket{vhost="shop.example",route="{unadmitted}",method="GET",status_class="2xx",le="0.1"} 1
	// http_upstream_duration_seconds_bucket{vhost="shop.example",route="{unadmitted}",method="GET",status_class="2xx",le="1"} 1
	// http_upstream_duration_seconds_bucket{vhost="shop.example",route="{unadmitted}",method="GET",status_class="2xx",le="+Inf"} 1
	// http_upstream_duration_seconds_sum{vhost="shop.example",route="{unadmitted}",method="GET",status_class="2xx"} 0.02
	// http_upstream_duration_seconds_count{vhost="shop.example",route="{unadmitted}",method="GET",status_class="2xx"} 1
	// # HELP ingest_series Route-metric series held.
	// # TYPE ingest_series gauge
	// ingest_series 3
	// # HELP ingest_series_limit Most route-metric series the store holds.
	// # TYPE ingest_series_limit gauge
	// ingest_series_limit 10000
	// # HELP ingest_series_overflow_total Lines counted in an {overflow} series because their key did not fit in the series budget.
	// # TYPE ingest_series_overflow_total counter
	// ingest_series_overflow_total 0
	// # HELP ingest_series_expired_total Route-metric series removed after being idle.
	// # TYPE ingest_series_expired_total counter
	// ingest_series_expired_total 0
	// # HELP ingest_series_evicted_total Route-metric series removed to make room for a more frequent route; their counts went to the {overflow} series of their vhost, method and status.
	// # TYPE ingest_series_evicted_total counter
	// ingest_series_evicted_total 0
	// # HELP ingest_series_unadmitted_total Lines counted in an {unadmitted} series because their route had not been seen often enough to get a series of its own.
	// # TYPE ingest_series_unadmitted_total counter
	// ingest_series_unadmitted_total 1
	// # HELP ingest_series_collapsed_total Lines counted in an {unmatched} series because their route matched no pattern and their status is collapsed.
	// # TYPE ingest_series_collapsed_total counter
	// ingest_series_collapsed_total 0
	// # HELP ingest_series_admission_halvings_total Halvings of the route frequencies that admission and eviction compare.
	// # TYPE ingest_series_admission_halvings_total counter
	// ingest_series_admission_halvings_total 0
	// # HELP ingest_series_admission_rotations_total New generations of the admission doorkeeper; a route's first line is remembered for one to two of them.
	// # TYPE ingest_series_admission_rotations_total counter
	// ingest_series_admission_rotations_total 0
	// # HELP ingest_route_value_errors_total Values that could not be counted (the line was counted without them), by log field.
	// # TYPE ingest_route_value_errors_total counter
	// ingest_route_value_errors_total{field="upstream_response_time"} 0
	// ingest_route_value_errors_total{field="request_length"} 0
	// ingest_route_value_errors_total{field="request_time"} 0
	// ingest_route_value_errors_total{field="body_bytes_sent"} 0
}

// Example_scanner counts a scan of 5,000 random paths, then a real route:
// the scan takes no series of its own, and the route gets one on its
// second line.
func Example_scanner() {
	store, err := routemetrics.New(routemetrics.Config{MaxSeries: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := ingest.Request{Method: []byte("GET"), Status: 404, Host: []byte("api.example.com")}
	for i := range 5000 {
		r.Path = fmt.Appendf(r.Path[:0], "/wp-admin/%c%c%c%c%c.php", 'a'+i%26, 'a'+i/26%26, 'a'+i/676%26, 'a'+i/17576%26, 'a'+i%7)
		store.ServeLine(&r)
	}
	r.Status = 200
	for i := range 100 {
		r.Path = fmt.Appendf(r.Path[:0], "/api/v2/checkout/%d", 1000+i)
		store.ServeLine(&r)
	}
	var b bytes.Buffer
	if err := store.WritePrometheus(&b); err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "http_requests_total") || strings.HasPrefix(line, "ingest_series ") ||
			strings.HasPrefix(line, "ingest_series_unadmitted_total") {
			fmt.Println(line)
		}
	}
	ex := store.Explain([]byte("api.example.com"), []byte("GET"), []byte("/wp-admin/zzzzz.php"))
	fmt.Println(ex.Route, ex.State, ex.Estimate)
	ex = store.Explain([]byte("api.example.com"), []byte("GET"), []byte("/api/v2/checkout/7"))
	fmt.Println(ex.Route, ex.State, ex.Estimate)
	// Output:
	// http_requests_total{vhost="api.example.com",route="/api/v2/checkout/{id}",method="GET",status="200"} 99
	// http_requests_total{vhost="api.example.com",route="{unadmitted}",method="GET",status="4xx"} 5000
	// http_requests_total{vhost="api.example.com",route="{unadmitted}",method="GET",status="2xx"} 1
	// ingest_series 3
	// ingest_series_unadmitted_total 5001
	// /wp-admin/zzzzz.php unadmitted 0
	// /api/v2/checkout/{id} admitted 15
}
