package main

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/heapwatch"
	"github.com/flatheap/ingest/internal/pathtable"
	"github.com/valyala/bytebufferpool"
)

// naiveReceiver reproduces the usual daemon's pattern faithfully: a
// string copy of each datagram, a strings-based parse into a struct of
// string fields, and per-path statistics in a plain map keyed by the parsed
// path. Every key and every kept entry is a substring of its datagram's
// string, so the map pins whole datagrams, and it grows with every distinct
// path it sees.
type naiveReceiver struct {
	lines, keys atomic.Int64
}

// naiveEntry is the usual daemon's struct of string fields.
type naiveEntry struct {
	RemoteAddr, RemoteUser, Time  string
	Method, Path, Query, Protocol string
	Status, BodyBytes             int
	Referer, UserAgent            string
}

type naiveStat struct {
	Count, Bytes int
	Last         naiveEntry
}

func (nr *naiveReceiver) run(ctx context.Context, conn *net.UDPConn) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	stats := make(map[string]*naiveStat)
	buf := make([]byte, 65536)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return closedByContext(ctx, err)
		}
		msg := string(buf[:n])
		for _, line := range strings.Split(msg, "\n") {
			e, ok := parseNaive(line)
			if !ok {
				continue
			}
			st := stats[e.Path]
			if st == nil {
				st = new(naiveStat)
				stats[e.Path] = st
				nr.keys.Add(1)
			}
			st.Count++
			st.Bytes += e.BodyBytes
			st.Last = e
			nr.lines.Add(1)
		}
	}
}

func (nr *naiveReceiver) counts() (int64, int64) { return nr.lines.Load(), nr.keys.Load() }

func (*naiveReceiver) track(*heapwatch.Monitor) error { return nil }

// parseNaive parses a combined line, after an optional syslog header, the
// way a quick daemon does: with strings.Index, strings.Fields and strconv.
func parseNaive(line string) (naiveEntry, bool) {
	var e naiveEntry
	line = strings.TrimSuffix(line, "\r")
	if strings.HasPrefix(line, "<") {
		i := strings.Index(line, ": ")
		if i < 0 {
			return e, false
		}
		line = line[i+2:]
	}
	head, rest, ok := strings.Cut(line, " [")
	if !ok {
		return e, false
	}
	f := strings.Fields(head)
	if len(f) < 3 {
		return e, false
	}
	e.RemoteAddr, e.RemoteUser = f[0], f[2]
	e.Time, rest, ok = strings.Cut(rest, "] \"")
	if !ok {
		return e, false
	}
	request, rest, ok := strings.Cut(rest, "\" ")
	if !ok {
		return e, false
	}
	if rf := strings.Fields(request); len(rf) == 3 {
		e.Method, e.Path, e.Protocol = rf[0], rf[1], rf[2]
		e.Path, e.Query, _ = strings.Cut(e.Path, "?")
	}
	f = strings.Fields(rest)
	if len(f) < 2 {
		return e, false
	}
	var err error
	if e.Status, err = strconv.Atoi(f[0]); err != nil {
		return e, false
	}
	e.BodyBytes, _ = strconv.Atoi(f[1])
	if q := strings.Split(rest, "\""); len(q) >= 4 {
		e.Referer, e.UserAgent = q[1], q[3]
	}
	return e, true
}

// viewsReceiver is the naive "optimisation" of the naive daemon: read into
// pooled buffers, parse without copying, and use the zero-copy path view as
// the map key. Returning a buffer whose bytes back a key would let the next
// datagram overwrite the key, corrupting the map, so a buffer that gave a
// new key is kept out of the pool: every distinct path now pins a whole
// 64 KiB receive buffer.
type viewsReceiver struct {
	lines, keys atomic.Int64
}

func (vr *viewsReceiver) run(ctx context.Context, conn *net.UDPConn) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var pool bytebufferpool.Pool
	var p ingest.Parser
	var r ingest.Request
	stats := make(map[string]*pathtable.Stat)
	for {
		bb := pool.Get()
		if cap(bb.B) < 65536 {
			bb.B = make([]byte, 65536)
		}
		bb.B = bb.B[:cap(bb.B)]
		n, _, err := conn.ReadFrom(bb.B)
		if err != nil {
			return closedByContext(ctx, err)
		}
		pinned := false
		for line := range bytes.SplitSeq(bb.B[:n], []byte("\n")) {
			if err := p.Parse(&r, line); err != nil {
				continue
			}
			// The anti-pattern under test: a string that aliases the
			// pooled buffer, kept as a map key.
			key := unsafe.String(unsafe.SliceData(r.Path), len(r.Path))
			st := stats[key]
			if st == nil {
				st = new(pathtable.Stat)
				stats[key] = st
				pinned = true
				vr.keys.Add(1)
			}
			st.Add(&r)
			vr.lines.Add(1)
		}
		if !pinned {
			pool.Put(bb)
		}
	}
}

func (vr *viewsReceiver) counts() (int64, int64) { return vr.lines.Load(), vr.keys.Load() }

func (*viewsReceiver) track(*heapwatch.Monitor) error { return nil }
