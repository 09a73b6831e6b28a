package routemetrics

import (
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// bufSize is the capacity of the scrape buffer; it is written out when it
// holds more than flushAt bytes. A series line is at most a few KiB (the
// labels are bounded), so the buffer never grows.
const (
	bufSize = 64 << 10
	flushAt = bufSize - 8<<10
)

// Metric families, in the order WritePrometheus writes them.
const (
	helpRequests  = "# HELP http_requests_total Requests, by virtual host, route template, method and status.\n# TYPE http_requests_total counter\n"
	helpResp      = "# HELP http_response_size_bytes_total Response body bytes ($body_bytes_sent), by virtual host, route template, method and status.\n# TYPE http_response_size_bytes_total counter\n"
	helpReq       = "# HELP http_request_size_bytes_total Request bytes ($request_length), by virtual host, route template, method and status.\n# TYPE http_request_size_bytes_total counter\n"
	helpDuration  = "# HELP http_request_duration_seconds Request time ($request_time), by virtual host, route template, method and status class.\n# TYPE http_request_duration_seconds histogram\n"
	helpUpstream  = "# HELP http_upstream_duration_seconds Upstream time ($upstream_response_time, the sum of the attempts), by virtual host, route template, method and status class.\n# TYPE http_upstream_duration_seconds histogram\n"
	helpSeries    = "# HELP ingest_series Route-metric series held.\n# TYPE ingest_series gauge\n"
	helpLimit     = "# HELP ingest_series_limit Most route-metric series the store holds.\n# TYPE ingest_series_limit gauge\n"
	helpOverflow  = "# HELP ingest_series_overflow_total Lines counted in an {overflow} series because their key did not fit in the series budget.\n# TYPE ingest_series_overflow_total counter\n"
	helpExpired   = "# HELP ingest_series_expired_total Route-metric series removed after being idle.\n# TYPE ingest_series_expired_total counter\n"
	helpEvicted   = "# HELP ingest_series_evicted_total Route-metric series removed to make room for a more frequent route; their counts went to the {overflow} series of their vhost, method and status.\n# TYPE ingest_series_evicted_total counter\n"
	helpUnadmit   = "# HELP ingest_series_unadmitted_total Lines counted in an {unadmitted} series because their route had not been seen often enough to get a series of its own.\n# TYPE ingest_series_unadmitted_total counter\n"
	helpCollapsed = "# HELP ingest_series_collapsed_total Lines counted in an {unmatched} series because their route matched no pattern and their status is collapsed.\n# TYPE ingest_series_collapsed_total counter\n"
	helpHalvings  = "# HELP ingest_series_admission_halvings_total Halvings of the route frequencies that admission and eviction compare.\n# TYPE ingest_series_admission_halvings_total counter\n"
	helpRotations = "# HELP ingest_series_admission_rotations_total New generations of the admission doorkeeper; a route's first line is remembered for one to two of them.\n# TYPE ingest_series_admission_rotations_total counter\n"
	helpValueErrs = "# HELP ingest_route_value_errors_total Values that could not be counted (the line was counted without them), by log field.\n# TYPE ingest_route_value_errors_total counter\n"
)

// WritePrometheus writes the store's metrics to w in the Prometheus text
// format (version 0.0.4), series sorted by vhost, route and method. It
// returns the first error of w.Write.
//
// The output is streamed through one buffer of fixed size that the store
// reuses; it costs no allocation per series. Scrapes are serialised: a
// second WritePrometheus waits for the first to finish, so memory does not
// grow with the number of concurrent scrapes. Lines are counted while a
// scrape runs: the scrape holds no lock while it formats or writes, and a
// series' values are read one at a time, so a histogram's buckets, sum and
// count may be a few lines apart from its series' request counter.
//
// A scrape advances the clock Expire measures idleness with, and so ages
// the admission filter (see Config.AdmitWindow). A series evicted or
// expired while a scrape runs is left out of it: its counts are on their
// way to their destination, which the scrape may have read before.
func (s *Store) WritePrometheus(w io.Writer) error {
	s.scrapeMu.Lock()
	defer s.scrapeMu.Unlock()
	b := ScrapeBuffer{buf: s.buf, snap: s.snap}
	err := s.WritePrometheusBuffer(w, &b)
	s.buf, s.snap = b.buf, b.snap
	return err
}

// ScrapeBuffer is what one scrape reuses: its output buffer and its
// snapshot of the series. The zero value is ready to use. A ScrapeBuffer
// holds no reference to the store between scrapes; it must not be used by
// two scrapes at once.
type ScrapeBuffer struct {
	buf  []byte
	snap []*group
}

// WritePrometheusBuffer is WritePrometheus with the caller's buffers
// instead of the store's: scrapes with different ScrapeBuffers run at the
// same time, so that a client that reads slowly holds up its own scrape
// only. Each ScrapeBuffer keeps a 64 KiB output buffer and a snapshot of 8
// bytes a series: the memory of the scrapes is bounded by the number of
// ScrapeBuffers the caller uses.
func (s *Store) WritePrometheusBuffer(w io.Writer, b *ScrapeBuffer) error {
	s.advance(time.Now().UnixNano())

	snap := b.snap[:0]
	for i := range s.shards {
		s.shards[i].t.Load().each(func(g *group) { snap = append(snap, g) })
	}
	slices.SortFunc(snap, func(a, b *group) int { return strings.Compare(a.key, b.key) })
	b.snap = snap
	defer func() {
		// Drop the references, so expired groups are freed.
		clear(b.snap)
		b.snap = b.snap[:0]
	}()
	if cap(b.buf) < bufSize {
		b.buf = make([]byte, 0, bufSize)
	}

	p := promWriter{w: w, buf: b.buf[:0]}
	p.counters(helpRequests, "http_requests_total", snap, func(e *entry) (uint64, bool) { return e.requests.Load(), true })
	p.counters(helpResp, "http_response_size_bytes_total", snap, func(e *entry) (uint64, bool) { return e.respBytes.Load(), true })
	p.counters(helpReq, "http_request_size_bytes_total", snap, func(e *entry) (uint64, bool) { return e.reqBytes.Load(), e.hasReq.Load() })
	s.histograms(&p, helpDuration, "http_request_duration_seconds", histRequest, snap)
	s.histograms(&p, helpUpstream, "http_upstream_duration_seconds", histUpstream, snap)

	adm := s.adm.Stats()
	p.single(helpSeries, "ingest_series ", uint64(s.series.Load()))
	p.single(helpLimit, "ingest_series_limit ", uint64(s.maxSeries))
	p.single(helpOverflow, "ingest_series_overflow_total ", s.overflows.Load())
	p.single(helpExpired, "ingest_series_expired_total ", s.expired.Load())
	p.single(helpEvicted, "ingest_series_evicted_total ", s.evicted.Load())
	p.single(helpUnadmit, "ingest_series_unadmitted_total ", s.unadmitted.Load())
	p.single(helpCollapsed, "ingest_series_collapsed_total ", s.collapsed.Load())
	p.single(helpHalvings, "ingest_series_admission_halvings_total ", adm.Halvings)
	p.single(helpRotations, "ingest_series_admission_rotations_total ", adm.Rotations)
	p.buf = append(p.buf, helpValueErrs...)
	for i := range s.valueErrs {
		p.buf = append(p.buf, `ingest_route_value_errors_total{field="`...)
		p.buf = append(p.buf, fieldNames[i]...)
		p.buf = append(p.buf, `"} `...)
		p.buf = strconv.AppendUint(p.buf, s.valueErrs[i].Load(), 10)
		p.buf = append(p.buf, '\n')
	}
	p.flush()
	b.buf = p.buf[:0]
	return p.err
}

// promWriter streams lines to w through buf.
type promWriter struct {
	w   io.Writer
	buf []byte
	err error
}

// single appends a family of one unlabelled sample: its help and type,
// then name (which ends in a space) and v.
func (p *promWriter) single(help, name string, v uint64) {
	p.buf = append(p.buf, help...)
	p.buf = append(p.buf, name...)
	p.buf = strconv.AppendUint(p.buf, v, 10)
	p.buf = append(p.buf, '\n')
}

// flush writes buf out and empties it; after an error it only empties it.
func (p *promWriter) flush() {
	if p.err == nil && len(p.buf) > 0 {
		_, p.err = p.w.Write(p.buf)
	}
	p.buf = p.buf[:0]
}

// maybeFlush writes buf out when it holds flushAt bytes or more. A line is
// under 2 KiB (the labels are bounded), so buf never outgrows bufSize.
func (p *promWriter) maybeFlush() {
	if len(p.buf) >= flushAt {
		p.flush()
	}
}

// labels appends `{vhost="...",route="...",method="..."` (no closing brace).
func (p *promWriter) labels(g *group) {
	p.buf = append(p.buf, `{vhost="`...)
	p.buf = appendEscaped(p.buf, g.vhost)
	p.buf = append(p.buf, `",route="`...)
	p.buf = appendEscaped(p.buf, g.route)
	p.buf = append(p.buf, `",method="`...)
	p.buf = append(p.buf, methodNames[g.method]...)
	p.buf = append(p.buf, '"')
}

// counters writes one counter family: the value of each entry of each
// group, when value's second result is true.
func (p *promWriter) counters(help, name string, snap []*group, value func(*entry) (uint64, bool)) {
	p.buf = append(p.buf, help...)
	for _, g := range snap {
		for _, e := range *g.entries.Load() {
			if e.fold.Load() != nil {
				continue // retired since the snapshot: its counts moved
			}
			v, ok := value(e)
			if !ok {
				continue
			}
			p.buf = append(p.buf, name...)
			p.labels(g)
			p.buf = append(p.buf, `,status="`...)
			p.buf = appendStatus(p.buf, e.status)
			p.buf = append(p.buf, `"} `...)
			p.buf = strconv.AppendUint(p.buf, v, 10)
			p.buf = append(p.buf, '\n')
			p.maybeFlush()
		}
	}
}

// histograms writes one histogram family: for each group, the histograms
// of its status classes that observed something.
func (s *Store) histograms(p *promWriter, help, name string, which int, snap []*group) {
	p.buf = append(p.buf, help...)
	nb := len(s.bounds)
	var counts [MaxBuckets + 1]uint64
	for _, g := range snap {
		for c := range g.hists {
			h := g.hists[c].Load()
			if h == nil || h.fold.Load() != nil {
				continue
			}
			part := histPart(h.v, which, nb)
			var total uint64
			for i := 0; i <= nb; i++ {
				total += part[i].Load()
				counts[i] = total
			}
			if total == 0 {
				continue
			}
			sum := part[nb+1].Load()
			for i := 0; i <= nb; i++ {
				p.buf = append(p.buf, name...)
				p.buf = append(p.buf, "_bucket"...)
				p.labels(g)
				p.buf = append(p.buf, `,status_class="`...)
				p.buf = append(p.buf, classNames[c]...)
				p.buf = append(p.buf, `",le="`...)
				p.buf = append(p.buf, s.le[i]...)
				p.buf = append(p.buf, `"} `...)
				p.buf = strconv.AppendUint(p.buf, counts[i], 10)
				p.buf = append(p.buf, '\n')
				p.maybeFlush()
			}
			p.buf = append(p.buf, name...)
			p.buf = append(p.buf, "_sum"...)
			p.labels(g)
			p.buf = append(p.buf, `,status_class="`...)
			p.buf = append(p.buf, classNames[c]...)
			p.buf = append(p.buf, `"} `...)
			p.buf = appendSeconds(p.buf, sum)
			p.buf = append(p.buf, '\n')
			p.maybeFlush()
			p.buf = append(p.buf, name...)
			p.buf = append(p.buf, "_count"...)
			p.labels(g)
			p.buf = append(p.buf, `,status_class="`...)
			p.buf = append(p.buf, classNames[c]...)
			p.buf = append(p.buf, `"} `...)
			p.buf = strconv.AppendUint(p.buf, total, 10)
			p.buf = append(p.buf, '\n')
			p.maybeFlush()
		}
	}
}

// appendSeconds appends ns nanoseconds as seconds.
func appendSeconds(dst []byte, ns uint64) []byte {
	return strconv.AppendFloat(dst, float64(ns)/1e9, 'g', -1, 64)
}
