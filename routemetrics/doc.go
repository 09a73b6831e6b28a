// Package routemetrics keeps per-route request metrics in a store whose
// memory a configuration bounds, and writes them in the Prometheus text
// format.
//
// A series key is (vhost, route, method, status). Each key counts requests,
// response bytes and request bytes. Latency histograms of the request time
// and of the upstream time are kept per (vhost, route, method, status
// class), so that buckets do not multiply with every status code.
//
// The store holds at most Config.MaxSeries keys, whatever the input. When
// the budget is full a new key is counted under the route "{overflow}", so
// the sum over all series still equals the lines observed. Keys idle for
// Config.SeriesIdle are removed by Store.Expire, which the owner calls; the
// package starts no goroutine.
//
// A Store is an ingest.Handler: give it to an ingest.Server, or call
// Store.ServeLine from a handler of your own. Store.Observe takes values
// that a daemon with its own parser has already decoded. Every method is
// safe for concurrent use.
package routemetrics
