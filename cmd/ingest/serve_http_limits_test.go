//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestServeProfileSecondsCapped: the profiler's seconds parameter is at
// most maxProfileSeconds; a longer profile is refused at once, a POST that
// could hide one is refused, and a short one runs.
func TestServeProfileSecondsCapped(t *testing.T) {
	_, _, httpAddr, _ := startServe(t)
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+httpAddr+path, strings.NewReader("seconds=3600"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{
		fmt.Sprintf("/debug/pprof/profile?seconds=%d", maxProfileSeconds+1),
		"/debug/pprof/profile?seconds=3600",
		"/debug/pprof/trace?seconds=60.5",
		"/debug/pprof/heap?seconds=3600",
		"/debug/pprof/allocs?seconds=99999999999999999",
	} {
		if code, body := get("GET", path); code != http.StatusBadRequest || !strings.Contains(body, "at most 60") {
			t.Errorf("GET %s: %d %q, want 400 naming the cap", path, code, body)
		}
	}
	if code, _ := get("POST", "/debug/pprof/profile"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /debug/pprof/profile: %d, want 405", code)
	}
	if code, body := get("GET", "/debug/pprof/trace?seconds=0.1"); code != http.StatusOK || len(body) == 0 {
		t.Errorf("GET a short trace: %d, %d bytes", code, len(body))
	}
	if code, _ := get("GET", "/debug/pprof/heap?seconds=1"); code != http.StatusOK {
		t.Errorf("GET a one-second delta heap profile: %d", code)
	}
	var stdout, stderr bytes.Buffer
	runServe([]string{"-h"}, nil, &stdout, &stderr)
	if !strings.Contains(stderr.String(), "seconds=N at most 60") {
		t.Errorf("serve -h does not give the cap of the profiler's seconds")
	}
}

// dialSlowReader connects to addr with a tiny receive buffer and segment
// size: a client that reads nothing then holds up whatever writes to it
// once about 150 KiB are in the socket buffers. (With loopback's 64 KiB
// segments, the kernel would grow the server's send buffer to 4 MiB.)
func dialSlowReader(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096); serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, 536)
			}
		})
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// tcpState returns the kernel's state of c (unix.BPF_TCP_ESTABLISHED...)
// and the bytes waiting in its receive queue.
func tcpState(t *testing.T, c *net.TCPConn) (state uint8, queued int) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var serr error
	rc.Control(func(fd uintptr) {
		if info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); serr == nil {
			queued, serr = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
		}
	})
	if serr != nil {
		t.Fatal(serr)
	}
	return info.State, queued
}

// TestServeHTTPWriteDeadline: a client that sends requests and reads none
// of the answers is cut off once a write has waited writeTimeout, so it
// cannot hold a connection (one of maxHTTPConns) for ever. /routes answers
// about 16 KiB to a request of 8 KiB: pipelined requests fill the socket
// buffers.
func TestServeHTTPWriteDeadline(t *testing.T) {
	_, _, httpAddr, _ := startServe(t)
	c := dialSlowReader(t, httpAddr)
	req := []byte("GET /routes?path=/" + strings.Repeat("a", maxRoutesPath-1) + " HTTP/1.1\r\nHost: ingest\r\n\r\n")
	// The writes block once serve stops reading: they run on their own,
	// bounded, and end when the connection does.
	wrote := make(chan int, 1)
	go func() {
		n := 0
		c.SetWriteDeadline(time.Now().Add(writeTimeout + promWait))
		for range 4096 {
			if _, err := c.Write(req); err != nil {
				break
			}
			n++
		}
		wrote <- n
	}()
	start := time.Now()
	deadline := start.Add(writeTimeout + promWait)
	for {
		state, queued := tcpState(t, c)
		if state != unix.BPF_TCP_ESTABLISHED {
			t.Logf("serve closed the connection after %v (state %d, %d bytes unread)", time.Since(start), state, queued)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the connection of a client that reads nothing is still open after %v (%d bytes unread)", time.Since(start), queued)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := time.Since(start); d < writeTimeout-time.Second {
		t.Errorf("closed after %v, before the write deadline (%v)", d, writeTimeout)
	}
	c.Close()
	n := <-wrote
	t.Logf("wrote %d requests", n)
}

// TestServeMetricsSlowReader: a /metrics client that stops reading holds up
// its own scrape only. With one such client connected for about 10 s, a
// real Prometheus scrapes serve every second and every scrape succeeds.
// The route store holds 200 series (about 750 KiB of /metrics), far more
// than the socket buffers take.
func TestServeMetricsSlowReader(t *testing.T) {
	prometheus, _ := needPrometheus(t)
	_, udpAddr, httpAddr, _ := startServe(t, "--log-format", scaleLogFormat, "--heap-interval", "1h")
	const routes = 200
	var lines []string
	for i := range routes {
		// Three of each, so that every route has a series of its own.
		for range 3 {
			lines = append(lines, `203.0.113.7 - - [26/Nov/2026:00:30:00 +0000] "GET /p`+fmt.Sprintf("%06d", i)+
				`/orders HTTP/1.1" 200 100 "-" "curl/8.5.0" shop.example 0.003 "0.002"`)
		}
	}
	sendLines(t, udpAddr, lines...)
	deadline := time.Now().Add(promWait)
	for {
		m := scrape(t, httpAddr)
		if m["ingest_series"] >= routes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest_series = %v, ingest_lines_total = %v; want %d series", m["ingest_series"], m["ingest_lines_total"], routes)
		}
		time.Sleep(promPoll)
	}
	_, body := getBody(t, "http://"+httpAddr+"/metrics")
	if len(body) < 512<<10 {
		t.Fatalf("/metrics is %d bytes: too small to fill the socket buffers", len(body))
	}

	// Prometheus first: the slow client's 30 s (responseWriteTimeout)
	// start once it is ready.
	prom := startPrometheus(t, prometheus, []string{httpAddr})
	c := dialSlowReader(t, httpAddr)
	if _, err := c.Write([]byte("GET /metrics HTTP/1.1\r\nHost: ingest\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(promWait)
	for {
		if _, queued := tcpState(t, c); queued > 0 {
			break // the answer has begun
		}
		if time.Now().After(deadline) {
			t.Fatal("no answer to the slow client's request")
		}
		time.Sleep(promPoll)
	}

	start := time.Now()
	seen := make(map[time.Time]bool)
	deadline = start.Add(10*time.Second + promWait)
	for len(seen) < 10 || time.Since(start) < 10*time.Second {
		if tg, ok := prom.targets(t)[httpAddr]; ok && tg.LastScrape.After(start) && !seen[tg.LastScrape] {
			seen[tg.LastScrape] = true
			if tg.Health != "up" {
				t.Errorf("scrape at %v: %s: %s", tg.LastScrape, tg.Health, tg.LastError)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d scrapes in %v, want 10", len(seen), time.Since(start))
		}
		time.Sleep(promPoll)
	}
	window := fmt.Sprintf("[%ds]", int(time.Since(start).Seconds()))
	ups := prom.scalar(t, "count_over_time(up"+window+")")
	minUp := prom.scalar(t, "min_over_time(up"+window+")")
	t.Logf("over %s: %v scrapes, min(up) %v; /metrics is %d bytes", window, ups, minUp, len(body))
	if ups < 10 || minUp != 1 {
		t.Errorf("over %s: %v scrapes and min(up) = %v, want at least 10 and 1", window, ups, minUp)
	}
	// The slow client was held up all along: connected, with a part of
	// the answer.
	if state, queued := tcpState(t, c); state != unix.BPF_TCP_ESTABLISHED || queued >= len(body) {
		t.Errorf("the slow client: state %d, %d bytes queued of %d; want it connected and held up", state, queued, len(body))
	}
}
