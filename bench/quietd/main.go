// Command quietd is a small daemon written with the library the way a
// newcomer writes one, for measuring what heapwatch says in a quiet
// daemon's first minutes: an ingest.Server handing each line to a
// routemetrics.Store (written out every 15s, as a scrape would) and to a
// map of at most 10,000 paths keyed by Interner strings. Every second it
// reads a heapwatch sample, adds it to a Monitor and writes one JSON line:
// {"sample": ..., "verdict": "..."}. It stops on SIGINT or SIGTERM.
//
//	go run -C bench/quietd . --listen 127.0.0.1:15601 > long.jsonl &
//	go run ./cmd/ingest send --addr 127.0.0.1:15601 --rate 1500 --duration 180s \
//	    --path-length 2048 --paths 1000 --unique 0.5
//
// heapwatch/testdata/quiet-*.jsonl are such runs, their samples only.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/routemetrics"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:15600", "UDP `address` to receive access lines on")
	forceGC := flag.Duration("force-gc", 0, "heapwatch.Config.ForceGC: 0 never, negative Window/(MinGCCycles+1)")
	flag.Parse()
	if err := run(*addr, *forceGC); err != nil {
		fmt.Fprintln(os.Stderr, "quietd:", err)
		os.Exit(1)
	}
}

func run(addr string, forceGC time.Duration) error {
	in := ingest.NewInterner(ingest.InternerConfig{})
	store, err := routemetrics.New(routemetrics.Config{})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	counts := make(map[string]int)
	srv, err := ingest.NewServer(ingest.Config{Handler: ingest.HandlerFunc(func(r *ingest.Request) {
		store.ServeLine(r)
		k, ok := in.Lookup(r.Path)
		if !ok {
			in.Intern(r.Path) // a sighting; stored on the second one
			return
		}
		mu.Lock()
		if _, has := counts[k]; has || len(counts) < 10000 {
			counts[k]++
		}
		mu.Unlock()
	})})
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	m := heapwatch.New(heapwatch.Config{ForceGC: forceGC})
	m.Track("interner", func() heapwatch.Usage {
		st := in.Stats()
		return heapwatch.Usage{Bytes: int64(st.Bytes), LimitBytes: int64(st.MaxBytes),
			Entries: int64(st.Entries), LimitEntries: int64(st.MaxEntries), Refused: st.Evictions}
	})
	m.Track("routes", func() heapwatch.Usage {
		st := store.Stats()
		return heapwatch.Usage{Bytes: st.Bytes, LimitBytes: st.LimitBytes,
			Entries: int64(st.Series), LimitEntries: int64(st.Limit), Refused: st.Overflows}
	})

	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(ctx, pc) })
	wg.Go(func() {
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				store.WritePrometheus(io.Discard)
			}
		}
	})
	// The Monitor's own loop, with a line per sample.
	wg.Go(func() { m.Run(ctx) })
	enc := json.NewEncoder(os.Stdout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-tick.C:
		}
		s, ok := m.Last()
		if !ok || !s.Time.After(last) {
			continue // no new sample yet
		}
		last = s.Time
		line := struct {
			Sample  heapwatch.Sample `json:"sample"`
			Verdict string           `json:"verdict"`
		}{s, m.Report().String()}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
}
