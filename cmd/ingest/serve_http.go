package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/internal/pathtable"
)

// mux returns serve's endpoints, each with a write deadline.
func (d *daemon) mux() http.Handler {
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
	return withWriteDeadline(mux)
}

// withWriteDeadline gives every response a write deadline before h runs:
// writeTimeout from now, and for the profiler, the time its seconds
// parameter asks for more, which must be at most maxProfileSeconds. The
// gates of /top and /metrics set deadlines of their own.
func withWriteDeadline(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		timeout := writeTimeout
		if strings.HasPrefix(r.URL.Path, "/debug/pprof/") {
			// pprof reads its parameters from the form: a POST body
			// could pass a seconds this check does not see. Only the
			// symbol lookup takes a POST, and it has no seconds.
			if r.Method != http.MethodGet && r.Method != http.MethodHead && r.URL.Path != "/debug/pprof/symbol" {
				w.Header().Set("Allow", "GET, HEAD")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			d, err := profileDuration(r.URL.Path, r.URL.Query())
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			timeout += d
		}
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout))
		h.ServeHTTP(w, r)
	})
}

// profileDuration returns how long the profiler's answer to path with
// query lasts, as net/http/pprof reads its seconds parameter, or an error
// when seconds is more than maxProfileSeconds.
func profileDuration(path string, query url.Values) (time.Duration, error) {
	var d time.Duration
	v := query.Get("seconds")
	switch path {
	case "/debug/pprof/profile":
		d = 30 * time.Second // pprof's default
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			d = time.Duration(min(n, maxProfileSeconds+1)) * time.Second
		}
	case "/debug/pprof/trace":
		d = time.Second // pprof's default
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			d = time.Duration(min(f, maxProfileSeconds+1) * float64(time.Second))
		}
	default: // a named profile: with seconds, a delta over that time
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			d = time.Duration(min(n, maxProfileSeconds+1)) * time.Second
		}
	}
	if d > maxProfileSeconds*time.Second {
		return 0, fmt.Errorf("seconds=%s: at most %d here", v, maxProfileSeconds)
	}
	return d, nil
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
	// The slot's own buffers: a client that stops reading holds up its
	// slot, not the other scrapes.
	d.store.WritePrometheusBuffer(ws.out, &ws.scrape)
}
