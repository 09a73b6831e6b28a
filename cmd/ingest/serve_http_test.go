package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flatheap/ingest/internal/pathtable"
)

// procStatusKiB returns a "VmXxx:" figure of /proc/pid/status in KiB.
func procStatusKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%v: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// httpBoundMiB is the peak RSS, in MiB, that serve must stay under while
// 200 clients ask for /top?n=10000 and 200 for /metrics at once, with a
// full table of 600-byte paths. It is the figure the README quotes. Under the
// race detector the bound is memoryFactor times larger.
const httpBoundMiB = 64

// TestServeHTTPBounded fills the path table with 10,000 paths of 600 bytes
// (7.7 of its 8 MiB),
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

	// Each path three times. 10,500 paths fill the 10,000 entries.
	const paths = 10500
	conn, err := net.Dial("udp", udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	filler := strings.Repeat("x", 2048)
	sent, dropped := 0, 0.0
	const kernelDrops = `ingest_dropped_total{reason="kernel"}`
	for i := 0; i < paths; i += 250 {
		// The reader keeps up with a chunk at a time, but a busy machine
		// may still make the kernel drop some (the buffer, or the
		// host's UDP memory, full): then the chunk is sent again.
		for attempt := 1; ; attempt++ {
			for rep := range 3 {
				for j := i; j < min(i+250, paths); j++ {
					// A literal first segment: each path is a route of
					// its own, so the route store fills its 10,000 series.
					p := fmt.Sprintf("/p%06d/%s", j, filler[:592])
					_, err := conn.Write([]byte(serveLine(p, 200+rep)))
					if err != nil {
						t.Fatal(err)
					}
					sent++
				}
			}
			m := scrapeWhenCounted(t, httpAddr, float64(sent))
			if got := m["ingest_lines_total"] + m[kernelDrops]; got != float64(sent) {
				t.Fatalf("lines %v + kernel drops %v = %v, want %v", m["ingest_lines_total"], m[kernelDrops], got, float64(sent))
			}
			if m[kernelDrops] == dropped {
				break
			}
			t.Logf("the kernel dropped %v datagrams of the chunk of paths from %d: sent again", m[kernelDrops]-dropped, i)
			dropped = m[kernelDrops]
			if attempt == 5 {
				t.Fatalf("the kernel dropped datagrams of each of %d sends of a chunk", attempt)
			}
		}
	}
	m := scrape(t, httpAddr)
	if m["ingest_paths"] != 10000.0 {
		t.Fatalf("a full table: m[\"ingest_paths\"] = %v, want 10000.0", m["ingest_paths"])
	}
	// The store keeps a twentieth of its 10,000 keys for overflow series,
	// which only a few (vhost, method, status) fill here.
	if m["ingest_series"] < 9500.0 {
		t.Fatalf("a full route store: m[\"ingest_series\"] = %v, want >= 9500.0", m["ingest_series"])
	}
	if m["ingest_series_overflow_total"] <= 0 {
		t.Fatalf("m[\"ingest_series_overflow_total\"] = %v, want > 0", m["ingest_series_overflow_total"])
	}
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
		if err := r.err; err != nil {
			t.Fatalf("%v: %v", r.url, err)
		}
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
				if r.size != sizes[kind] {
					t.Errorf("a /top answer's size: r.size = %v, want %v", r.size, sizes[kind])
				}
			}
			if r.body != nil {
				var rows []topRow
				if err := json.Unmarshal(r.body, &rows); err != nil {
					t.Fatal(err)
				}
				if len(rows) != 10001 {
					t.Fatalf("10,000 paths and <other>: len(rows) = %d, want 10001", len(rows))
				}
				if rows[10000].Path != pathtable.Other {
					t.Errorf("rows[10000].Path = %q, want %q", rows[10000].Path, pathtable.Other)
				}
			}
		case http.StatusServiceUnavailable:
			busy[kind]++
			if r.retryAfter != "1" {
				t.Errorf("a 503 has Retry-After: r.retryAfter = %q, want \"1\"", r.retryAfter)
			}
		default:
			t.Errorf("%s: status %d", r.url, r.code)
		}
	}
	t.Logf("answered 200: %v, 503: %v; sizes %v; RSS %d KiB after filling, peak %d KiB",
		ok, busy, sizes, baseRSS, peakRSS)
	if ok["/top"] <= 0 {
		t.Errorf("ok[\"/top\"] = %v, want > 0", ok["/top"])
	}
	if ok["/metrics"] <= 0 {
		t.Errorf("ok[\"/metrics\"] = %v, want > 0", ok["/metrics"])
	}
	if ok["/top"]+busy["/top"] != clients {
		t.Errorf("ok[\"/top\"]+busy[\"/top\"] = %v, want %v", ok["/top"]+busy["/top"], clients)
	}
	if ok["/metrics"]+busy["/metrics"] != clients {
		t.Errorf("ok[\"/metrics\"]+busy[\"/metrics\"] = %v, want %v", ok["/metrics"]+busy["/metrics"], clients)
	}
	if peakRSS >= int64(memoryFactor*httpBoundMiB<<10) {
		t.Errorf("peak RSS in KiB: peakRSS = %v, want < %v", peakRSS, int64(memoryFactor*httpBoundMiB<<10))
	}
}

// scrapeWhenCounted scrapes /metrics until ingest_lines_total and the
// kernel's drops add up to lines, for at most 20 seconds, and returns the
// last scrape.
func scrapeWhenCounted(t *testing.T, httpAddr string, lines float64) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := scrape(t, httpAddr)
		if m["ingest_lines_total"]+m[`ingest_dropped_total{reason="kernel"}`] >= lines || time.Now().After(deadline) {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
}
