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
// The --http given in args replaces the ephemeral one; with a --listen or
// --tail in args, there is no ephemeral UDP listener, and udpAddr holds
// the UDP listeners' addresses, separated by commas, or "".
func startServeLog(t *testing.T, args ...string) (cmd *exec.Cmd, udpAddr, httpAddr string, stdout *bytes.Buffer, log *serveLog) {
	t.Helper()
	if !slices.Contains(args, "--listen") && !slices.Contains(args, "--tail") {
		args = append([]string{"--listen", "127.0.0.1:0"}, args...)
	}
	args = append([]string{"serve", "--http", "127.0.0.1:0",
		"--heap-interval", "200ms", "--profile-dir", t.TempDir() + "/profiles"}, args...)
	cmd = exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
	stdout = new(bytes.Buffer)
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	log = new(serveLog)
	serving := regexp.MustCompile(`msg=serving (?:udp=(\S+) )?http=(\S+)`)
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
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resp.StatusCode = %v, want %v", resp.StatusCode, http.StatusOK)
	}
	out := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%v: %v", line, err)
		}
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
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, d := range datagrams {
		_, err := conn.Write([]byte(d))
		if err != nil {
			t.Fatal(err)
		}
	}
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
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
	if code != http.StatusOK {
		t.Fatalf("%v: code = %v, want %v", body, code, http.StatusOK)
	}
	var rows []topRow
	if err := json.Unmarshal([]byte(body), &rows); err != nil {
		t.Fatalf("%v: %v", body, err)
	}
	return rows, body
}

// TestServeEndToEnd runs the daemon, sends known good and bad lines,
// checks /metrics and /top exactly, stops it with SIGTERM and checks the
// exit status and the final counts.
func TestServeEndToEnd(t *testing.T) {
	cmd, udpAddr, httpAddr, stdout := startServe(t, "--max-paths", "2")

	// /a and /b take the table's two entries at their first request; /c
	// and /d come when it is full, and are not seen often enough to take
	// the place of either: they count under <other>.
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
		"ingest_datagrams_total":                              float64(len(datagrams)),
		"ingest_lines_total":                                  lines,
		"ingest_parsed_total":                                 13,
		`ingest_parse_errors_total{reason="status"}`:          1,
		`ingest_parse_errors_total{reason="time"}`:            1,
		`ingest_parse_errors_total{reason="missing_field"}`:   0,
		`ingest_parse_errors_total{reason="not_access_line"}`: 1, // "garbage"
		`ingest_parse_errors_total{reason="bytes"}`:           0,
		"ingest_truncated_total":                              0,
		`ingest_dropped_total{reason="kernel"}`:               0,
		`ingest_dropped_total{reason="queue_full"}`:           0,
		"ingest_handler_panics_total":                         0,
		"ingest_paths":                                        2,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%v: m[k] = %v, want %v", k, m[k], v)
		}
	}
	for _, k := range []string{"ingest_paths_bytes", "ingest_paths_admitted_total", "ingest_paths_evicted_total",
		"ingest_paths_too_long_total", "ingest_heap_live_bytes", "ingest_heap_rss_bytes", `ingest_bytes_total`} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in m", k)
		}
	}
	// The live heap is 0 until the first GC ends; RSS and goroutines are
	// known at once.
	if m["ingest_heap_rss_bytes"] <= 0 {
		t.Errorf("m[\"ingest_heap_rss_bytes\"] = %v, want > 0", m["ingest_heap_rss_bytes"])
	}
	if m["ingest_heap_goroutines"] <= 0 {
		t.Errorf("m[\"ingest_heap_goroutines\"] = %v, want > 0", m["ingest_heap_goroutines"])
	}
	if m[`ingest_heap_growth{kind="unknown"}`]+m[`ingest_heap_growth{kind="flat"}`] != 1.0 {
		t.Errorf("ingest_heap_growth of unknown and flat = %v, want 1", m[`ingest_heap_growth{kind="unknown"}`]+m[`ingest_heap_growth{kind="flat"}`])
	}
	if m["ingest_paths_other_total"] != 3.0 {
		t.Errorf("/c once and /d twice under <other>: m[\"ingest_paths_other_total\"] = %v, want 3.0", m["ingest_paths_other_total"])
	}

	top, body := getTop(t, "http://"+httpAddr+"/top?n=10")
	if len(top) != 3 {
		t.Fatalf("%v: len(top) = %d, want 3", body, len(top))
	}
	// /a: 7 requests, /b: 3, <other>: /c once and /d twice. Bytes and
	// the other classes are not checked here.
	for i, want := range []topRow{
		{Path: "/a", Requests: 7, Status2xx: 7},
		{Path: "/b", Requests: 3, Status4xx: 3},
		{Path: "<other>", Requests: 3},
	} {
		got := top[i]
		got.Bytes = 0
		if want.Status2xx == 0 {
			got.Status2xx = 0
		}
		if want.Status4xx == 0 {
			got.Status4xx = 0
		}
		if got != want {
			t.Errorf("/top row %d: %+v, want %+v", i, top[i], want)
		}
	}
	code, _ := getBody(t, "http://"+httpAddr+"/top?n=x")
	if code != http.StatusBadRequest {
		t.Errorf("code = %v, want %v", code, http.StatusBadRequest)
	}

	code, body = getBody(t, "http://"+httpAddr+"/healthz")
	if code != http.StatusOK {
		t.Errorf("code = %v, want %v", code, http.StatusOK)
	}
	if body != "ok\n" {
		t.Errorf("body = %q, want \"ok\\n\"", body)
	}
	code, _ = getBody(t, "http://"+httpAddr+"/debug/pprof/")
	if code != http.StatusOK {
		t.Errorf("code = %v, want %v", code, http.StatusOK)
	}

	// SIGUSR1 writes a heap profile into --profile-dir.
	profiles := cmd.Args[slices.Index(cmd.Args, "--profile-dir")+1]
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var files []string
	for len(files) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		files, _ = filepath.Glob(filepath.Join(profiles, "heap-*.pb.gz"))
	}
	if len(files) != 1 {
		t.Fatalf("profiles after SIGUSR1: len(files) = %d, want 1", len(files))
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit status: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	if got := stdout.String(); !strings.Contains(got, "lines 16\n") {
		t.Errorf("stdout = %q, want it to contain %q", got, "lines 16\n")
	}
	if got := stdout.String(); !strings.Contains(got, "parsed 13\n") {
		t.Errorf("stdout = %q, want it to contain %q", got, "parsed 13\n")
	}
}

// TestServeHelp checks that -h lists the endpoints and the flags, and
// points to the manual.
func TestServeHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runServe([]string{"-h"}, nil, &stdout, &stderr); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	for _, want := range []string{"Usage: ingest serve", "/metrics", "/routes?path=", "/top?n=", "/debug/pprof/", "/healthz",
		"docs/serve.md", "-listen address", "-max-series int"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("serve -h does not say %q", want)
		}
	}
}

// TestServeUsageErrors checks that bad flags and an address in use give a
// one-line error and exit status 2.
func TestServeUsageErrors(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
		if code != 2 {
			t.Errorf("%v: code = %v, want 2", args, code)
		}
		if got := strings.Count(stderr.String(), "\n"); got != 1 {
			t.Errorf("%v: %q: strings.Count(stderr.String(), \"\\n\") = %v, want 1", args, stderr.String(), got)
		}
		if !strings.HasPrefix(stderr.String(), "ingest serve: ") {
			t.Errorf("%v", stderr.String())
		}
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
	if m["ingest_lines_total"] != 3.0 {
		t.Errorf("m[\"ingest_lines_total\"] = %v, want 3.0", m["ingest_lines_total"])
	}
	if m["ingest_parsed_total"] != 2.0 {
		t.Errorf("m[\"ingest_parsed_total\"] = %v, want 2.0", m["ingest_parsed_total"])
	}
	if m["ingest_parse_errors_total{reason=\"time\"}"]+m["ingest_parse_errors_total{reason=\"missing_field\"}"] != 1.0 {
		t.Errorf("ingest_parse_errors_total of time and missing_field = %v, want 1", m["ingest_parse_errors_total{reason=\"time\"}"]+m["ingest_parse_errors_total{reason=\"missing_field\"}"])
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}
