package readme

import (
	"context"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/keyed"
)

// readme:paths
// Hits is what the daemon keeps per path.
type Hits struct{ Requests, Bytes int64 }

func (h *Hits) Merge(o *Hits) { h.Requests += o.Requests; h.Bytes += o.Bytes }

func serve(ctx context.Context, monitor *heapwatch.Monitor) error {
	paths, err := keyed.New(keyed.Config[Hits]{MaxEntries: 10000, Merge: (*Hits).Merge})
	if err != nil {
		return err
	}
	monitor.Track("paths", paths.Usage) // its heap is a budget filling, not a leak
	srv, err := ingest.NewServer(ingest.Config{
		Addr: "127.0.0.1:5514",
		Handler: ingest.HandlerFunc(func(r *ingest.Request) {
			// r.Path is a view, valid during the call: the table copies a path it keeps.
			paths.Update(r.Path, func(h *Hits) { h.Requests++; h.Bytes += r.BodyBytesSent })
		}),
	})
	if err != nil {
		return err
	}
	return srv.ListenAndServe(ctx) // meanwhile, paths.Top(dst, 20, rank) lists the busiest
}

// readme:end

var _ = serve
