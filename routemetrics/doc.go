// Package routemetrics keeps per-route request metrics in a store whose
// memory a configuration bounds, and writes them in the Prometheus text
// format.
//
// A series key is (vhost, route, method, status). Each key counts requests,
// response bytes and request bytes. Latency histograms of the request time
// and of the upstream time are kept per (vhost, route, method, status
// class), so that buckets do not multiply with every status code.
//
// The store holds at most Config.MaxSeries keys, whatever the input, and
// gives them to the routes that carry traffic, not to the first ones to
// arrive:
//
//   - Admission: a route (vhost, route, method) gets series of its own on
//     its second line within the admission window (Config.AdmitAfter,
//     Config.AdmitWindow), or on its first when it came from one of the
//     operator's patterns. Until then its lines count in the series
//     (vhost, "{unadmitted}", method, status class). A flood of paths seen
//     once, a scanner's, takes no series at all.
//   - Eviction: when the budget is full, a route whose estimated frequency
//     beats the coldest of a sample of held routes takes its place; the
//     evicted keys' counters, histograms included, go to their
//     (vhost, "{overflow}", method, status) series. A route that does not
//     beat it counts there too.
//   - Collapsing: lines whose route matched no pattern and whose status is
//     one of Config.CollapseUnmatched count in (vhost, "{unmatched}",
//     method, status).
//
// The catch-all series are bounded as the keys are (the vhost comes from
// the client): past their share of the budget, lines go to one global
// catch-all series. Every line is counted in exactly one series, so the
// sum over all series equals the lines observed, less those of the keys
// Expire removed (Stats.ExpiredRequests counts them). Which routes hold
// series is a local decision, made from the traffic this store saw;
// routes themselves are deterministic (see package route). Store.Explain
// tells, for one route, whether it has series and why.
//
// Keys idle for Config.SeriesIdle are removed by Store.Expire, which the
// owner calls; its clock, and the scrapes', also age the admission
// filter. The package starts no goroutine.
//
// A Store is an ingest.Handler: give it to an ingest.Server, or call
// Store.ServeLine from a handler of your own. Store.Observe takes values
// that a daemon with its own parser has already decoded. Every method is
// safe for concurrent use.
package routemetrics
