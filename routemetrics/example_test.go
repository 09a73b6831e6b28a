package routemetrics_test

import (
	"fmt"
	"os"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/route"
	"github.com/flatheap/ingest/routemetrics"
)

// Example parses three nginx lines, counts them in a Store and writes the
// metrics Prometheus would scrape.
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
	// http_requests_total{vhost="shop.example",route="/users/{id}",method="GET",status="200"} 2
	// # HELP http_response_size_bytes_total Response body bytes ($body_bytes_sent), by virtual host, route template, method and status.
	// # TYPE http_response_size_bytes_total counter
	// http_response_size_bytes_total{vhost="shop.example",route="/static/{file...}",method="GET",status="304"} 0
	// http_response_size_bytes_total{vhost="shop.example",route="/users/{id}",method="GET",status="200"} 1000
	// # HELP http_request_size_bytes_total Request bytes ($request_length), by virtual host, route template, method and status.
	// # TYPE http_request_size_bytes_total counter
	// # HELP http_request_duration_seconds Request time ($request_time), by virtual host, route template, method and status class.
	// # TYPE http_request_duration_seconds histogram
	// http_request_duration_seconds_bucket{vhost="shop.example",route="/static/{file...}",method="GET",status_class="3xx",le="0.1"} 1
	// http_request_duration_seconds_bucket{vhost="shop.example",route="/static/{file...}",method="GET",status_class="3xx",le="1"} 1
	// http_request_duration_seconds_bucket{vhost="shop.example",route="/static/{file...}",method="GET",status_class="3xx",le="+Inf"} 1
	// http_request_duration_seconds_sum{vhost="shop.example",route="/static/{file...}",method="GET",status_class="3xx"} 0.001
	// http_request_duration_seconds_count{vhost="shop.example",route="/static/{file...}",method="GET",status_class="3xx"} 1
	// http_request_duration_seconds_bucket{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx",le="0.1"} 1
	// http_request_duration_seconds_bucket{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx",le="1"} 2
	// http_request_duration_seconds_bucket{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx",le="+Inf"} 2
	// http_request_duration_seconds_sum{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx"} 0.28
	// http_request_duration_seconds_count{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx"} 2
	// # HELP http_upstream_duration_seconds Upstream time ($upstream_response_time, the sum of the attempts), by virtual host, route template, method and status class.
	// # TYPE http_upstream_duration_seconds histogram
	// http_upstream_duration_seconds_bucket{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx",le="0.1"} 1
	// http_upstream_duration_seconds_bucket{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx",le="1"} 2
	// http_upstream_duration_seconds_bucket{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx",le="+Inf"} 2
	// http_upstream_duration_seconds_sum{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx"} 0.26
	// http_upstream_duration_seconds_count{vhost="shop.example",route="/users/{id}",method="GET",status_class="2xx"} 2
	// # HELP ingest_series Route-metric series held.
	// # TYPE ingest_series gauge
	// ingest_series 2
	// # HELP ingest_series_limit Most route-metric series the store holds.
	// # TYPE ingest_series_limit gauge
	// ingest_series_limit 10000
	// # HELP ingest_series_overflow_total Lines counted in an {overflow} series because their key did not fit in the series budget.
	// # TYPE ingest_series_overflow_total counter
	// ingest_series_overflow_total 0
	// # HELP ingest_series_expired_total Route-metric series removed after being idle.
	// # TYPE ingest_series_expired_total counter
	// ingest_series_expired_total 0
	// # HELP ingest_route_value_errors_total Values that could not be counted (the line was counted without them), by log field.
	// # TYPE ingest_route_value_errors_total counter
	// ingest_route_value_errors_total{field="upstream_response_time"} 0
	// ingest_route_value_errors_total{field="request_length"} 0
	// ingest_route_value_errors_total{field="request_time"} 0
	// ingest_route_value_errors_total{field="body_bytes_sent"} 0
}
