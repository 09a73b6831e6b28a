package main

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/internal/loadgen"
	"github.com/flatheap/ingest/internal/pathtable"
	"github.com/flatheap/ingest/routemetrics"
)

// ingestReceiver is the library's way: a Server with fixed receive
// buffers, a Parser, and a pathtable.Table (a keyed.Table of per-path
// counts, keyed by its own copies of the paths); for route traffic, the
// Server parses loadgen.RoutesLogFormat and the handler also counts each
// line in a routemetrics.Store, as "ingest serve" does.
type ingestReceiver struct {
	table  *pathtable.Table
	format *ingest.Format      // nil: the built-in combined format
	store  *routemetrics.Store // route traffic only
	lines  atomic.Int64
	srv    atomic.Pointer[ingest.Server]

	// The scanner scenario: the real routes' states (see scanner.go),
	// guarded by scanMu, and the mix and seed of the load.
	scanMix    *loadgen.ScannerMix
	scanSeed   int64
	scanMu     sync.Mutex
	scanRoutes []scannerRoute
}

// storeScrapeEvery is how often the ingest receiver writes its route
// metrics, as a Prometheus server scraping "ingest serve" would make it.
const storeScrapeEvery = 5 * time.Second

func newIngestReceiver(o receiverOptions) (soakReceiver, error) {
	table, err := pathtable.New(o.maxPaths)
	if err != nil {
		return nil, err
	}
	ir := &ingestReceiver{table: table}
	if o.routes {
		f, err := ingest.CompileNginx(loadgen.RoutesLogFormat)
		if err != nil {
			return nil, err
		}
		ir.format = f
		if ir.store, err = routemetrics.New(routemetrics.Config{MaxSeries: o.maxSeries}); err != nil {
			return nil, err
		}
	}
	if o.scanner != nil && ir.store != nil {
		ir.scanMix, ir.scanSeed = o.scanner, o.seed
		for _, r := range o.scanner.RouteTemplates() {
			ir.scanRoutes = append(ir.scanRoutes, scannerRoute{Route: r})
		}
	}
	return ir, nil
}

func (ir *ingestReceiver) track(m *heapwatch.Monitor) error {
	// The table's keys are its own copies: its budget counts them, and
	// nothing else does.
	if err := m.Track("paths", ir.table.Usage); err != nil || ir.store == nil {
		return err
	}
	return m.Track("routes", func() heapwatch.Usage {
		st := ir.store.Stats()
		return heapwatch.Usage{
			Bytes: st.Bytes, LimitBytes: st.LimitBytes,
			Entries: int64(st.Series), LimitEntries: int64(st.Limit),
			Refused: st.Overflows,
		}
	})
}

func (ir *ingestReceiver) run(ctx context.Context, conn *net.UDPConn) error {
	s, err := ingest.NewServer(ingest.Config{
		Format: ir.format,
		Handler: ingest.HandlerFunc(func(r *ingest.Request) {
			if ir.store != nil {
				ir.store.ServeLine(r)
			}
			ir.table.ServeLine(r)
			ir.lines.Add(1)
		}),
	})
	if err != nil {
		conn.Close()
		return err
	}
	ir.srv.Store(s)
	var wg sync.WaitGroup
	if ir.scanMix != nil {
		wg.Go(func() { ir.watchRoutes(ctx) })
	}
	if ir.store != nil {
		wg.Go(func() {
			scrapeEvery(ctx, storeScrapeEvery, func(w io.Writer) {
				ir.store.Expire(time.Now())
				ir.store.WritePrometheus(w)
			})
		})
	}
	err = s.Serve(ctx, conn)
	wg.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// final returns the scanner scenario's last report, or nil in the other
// scenarios; the receiver has stopped.
func (ir *ingestReceiver) final() *scannerReport {
	if ir.scanMix == nil {
		return nil
	}
	return ir.scannerFinal()
}

func (ir *ingestReceiver) counts() (int64, int64) {
	return ir.lines.Load(), int64(ir.table.Len())
}
