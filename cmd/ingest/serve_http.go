package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"strconv"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/internal/pathtable"
)

// mux returns serve's endpoints.
func (d *daemon) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", d.serveMetrics)
	mux.HandleFunc("GET /top", d.serveTop)
	mux.HandleFunc("GET /routes", d.serveRoutes)
	mux.HandleFunc("GET /series", d.serveSeries)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/debug/pprof/", d.gated(pprof.Index))
	mux.HandleFunc("/debug/pprof/cmdline", d.gated(pprof.Cmdline))
	mux.HandleFunc("/debug/pprof/profile", d.gated(pprof.Profile))
	mux.HandleFunc("/debug/pprof/symbol", d.gated(pprof.Symbol))
	mux.HandleFunc("/debug/pprof/trace", d.gated(pprof.Trace))
	return mux
}

// gated runs h when the profiler's gate has a free slot, and answers 503
// otherwise.
func (d *daemon) gated(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ws := d.pprofGate.acquire(w, r); ws != nil {
			defer d.pprofGate.release(ws)
			h(w, r)
		}
	}
}

// maxTop bounds /top's n.
const maxTop = 10000

func (d *daemon) serveTop(w http.ResponseWriter, r *http.Request) {
	n := 20
	if s := r.URL.Query().Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > maxTop {
			http.Error(w, fmt.Sprintf("n must be a number from 0 to %d", maxTop), http.StatusBadRequest)
			return
		}
		n = v
	}
	ws := d.topGate.acquire(w, r)
	if ws == nil {
		return
	}
	defer d.topGate.release(ws)
	rows, other := d.table.Top(ws.rows, n)
	ws.rows = rows
	w.Header().Set("Content-Type", "application/json")
	ws.out.WriteString("[\n")
	first := true
	for i := range rows {
		ws.line = appendTopRow(ws.line[:0], rows[i].Key, &rows[i].Value, first)
		first = false
		if _, err := ws.out.Write(ws.line); err != nil {
			return // the client went away
		}
	}
	if other.Requests > 0 {
		ws.line = appendTopRow(ws.line[:0], pathtable.Other, &other, first)
		ws.out.Write(ws.line)
	}
	ws.out.WriteString("\n]\n")
}

// appendTopRow appends one object of /top's JSON array, preceded by a
// comma and a newline unless it is the first.
func appendTopRow(dst []byte, path string, st *pathtable.Stat, first bool) []byte {
	if !first {
		dst = append(dst, ",\n"...)
	}
	dst = append(dst, `{"path":`...)
	dst = ingest.AppendJSONString(dst, path)
	dst = appendJSONInt(dst, `,"requests":`, st.Requests)
	dst = appendJSONInt(dst, `,"bytes":`, st.Bytes)
	dst = appendJSONInt(dst, `,"status_1xx":`, st.Status[1])
	dst = appendJSONInt(dst, `,"status_2xx":`, st.Status[2])
	dst = appendJSONInt(dst, `,"status_3xx":`, st.Status[3])
	dst = appendJSONInt(dst, `,"status_4xx":`, st.Status[4])
	dst = appendJSONInt(dst, `,"status_5xx":`, st.Status[5])
	dst = appendJSONInt(dst, `,"status_other":`, st.Status[0])
	return append(dst, '}')
}

// appendJSONInt appends key, which holds the JSON punctuation around the
// name, and v.
func appendJSONInt(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(dst, key...), v, 10)
}

func (d *daemon) serveMetrics(w http.ResponseWriter, r *http.Request) {
	ws := d.metricsGate.acquire(w, r)
	if ws == nil {
		return
	}
	defer d.metricsGate.release(ws)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	p := promWriter{w: ws.out, buf: ws.line[:0]}
	d.writeMetrics(&p)
	ws.line = p.buf
	d.store.WritePrometheus(ws.out)
}
