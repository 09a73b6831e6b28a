package main

import (
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flatheap/ingest/internal/udptest"
)

// TestServeSaturates sends body sizes of math.MaxInt64: the per-path sums
// stay at math.MaxInt64 instead of wrapping negative.
func TestServeSaturates(t *testing.T) {
	_, udpAddr, httpAddr, _ := startServe(t)
	line := `203.0.113.7 - - [26/Nov/2026:00:30:00 +0000] "GET /big HTTP/1.1" 200 9223372036854775807 "-" "-"`
	sendLines(t, udpAddr, line, line, line, line)
	scrapeWhenLines(t, httpAddr, 4)
	rows, body := getTop(t, "http://"+httpAddr+"/top")
	if len(rows) != 1 {
		t.Fatalf("%v: len(rows) = %d, want 1", body, len(rows))
	}
	if r := rows[0]; r.Path != "/big" || r.Requests != 4 || r.Bytes != math.MaxInt64 {
		t.Errorf("/top %+v, want /big with 4 requests of MaxInt64 bytes", rows)
	}
}

// TestServeStartLine checks that the start-up line names the allowed
// networks and the instance, which is also on ingest_build_info and the
// heap lines.
func TestServeStartLine(t *testing.T) {
	_, _, httpAddr, _, log := startServeLog(t, "--allow", " 10.0.0.0/8, ,127.0.0.1 ", "--instance", `web "1"`)
	line := log.find("msg=serving")
	if !strings.Contains(line, "allow=10.0.0.0/8,127.0.0.1/32") {
		t.Errorf("line = %q, want it to contain %q", line, "allow=10.0.0.0/8,127.0.0.1/32")
	}
	if !strings.Contains(line, `instance="web \"1\""`) {
		t.Errorf("line = %q, want it to contain %q", line, `instance="web \"1\""`)
	}
	m := scrape(t, httpAddr)
	found := false
	for k, v := range m {
		if strings.HasPrefix(k, "ingest_build_info{") {
			found = true
			if !strings.Contains(k, `instance="web \"1\""`) {
				t.Errorf("k = %q, want it to contain %q", k, `instance="web \"1\""`)
			}
			if !strings.Contains(k, `version="`) {
				t.Errorf("k = %q, want it to contain %q", k, `version="`)
			}
			if v != 1.0 {
				t.Errorf("v = %v, want 1.0", v)
			}
		}
	}
	if !found {
		t.Error("no ingest_build_info")
	}
	deadline := time.Now().Add(20 * time.Second)
	for log.find("msg=\"heap ") == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := log.find("msg=\"heap "); !strings.Contains(got, `instance="web \"1\""`) {
		t.Errorf("heap line %q, want it to name the instance %q", got, `instance="web \"1\""`)
	}

	// Without --allow: every source, and the default instance is the host
	// name and the UDP port.
	_, udpAddr, _, _, log := startServeLog(t)
	line = log.find("msg=serving")
	if !strings.Contains(line, "allow=all") {
		t.Errorf("line = %q, want it to contain %q", line, "allow=all")
	}
	host, _ := os.Hostname()
	_, port, _ := net.SplitHostPort(udpAddr)
	if !strings.Contains(line, "instance="+host+":"+port) {
		t.Errorf("line = %q, want it to contain %q", line, "instance="+host+":"+port)
	}
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

// wantUsageError runs serve on free loopback ports with args, and checks
// that it exits 2 with one line on stderr that contains want; it returns
// that stderr.
func wantUsageError(t *testing.T, want string, args ...string) string {
	t.Helper()
	code, stderr := runServeTimeout(t, append([]string{"--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"}, args...)...)
	if code != 2 {
		t.Errorf("%v: %s: code = %v, want 2", args, stderr, code)
	}
	if got := strings.Count(stderr, "\n"); got != 1 {
		t.Errorf("%v: %q: strings.Count(stderr, \"\\n\") = %v, want 1", args, stderr, got)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("%v: stderr = %q, want it to contain %q", args, stderr, want)
	}
	return stderr
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
	if err != nil {
		t.Fatal(err)
	}
	for _, readers := range []string{"1", "2"} {
		code, stderr := runServeTimeout(t, "--listen", held.LocalAddr().String(), "--http", "127.0.0.1:0", "--readers", readers)
		if code != 2 {
			t.Errorf("--readers %s: %s: code = %v, want 2", readers, stderr, code)
		}
		if !strings.Contains(stderr, "--reuse-port") {
			t.Errorf("--readers %s: stderr = %q, want it to contain %q", readers, stderr, "--reuse-port")
		}
		if got := strings.Count(stderr, "\n"); got != 1 {
			t.Errorf("%v: strings.Count(stderr, \"\\n\") = %v, want 1", stderr, got)
		}
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}

	// Two processes that both pass --reuse-port share the port; the
	// kernel spreads senders over them by address and port.
	addr := udptest.DeadAddr(t) // free a moment ago
	_, _, httpA, _ := startServe(t, "--listen", addr, "--reuse-port")
	_, _, httpB, _ := startServe(t, "--listen", addr, "--reuse-port", "--readers", "2")
	// A third without the flag is refused.
	code, stderr := runServeTimeout(t, "--listen", addr, "--http", "127.0.0.1:0")
	if code != 2 {
		t.Errorf("%v: code = %v, want 2", stderr, code)
	}
	if !strings.Contains(stderr, "--reuse-port") {
		t.Errorf("stderr = %q, want it to contain %q", stderr, "--reuse-port")
	}

	const senders, each = 64, 5
	for range senders {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		for range each {
			_, err := c.Write([]byte(serveLine("/a", 200)))
			if err != nil {
				t.Fatal(err)
			}
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
	if a+b != float64(senders*each) {
		t.Errorf("a+b = %v, want %v", a+b, float64(senders*each))
	}
	if a <= 0 {
		t.Errorf("the first process got a share: a = %v, want > 0", a)
	}
	if b <= 0 {
		t.Errorf("the second process got a share: b = %v, want > 0", b)
	}
}
