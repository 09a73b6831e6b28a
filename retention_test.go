//go:build !race

// The race detector changes what and how much is allocated, so the heap
// measurements in this file are made without it.

package ingest

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"
)

// retentionKeys bounds the daemon's per-path map in the retention runs,
// the way ExampleInterner does.
const retentionKeys = 10000

// retentionRun is a daemon that keeps per-path counts the way this library
// says to: a Server hands each line to a handler that interns the path and
// counts it in a map of at most retentionKeys keys.
type retentionRun struct {
	srv    *Server
	conn   *net.UDPConn // the sender's
	paths  *Interner
	mu     sync.Mutex
	counts map[string]int
	errc   chan error
	sent   int
	line   []byte
}

func startRetention(tb testing.TB) *retentionRun {
	tb.Helper()
	rr := &retentionRun{
		paths:  NewInterner(InternerConfig{}),
		counts: make(map[string]int, retentionKeys+1),
		errc:   make(chan error, 1),
	}
	srv, err := NewServer(Config{Handler: HandlerFunc(rr.serveLine)})
	if err != nil {
		tb.Fatalf("%v", err)
	}
	rr.srv = srv
	lc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatalf("%v", err)
	}
	go func() { rr.errc <- srv.Serve(context.Background(), lc) }()
	rr.conn, err = net.DialUDP("udp4", nil, lc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		tb.Fatalf("%v", err)
	}
	// Until Serve has set the socket up, its receive buffer is the
	// system's small default and drops are not counted.
	deadline := time.Now().Add(waitTimeout)
	for srv.Stats().ReceiveBuffer == 0 {
		if time.Now().After(deadline) {
			tb.Fatal("Serve did not start")
		}
		time.Sleep(time.Millisecond)
	}
	tb.Cleanup(func() {
		rr.conn.Close()
		srv.Close()
		select {
		case <-rr.errc:
		case <-time.After(waitTimeout):
			tb.Error("Serve did not return")
		}
	})
	return rr
}

func (rr *retentionRun) serveLine(r *Request) {
	key, ok := rr.paths.Lookup(r.Path)
	if !ok {
		key = rr.paths.Intern(r.Path)
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if _, kept := rr.counts[key]; !kept && len(rr.counts) >= retentionKeys {
		key = "<other>"
	}
	rr.counts[key]++
}

// send sends n lines whose 2 KiB paths are all distinct except that each
// is sent twice, 64 lines apart, so the Interner admits them and has to
// hold to its byte budget. It waits for the Server to catch up every 256
// datagrams, so the socket's buffer never overflows.
func (rr *retentionRun) send(tb testing.TB, n int) {
	tb.Helper()
	const pathLen = 2048
	const gap = 64
	for i := range n {
		id := rr.sent + i
		if i%(2*gap) >= gap {
			id -= gap // the second sighting of a path sent gap lines ago
		}
		rr.line = rr.line[:0]
		rr.line = append(rr.line, `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /`...)
		rr.line = fmt.Appendf(rr.line, "%016x/", id)
		for len(rr.line) < 52+pathLen {
			rr.line = append(rr.line, "abcdefghijklmnopqrstuvwxyz0123456789"...)
		}
		rr.line = rr.line[:52+pathLen]
		rr.line = append(rr.line, ` HTTP/1.1" 200 1534 "-" "curl/8.5.0"`...)
		_, err := rr.conn.Write(rr.line)
		if err != nil {
			tb.Fatalf("%v", err)
		}
		if (i+1)%256 == 0 || i == n-1 {
			rr.waitHandled(tb, uint64(rr.sent+i+1))
		}
	}
	rr.sent += n
}

// waitHandled waits until the Server has accounted for want datagrams.
func (rr *retentionRun) waitHandled(tb testing.TB, want uint64) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		st := rr.srv.Stats()
		if st.Lines+st.DroppedKernel+st.Truncated >= want {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the Server accounted for %d of %d datagrams: %+v", st.Lines+st.DroppedKernel+st.Truncated, want, st)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestRetentionBounded runs 200,000 lines with distinct 2 KiB paths (400
// MB of paths) through a Server and an Interner-keyed map and checks that
// the live heap grows by less than a fixed bound: the Interner's byte
// and entry budgets (8 MiB and 65,536 by default; paths over 512 bytes are
// stored in a shortened form, see Intern), its tables, and the map's 10,000
// keys. A daemon that
// kept its paths as strings, or kept views of its read buffers, would grow
// by hundreds of megabytes.
func TestRetentionBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 200,000 datagrams of 2 KiB")
	}
	rr := startRetention(t)
	rr.send(t, 2000) // warm up: the tables, the map, the buffers
	before := liveHeap()

	rr.send(t, 200_000)
	after := liveHeap()

	st := rr.srv.Stats()
	if st.Parsed < uint64(0.99*float64(rr.sent)) {
		t.Fatalf("%d of %d lines parsed; stats %+v", st.Parsed, rr.sent, st)
	}
	is := rr.paths.Stats()
	if is.Evictions == 0 {
		t.Fatalf("the Interner never reached its bound, so the test proves nothing: %+v", is)
	}
	rr.mu.Lock()
	keys := len(rr.counts)
	rr.mu.Unlock()
	if got, want := keys, retentionKeys+1; !reflect.DeepEqual(got, want) {
		t.Fatalf("the map should be full, with <other>: got %v, want %v", got, want)
	}

	const bound = 32 << 20
	growth := int64(after) - int64(before)
	t.Logf("live heap %d -> %d bytes (%+d) after %d lines; interner %+v", before, after, growth, rr.sent, is)
	if growth >= bound {
		t.Fatalf("live heap grew by %d bytes, bound %d", growth, bound)
	}
}

// BenchmarkRetention sends b.N lines with distinct 2 KiB paths (each sent
// twice) through a Server and an interned per-path map, and reports the
// live heap growth per line: it falls toward 0 as b.N grows past what the
// bounds hold, where a daemon keeping its paths would stay at 2 KiB or more.
func BenchmarkRetention(b *testing.B) {
	rr := startRetention(b)
	rr.send(b, 2000)
	before := liveHeap()
	b.ResetTimer()
	rr.send(b, b.N)
	b.StopTimer()
	after := liveHeap()
	b.ReportMetric(float64(int64(after)-int64(before))/float64(b.N), "heap-B/line")
	b.ReportMetric(float64(rr.srv.Stats().Parsed)/b.Elapsed().Seconds(), "lines/s")
}
