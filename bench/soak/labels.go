package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/internal/loadgen"
)

// labelsReceiver is the common exporter pattern: one Prometheus series per
// raw request path, a request counter and a request-time histogram with the
// path as a label, in a metrics.Set that is scraped now and then. Lines are
// read and parsed as the ingest receiver does, so that the two differ only
// in what they keep: this one keeps a series for every distinct path, and
// the set never forgets one.
type labelsReceiver struct {
	format      *ingest.Format
	set         *metrics.Set
	lines, keys atomic.Int64
}

// labelsScrapeEvery is how often the labels receiver writes its metrics,
// as a Prometheus server scraping it would make it.
const labelsScrapeEvery = 5 * time.Second

func newLabelsReceiver(o receiverOptions) (soakReceiver, error) {
	lr := &labelsReceiver{set: metrics.NewSet()}
	if o.routes {
		f, err := ingest.CompileNginx(loadgen.RoutesLogFormat)
		if err != nil {
			return nil, err
		}
		lr.format = f
	}
	return lr, nil
}

func (lr *labelsReceiver) track(*heapwatch.Monitor) error { return nil }

func (lr *labelsReceiver) counts() (int64, int64) { return lr.lines.Load(), lr.keys.Load() }

// seriesName returns metric{path="path"} with the path escaped as the
// Prometheus text format escapes label values: a new string per call, as
// such exporters build them.
func seriesName(metric string, path []byte) string {
	var b strings.Builder
	b.Grow(len(metric) + len(path) + 10)
	b.WriteString(metric)
	b.WriteString(`{path="`)
	for _, c := range path {
		switch c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString(`"}`)
	return b.String()
}

func (lr *labelsReceiver) handle(r *ingest.Request) {
	c := lr.set.GetOrCreateCounter(seriesName("http_requests_total", r.Path))
	if c.Get() == 0 { // a new series (two readers may both count it: an estimate)
		lr.keys.Add(1)
	}
	c.Inc()
	if r.HasRequestTime {
		lr.set.GetOrCreateHistogram(seriesName("http_request_duration_seconds", r.Path)).Update(r.RequestTime.Seconds())
	}
	lr.lines.Add(1)
}

func (lr *labelsReceiver) run(ctx context.Context, conn *net.UDPConn) error {
	s, err := ingest.NewServer(ingest.Config{Format: lr.format, Handler: ingest.HandlerFunc(lr.handle)})
	if err != nil {
		conn.Close()
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { scrapeEvery(ctx, labelsScrapeEvery, func(w io.Writer) { lr.set.WritePrometheus(w) }) })
	err = s.Serve(ctx, conn)
	wg.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// scrapeEvery calls write with io.Discard every interval until ctx ends,
// the way a Prometheus server's scrapes exercise an exporter's writer.
func scrapeEvery(ctx context.Context, interval time.Duration, write func(io.Writer)) {
	scrapes := time.NewTicker(interval)
	defer scrapes.Stop()
	for ctx.Err() == nil {
		select {
		case <-scrapes.C:
			write(io.Discard)
		case <-ctx.Done():
		}
	}
}
