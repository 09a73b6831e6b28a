package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flatheap/ingest/internal/pathtable"
)

// procStatusKiB returns a "VmXxx:" figure of /proc/pid/status in KiB.
func procStatusKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err, line)
			return v
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// httpBoundMiB is the peak RSS, in MiB, that serve must stay under while
// 200 clients ask for /top?n=10000 and 200 for /metrics at once, with a
// full table of 2 KiB paths. It is the figure the README quotes. Under the
// race detector the bound is memoryFactor times larger.
const httpBoundMiB = 64

// TestServeHTTPBounded fills the path table with 10,000 paths of 2 KiB,
// and the route store with its 9,500 own series, and sends 200 concurrent /top?n=10000 and 200 concurrent /metrics. Every
// request is answered, 200 with the whole table or 503 with Retry-After,
// and serve's peak RSS stays under httpBoundMiB.
func TestServeHTTPBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 10,000 paths and sends 400 requests of 1.5 MB: several seconds")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read the child's RSS")
	}
	cmd, udpAddr, httpAddr, _ := startServe(t, "--heap-interval", "1h")
	pid := cmd.Process.Pid

	// Each path three times: the Interner stores a path from its second
	// sighting. 10,500 paths fill the 10,000 entries.
	const paths = 10500
	conn, err := net.Dial("udp", udpAddr)
	require.NoError(t, err)
	defer conn.Close()
	filler := strings.Repeat("x", 2048)
	sent := 0
	for i := 0; i < paths; i += 250 {
		for rep := range 3 {
			for j := i; j < min(i+250, paths); j++ {
				// A literal first segment: each path is a route of
				// its own, so the route store fills its 10,000 series.
				p := fmt.Sprintf("/p%06d/%s", j, filler[:2040])
				_, err := conn.Write([]byte(serveLine(p, 200+rep)))
				require.NoError(t, err)
				sent++
			}
		}
		// Let the reader keep up, so the kernel drops nothing.
		m := scrapeWhenLines(t, httpAddr, float64(sent))
		require.Equal(t, float64(sent), m["ingest_lines_total"], "kernel drops %v", m[`ingest_dropped_total{reason="kernel"}`])
	}
	m := scrape(t, httpAddr)
	require.Equal(t, 10000.0, m["ingest_paths"], "a full table")
	// The store keeps a twentieth of its 10,000 keys for overflow series,
	// which only a few (vhost, method, status) fill here.
	require.GreaterOrEqual(t, m["ingest_series"], 9500.0, "a full route store")
	require.Positive(t, m["ingest_series_overflow_total"])
	baseRSS := procStatusKiB(t, pid, "VmRSS")

	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: -1, DisableKeepAlives: true},
		Timeout:   2 * time.Minute,
	}
	type result struct {
		url        string
		code       int
		retryAfter string
		body       []byte
		size       int64
		err        error
	}
	const clients = 200
	results := make(chan result, 2*clients)
	var wg sync.WaitGroup
	var keepOne sync.Once
	for i := range 2 * clients {
		url := "http://" + httpAddr + "/metrics"
		if i%2 == 0 {
			url = "http://" + httpAddr + "/top?n=10000"
		}
		wg.Go(func() {
			r := result{url: url}
			resp, err := client.Get(url)
			if err != nil {
				r.err = err
				results <- r
				return
			}
			defer resp.Body.Close()
			r.code, r.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
			// One whole /top is kept to be decoded; the others are counted.
			var keep bool
			if r.code == http.StatusOK && strings.Contains(url, "/top") {
				keepOne.Do(func() { keep = true })
			}
			if keep {
				r.body, r.err = io.ReadAll(resp.Body)
				r.size = int64(len(r.body))
			} else {
				r.size, r.err = io.Copy(io.Discard, resp.Body)
			}
			results <- r
		})
	}
	wg.Wait()
	close(results)
	peakRSS := procStatusKiB(t, pid, "VmHWM")

	ok := map[string]int{}
	busy := map[string]int{}
	var sizes = map[string]int64{}
	for r := range results {
		require.NoError(t, r.err, r.url)
		kind := "/metrics"
		if strings.Contains(r.url, "/top") {
			kind = "/top"
		}
		switch r.code {
		case http.StatusOK:
			ok[kind]++
			if sizes[kind] == 0 {
				sizes[kind] = r.size
			}
			if kind == "/top" {
				// Every whole answer has the same table (no traffic now).
				assert.Equal(t, sizes[kind], r.size, "a /top answer's size")
			}
			if r.body != nil {
				var rows []topRow
				require.NoError(t, json.Unmarshal(r.body, &rows))
				require.Len(t, rows, 10001, "10,000 paths and <other>")
				assert.Equal(t, pathtable.Other, rows[10000].Path)
			}
		case http.StatusServiceUnavailable:
			busy[kind]++
			assert.Equal(t, "1", r.retryAfter, "a 503 has Retry-After")
		default:
			t.Errorf("%s: status %d", r.url, r.code)
		}
	}
	t.Logf("answered 200: %v, 503: %v; sizes %v; RSS %d KiB after filling, peak %d KiB",
		ok, busy, sizes, baseRSS, peakRSS)
	assert.Positive(t, ok["/top"])
	assert.Positive(t, ok["/metrics"])
	assert.Equal(t, clients, ok["/top"]+busy["/top"])
	assert.Equal(t, clients, ok["/metrics"]+busy["/metrics"])
	assert.Less(t, peakRSS, int64(memoryFactor*httpBoundMiB<<10), "peak RSS in KiB")
}

// TestServeSaturates sends body sizes of math.MaxInt64: the per-path sums
// stay at math.MaxInt64 instead of wrapping negative.
func TestServeSaturates(t *testing.T) {
	_, udpAddr, httpAddr, _ := startServe(t)
	line := `203.0.113.7 - - [26/Nov/2026:00:30:00 +0000] "GET /big HTTP/1.1" 200 9223372036854775807 "-" "-"`
	sendLines(t, udpAddr, line, line, line, line)
	scrapeWhenLines(t, httpAddr, 4)
	rows, body := getTop(t, "http://"+httpAddr+"/top")
	require.Len(t, rows, 2, body)
	assert.Equal(t, "/big", rows[0].Path)
	assert.Equal(t, int64(3), rows[0].Requests)
	assert.Equal(t, int64(math.MaxInt64), rows[0].Bytes)
	assert.Equal(t, int64(math.MaxInt64), rows[1].Bytes, "<other>'s one line")
}

// TestServeStartLine checks that the start-up line names the allowed
// networks and the instance, which is also on ingest_build_info and the
// heap lines.
func TestServeStartLine(t *testing.T) {
	_, _, httpAddr, _, log := startServeLog(t, "--allow", " 10.0.0.0/8, ,127.0.0.1 ", "--instance", `web "1"`)
	line := log.find("msg=serving")
	assert.Contains(t, line, "allow=10.0.0.0/8,127.0.0.1/32")
	assert.Contains(t, line, `instance="web \"1\""`)
	m := scrape(t, httpAddr)
	found := false
	for k, v := range m {
		if strings.HasPrefix(k, "ingest_build_info{") {
			found = true
			assert.Contains(t, k, `instance="web \"1\""`)
			assert.Contains(t, k, `version="`)
			assert.Equal(t, 1.0, v)
		}
	}
	assert.True(t, found, "ingest_build_info")
	deadline := time.Now().Add(20 * time.Second)
	for log.find("msg=\"heap ") == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	assert.Contains(t, log.find("msg=\"heap "), `instance="web \"1\""`)

	// Without --allow: every source, and the default instance is the host
	// name and the UDP port.
	_, udpAddr, _, _, log := startServeLog(t)
	line = log.find("msg=serving")
	assert.Contains(t, line, "allow=all")
	host, _ := os.Hostname()
	_, port, _ := net.SplitHostPort(udpAddr)
	assert.Contains(t, line, "instance="+host+":"+port)
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := c.LocalAddr().String()
	require.NoError(t, c.Close())
	return addr
}

// runServeTimeout runs runServe in this process and returns its status and
// stderr; it fails the test if runServe is still running after 20 seconds,
// as it would be if it had started serving.
func runServeTimeout(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- runServe(args, nil, io.Discard, &stderr) }()
	select {
	case code := <-done:
		return code, stderr.String()
	case <-time.After(20 * time.Second):
		t.Fatalf("serve %v started instead of failing", args)
		return 0, ""
	}
}

// TestServeReusePort checks that a port held by another process is not
// shared without --reuse-port, even with --readers 2, and is with it.
func TestServeReusePort(t *testing.T) {
	if !reusePortSupported {
		t.Skip("--reuse-port needs Linux")
	}
	// A port held by a socket that allows sharing, as another serve
	// --readers 2 holds it.
	held, err := listenReusePort(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	for _, readers := range []string{"1", "2"} {
		code, stderr := runServeTimeout(t, "--listen", held.LocalAddr().String(), "--http", "127.0.0.1:0", "--readers", readers)
		assert.Equal(t, 2, code, "--readers %s: %s", readers, stderr)
		assert.Contains(t, stderr, "--reuse-port", "--readers %s", readers)
		assert.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
	}
	require.NoError(t, held.Close())

	// Two processes that both pass --reuse-port share the port; the
	// kernel spreads senders over them by address and port.
	addr := freeUDPPort(t)
	_, _, httpA, _ := startServe(t, "--listen", addr, "--reuse-port")
	_, _, httpB, _ := startServe(t, "--listen", addr, "--reuse-port", "--readers", "2")
	// A third without the flag is refused.
	code, stderr := runServeTimeout(t, "--listen", addr, "--http", "127.0.0.1:0")
	assert.Equal(t, 2, code, stderr)
	assert.Contains(t, stderr, "--reuse-port")

	const senders, each = 64, 5
	for range senders {
		c, err := net.Dial("udp", addr)
		require.NoError(t, err)
		for range each {
			_, err := c.Write([]byte(serveLine("/a", 200)))
			require.NoError(t, err)
		}
		c.Close()
	}
	deadline := time.Now().Add(20 * time.Second)
	var a, b float64
	for time.Now().Before(deadline) {
		a, b = scrape(t, httpA)["ingest_lines_total"], scrape(t, httpB)["ingest_lines_total"]
		if a+b >= senders*each {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	assert.Equal(t, float64(senders*each), a+b)
	assert.Positive(t, a, "the first process got a share")
	assert.Positive(t, b, "the second process got a share")
}

// TestGate checks that a gate runs at most its slots at once, answers the
// rest 503 with Retry-After after its wait, and reuses its workspaces.
func TestGate(t *testing.T) {
	g := newGate(1, 50*time.Millisecond, time.Second)
	req := httptest.NewRequest("GET", "/top", nil)
	w1 := httptest.NewRecorder()
	ws := g.acquire(w1, req)
	require.NotNil(t, ws)
	ws.out.WriteString("hello")

	w2 := httptest.NewRecorder()
	start := time.Now()
	assert.Nil(t, g.acquire(w2, req))
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "waited before giving up")
	assert.Equal(t, http.StatusServiceUnavailable, w2.Code)
	assert.Equal(t, "1", w2.Header().Get("Retry-After"))

	// A request whose client went away gives up at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w3 := httptest.NewRecorder()
	assert.Nil(t, g.acquire(w3, req.WithContext(ctx)))
	assert.Equal(t, http.StatusServiceUnavailable, w3.Code)

	ws.rows = append(ws.rows, pathtable.Row{Path: "/a"})
	g.release(ws)
	assert.Equal(t, "hello", w1.Body.String(), "release flushes")
	w4 := httptest.NewRecorder()
	again := g.acquire(w4, req)
	require.Same(t, ws, again)
	assert.Empty(t, again.rows)
	assert.Equal(t, "", again.rows[:1][0].Path, "release drops the rows' strings")
	g.release(again)
}

// TestLimitListener checks that at most max connections are accepted at
// once and that closing one lets the next in.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := newLimitListener(inner, 1)
	defer l.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 2 {
		c, err := net.Dial("tcp", inner.Addr().String())
		require.NoError(t, err)
		defer c.Close()
	}
	first := <-accepted
	select {
	case <-accepted:
		t.Fatal("a second connection was accepted while the first is open")
	case <-time.After(50 * time.Millisecond):
	}
	first.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the second connection was not accepted after the first closed")
	}
}
