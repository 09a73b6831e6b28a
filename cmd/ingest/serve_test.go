package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveLine returns a combined line for path with the given status.
func serveLine(path string, status int) string {
	return `203.0.113.7 - - [26/Nov/2026:00:30:00 +0000] "GET ` + path + ` HTTP/1.1" ` +
		strconv.Itoa(status) + ` 100 "-" "curl/8.5.0"`
}

// startServe runs "ingest serve" in a child process (the test binary, see
// TestMain) on ephemeral ports and returns it with the addresses it logged.
func startServe(t *testing.T, args ...string) (cmd *exec.Cmd, udpAddr, httpAddr string, stdout *bytes.Buffer) {
	t.Helper()
	cmd, udpAddr, httpAddr, stdout, _ = startServeLog(t, args...)
	return
}

// serveLog collects a child's stderr lines.
type serveLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *serveLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

// find returns the first line that contains sub, or "".
func (l *serveLog) find(sub string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			return s
		}
	}
	return ""
}

// startServeLog is startServe that also returns the child's log lines.
// The --listen and --http given in args replace the ephemeral ones.
func startServeLog(t *testing.T, args ...string) (cmd *exec.Cmd, udpAddr, httpAddr string, stdout *bytes.Buffer, log *serveLog) {
	t.Helper()
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--heap-interval", "200ms", "--profile-dir", t.TempDir() + "/profiles"}, args...)
	cmd = exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
	stdout = new(bytes.Buffer)
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	log = new(serveLog)
	serving := regexp.MustCompile(`msg=serving udp=(\S+) http=(\S+)`)
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			log.add(sc.Text())
			if m := serving.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m
				sent = true
			}
		}
	}()
	select {
	case m := <-found:
		return cmd, m[1], m[2], stdout, log
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not log its addresses")
	}
	return
}

// scrape returns /metrics as a map from series to value.
func scrape(t *testing.T, httpAddr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		out[line[:i]] = v
	}
	return out
}

// scrapeWhenLines scrapes /metrics until ingest_lines_total reaches lines,
// for at most 20 seconds, and returns the last scrape.
func scrapeWhenLines(t *testing.T, httpAddr string, lines float64) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := scrape(t, httpAddr)
		if m["ingest_lines_total"] >= lines || time.Now().After(deadline) {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sendLines sends each of datagrams to udpAddr as a datagram of its own
// (a datagram may hold several lines).
func sendLines(t *testing.T, udpAddr string, datagrams ...string) {
	t.Helper()
	conn, err := net.Dial("udp", udpAddr)
	require.NoError(t, err)
	defer conn.Close()
	for _, d := range datagrams {
		_, err := conn.Write([]byte(d))
		require.NoError(t, err)
	}
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// topRow is one row of /top's JSON answer: the fields the tests read.
type topRow struct {
	Path      string `json:"path"`
	Requests  int64  `json:"requests"`
	Bytes     int64  `json:"bytes"`
	Status2xx int64  `json:"status_2xx"`
	Status4xx int64  `json:"status_4xx"`
}

// getTop fetches url, a /top address, and returns its rows and the body;
// it fails the test unless the answer is a 200 with a JSON array of rows.
func getTop(t *testing.T, url string) ([]topRow, string) {
	t.Helper()
	code, body := getBody(t, url)
	require.Equal(t, http.StatusOK, code, body)
	var rows []topRow
	require.NoError(t, json.Unmarshal([]byte(body), &rows), body)
	return rows, body
}

// TestServeEndToEnd runs the daemon, sends known good and bad lines,
// checks /metrics and /top exactly, stops it with SIGTERM and checks the
// exit status and the final counts.
func TestServeEndToEnd(t *testing.T) {
	cmd, udpAddr, httpAddr, stdout := startServe(t, "--max-paths", "2")

	// Paths are kept from their second sighting (the Interner's
	// admission), so each first request is counted under <other>; /c is
	// seen once and /d comes after the table is full.
	var datagrams []string
	for range 6 {
		datagrams = append(datagrams, serveLine("/a?x=1", 200))
	}
	for range 3 {
		datagrams = append(datagrams, serveLine("/b", 404))
	}
	datagrams = append(datagrams, serveLine("/c", 500))
	datagrams = append(datagrams, serveLine("/d", 301), serveLine("/d", 301))
	// One datagram with two lines, one of them bad.
	datagrams = append(datagrams, serveLine("/a", 200)+"\n"+serveLine("/a", 2000))
	datagrams = append(datagrams, `203.0.113.7 - - [26/Nov/2026:25:30:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`)
	datagrams = append(datagrams, "garbage")

	sendLines(t, udpAddr, datagrams...)

	const lines = 16
	m := scrapeWhenLines(t, httpAddr, lines)
	want := map[string]float64{
		"ingest_datagrams_total":                            float64(len(datagrams)),
		"ingest_lines_total":                                lines,
		"ingest_parsed_total":                               13,
		`ingest_parse_errors_total{reason="status"}`:        1,
		`ingest_parse_errors_total{reason="time"}`:          1,
		`ingest_parse_errors_total{reason="missing_field"}`: 1,
		`ingest_parse_errors_total{reason="bytes"}`:         0,
		"ingest_truncated_total":                            0,
		`ingest_dropped_total{reason="kernel"}`:             0,
		`ingest_dropped_total{reason="queue_full"}`:         0,
		"ingest_handler_panics_total":                       0,
		"ingest_paths":                                      2,
	}
	for k, v := range want {
		assert.Equal(t, v, m[k], k)
	}
	for _, k := range []string{"ingest_intern_hits_total", "ingest_intern_misses_total", "ingest_intern_evictions_total",
		"ingest_intern_entries", "ingest_heap_live_bytes", "ingest_heap_rss_bytes", `ingest_bytes_total`} {
		assert.Contains(t, m, k)
	}
	// The live heap is 0 until the first GC ends; RSS and goroutines are
	// known at once.
	assert.Positive(t, m["ingest_heap_rss_bytes"])
	assert.Positive(t, m["ingest_heap_goroutines"])
	assert.Equal(t, 1.0, m[`ingest_heap_growth{kind="unknown"}`]+m[`ingest_heap_growth{kind="flat"}`])
	assert.Equal(t, 3.0, m["ingest_intern_entries"], "/a, /b and /d are stored")

	top, body := getTop(t, "http://"+httpAddr+"/top?n=10")
	require.Len(t, top, 3, body)
	assert.Equal(t, "/a", top[0].Path)
	assert.Equal(t, int64(6), top[0].Requests) // 7 requests, the first under <other>
	assert.Equal(t, int64(6), top[0].Status2xx)
	assert.Equal(t, "/b", top[1].Path)
	assert.Equal(t, int64(2), top[1].Requests)
	assert.Equal(t, int64(2), top[1].Status4xx)
	assert.Equal(t, "<other>", top[2].Path)
	assert.Equal(t, int64(5), top[2].Requests) // first /a, /b, /c and /d; the second /d
	code, _ := getBody(t, "http://"+httpAddr+"/top?n=x")
	assert.Equal(t, http.StatusBadRequest, code)

	code, body = getBody(t, "http://"+httpAddr+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)
	code, _ = getBody(t, "http://"+httpAddr+"/debug/pprof/")
	assert.Equal(t, http.StatusOK, code)

	// SIGUSR1 writes a heap profile into --profile-dir.
	profiles := cmd.Args[slices.Index(cmd.Args, "--profile-dir")+1]
	require.NoError(t, cmd.Process.Signal(syscall.SIGUSR1))
	deadline := time.Now().Add(20 * time.Second)
	var files []string
	for len(files) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		files, _ = filepath.Glob(filepath.Join(profiles, "heap-*.pb.gz"))
	}
	require.Len(t, files, 1, "profiles after SIGUSR1")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit status")
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	assert.Contains(t, stdout.String(), "lines 16\n")
	assert.Contains(t, stdout.String(), "parsed 13\n")
}

// TestServeUsageErrors checks that bad flags and an address in use give a
// one-line error and exit status 2.
func TestServeUsageErrors(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	for _, args := range [][]string{
		{"--listen", busy.LocalAddr().String(), "--http", "127.0.0.1:0"},
		{"--bogus"},
		{"--readers", "x"},
		{"--format", "nosuch"},
		{"--format", "common", "--log-format", "$remote_addr $status"},
		{"--log-format", "$remote_addr$status"},
		{"--apache-format", "%h %{X"},
		{"--allow", "10.0.0.0/99"},
		{"--allow", " , "},
		{"--allow", ""},
		{"--max-paths", "0"},
		{"--readers", "0"},
		{"--max-datagram", "0"},
		{"--max-series", "1000001"},
		{"--series-idle", "1ns"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		code := runServe(args, nil, &stdout, &stderr)
		assert.Equal(t, 2, code, "%v", args)
		assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "%v: %q", args, stderr.String())
		assert.True(t, strings.HasPrefix(stderr.String(), "ingest serve: "), stderr.String())
	}
}

// TestServeLogFormat runs the daemon with a compiled nginx format, and two
// readers (two sockets with SO_REUSEPORT on Linux), and checks that lines of
// that format parse and lines of another do not.
func TestServeLogFormat(t *testing.T) {
	cmd, udpAddr, httpAddr, _ := startServe(t, "--readers", "2", "--log-format",
		`'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $request_time "$http_x_forwarded_for"'`)
	sendLines(t, udpAddr,
		`203.0.113.7 - - [26/Nov/2026:00:30:00 +0000] "GET /a HTTP/1.1" 200 5 0.012 "198.51.100.1"`,
		`203.0.113.7 - - [26/Nov/2026:00:30:00 +0000] "GET /a HTTP/1.1" 200 5 0.013 "-"`,
		serveLine("/a", 200), // combined: no request time where the format wants one
	)
	m := scrapeWhenLines(t, httpAddr, 3)
	assert.Equal(t, 3.0, m["ingest_lines_total"])
	assert.Equal(t, 2.0, m["ingest_parsed_total"])
	assert.Equal(t, 1.0, m["ingest_parse_errors_total{reason=\"time\"}"]+m["ingest_parse_errors_total{reason=\"missing_field\"}"])
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())
}
