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
// buffers, a Parser, and a pathtable.Table keyed by interned paths; for route
// traffic, the Server parses loadgen.RoutesLogFormat and the handler also
// counts each line in a routemetrics.Store, as "ingest serve" does.
type ingestReceiver struct {
	paths  *ingest.Interner
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

// soakInterner bounds the ingest receiver's Interner: the library's
// defaults, written out so that its budget can be reported.
var soakInterner = ingest.InternerConfig{MaxEntries: 1 << 16, MaxBytes: 8 << 20, MaxLen: 512}

// internerLimitBytes bounds the heap the soak Interner's values take: its
// byte budget filled with values of MaxLen (or its entry budget, if that
// binds first). With the size classes rounding each value up by at most
// an eighth above 128 bytes, no mix of lengths costs more than a few
// percent beyond it.
var internerLimitBytes = internerBytes(
	min(soakInterner.MaxBytes, soakInterner.MaxEntries*soakInterner.MaxLen),
	min(soakInterner.MaxEntries, soakInterner.MaxBytes/soakInterner.MaxLen))

// pathEntryBytes estimates the heap bytes a pathtable.Table entry costs beyond
// its interned key: the 64-byte pathtable.Stat, and a map slot (a 16-byte string,
// an 8-byte pointer and a control byte) at 7/8 load, doubled for a map
// that has just grown.
const pathEntryBytes = 64 + 2*(16+8+1)*8/7

// sizeClasses are the Go runtime's small object size classes up to 32 KiB.
var sizeClasses = [...]int{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
	2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
	10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// objectSize returns the heap bytes an allocation of n bytes occupies:
// its size class, or whole 8 KiB pages above 32 KiB.
func objectSize(n int) int {
	for _, c := range sizeClasses {
		if n <= c {
			return c
		}
	}
	return (n + 8191) &^ 8191
}

// internerBytes estimates the heap bytes of the values an Interner holds:
// each is one object of its length plus 2 bytes, rounded up to its size
// class, here computed for the mean length.
func internerBytes(bytes, entries int) int64 {
	if entries == 0 {
		return 0
	}
	return int64(entries) * int64(objectSize(bytes/entries+2))
}

func newIngestReceiver(o receiverOptions) (soakReceiver, error) {
	paths := ingest.NewInterner(soakInterner)
	ir := &ingestReceiver{paths: paths, table: pathtable.New(paths, o.maxPaths)}
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
	err := m.Track("interner", func() heapwatch.Usage {
		st := ir.paths.Stats()
		return heapwatch.Usage{
			Bytes:        internerBytes(st.Bytes, st.Entries),
			LimitBytes:   internerLimitBytes,
			Entries:      int64(st.Entries),
			LimitEntries: int64(soakInterner.MaxEntries),
			Refused:      st.Evictions,
		}
	})
	if err != nil {
		return err
	}
	// The table's keys are the Interner's strings. While it stores them
	// they are in its budget; once it has evicted one, the table alone
	// keeps it alive, so it counts here (pathtable.Table.Usage): up to a
	// whole key of MaxLen per entry once the Interner has moved on to
	// other paths.
	err = m.Track("paths", func() heapwatch.Usage {
		n, keyBytes := ir.table.Usage()
		return heapwatch.Usage{
			Bytes:        int64(n)*pathEntryBytes + keyBytes,
			LimitBytes:   int64(ir.table.MaxPaths()) * (pathEntryBytes + int64(objectSize(soakInterner.MaxLen+2))),
			Entries:      int64(n),
			LimitEntries: int64(ir.table.MaxPaths()),
		}
	})
	if err != nil || ir.store == nil {
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
