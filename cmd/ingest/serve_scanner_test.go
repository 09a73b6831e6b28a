package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flatheap/ingest/internal/loadgen"
)

// TestServeScanner runs the scanner scenario of the soak (go run -C
// bench/soak . --scenario scanner), smaller, through a real "ingest serve"
// on loopback with its default admission, once with the default budget
// and once with --max-series 200: 20 real routes at Zipf-like rates, a
// flood of distinct junk paths (scannerJunk of them, one in ten sent again
// within 2 s), and a new route from a third of the way into the flood.
// While it runs, /series is asked about each real route; at the end,
// /metrics is scraped. Every real route must have its own series within 2 s
// of its second line and keep it; no junk path seen once may hold a key;
// the sum of http_requests_total must be the lines serve parsed.
func TestServeScanner(t *testing.T) {
	for _, budget := range []string{"", "200"} {
		name := "default-budget"
		if budget != "" {
			name = "max-series-" + budget
		}
		t.Run(name, func(t *testing.T) { serveScanner(t, budget) })
	}
}

// scannerWatch is what the test saw of a real route through /series.
type scannerWatch struct {
	route          string
	heldAt, lostAt time.Time
	last           uint64
}

func serveScanner(t *testing.T, maxSeries string) {
	args := []string{"--log-format", loadgen.RoutesLogFormat}
	if maxSeries != "" {
		args = append(args, "--max-series", maxSeries)
	}
	_, udpAddr, httpAddr, _ := startServe(t, args...)
	const seed = 11
	mix := loadgen.ScannerMix{JunkPaths: scannerJunk, JunkRate: scannerRate, RepeatWithin: 2 * time.Second,
		Before: time.Second, After: 1500 * time.Millisecond}
	norm, err := loadgen.Config{Scanner: &mix}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	m := *norm.Scanner
	var watches []*scannerWatch
	for _, r := range m.RouteTemplates() {
		watches = append(watches, &scannerWatch{route: r})
	}

	// Ask /series about every real route every 100 ms while the load
	// runs.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var lookErr error // the first error of look, on the watching goroutine
	look := func() {
		for _, w := range watches {
			ex, err := trySeries(httpAddr, url.Values{"route": {w.route}, "vhost": {loadgen.ScannerVHost}})
			if err != nil {
				lookErr = cmp.Or(lookErr, err)
				return
			}
			now := time.Now()
			switch {
			case ex.Series && w.heldAt.IsZero():
				w.heldAt = now
			case !w.heldAt.IsZero() && w.lostAt.IsZero() && (!ex.Series || ex.Requests < w.last):
				w.lostAt = now
			}
			w.last = ex.Requests
		}
	}
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			look()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	res, err := loadgen.Send(context.Background(), loadgen.Config{Targets: []string{udpAddr}, Scanner: &mix, Seed: seed}, nil)
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if lookErr != nil {
		t.Fatal(lookErr)
	}
	metrics := scrapeWhenLines(t, httpAddr, float64(res.Lines))
	if look(); lookErr != nil {
		t.Fatal(lookErr)
	}

	// Every line serve received is counted once; the kernel's drops (the
	// sender shares the cores) are reported apart.
	received, dropped := metrics["ingest_lines_total"], metrics[`ingest_dropped_total{reason="kernel"}`]
	t.Logf("%d lines sent in %v, %v received, %v datagrams dropped by the kernel", res.Lines, res.Elapsed.Round(time.Millisecond), received, dropped)
	if sum := sumWhere(metrics, "http_requests_total{"); sum != metrics["ingest_parsed_total"] || sum != received {
		t.Errorf("sum of http_requests_total = %v, %v lines parsed, %v received", sum, metrics["ingest_parsed_total"], received)
	}
	if received+dropped != float64(res.Lines) {
		t.Errorf("%v received and %v dropped, %d sent", received, dropped, res.Lines)
	}

	// Every real route has its own series within 2 s of its second line,
	// and keeps it.
	for i, w := range watches {
		sent := res.Scanner.Routes[i]
		switch {
		case sent.Lines < 2:
			t.Errorf("%s: %d lines sent", w.route, sent.Lines)
		case w.heldAt.IsZero():
			t.Errorf("%s (%d lines) never got a series of its own", w.route, sent.Lines)
		case w.heldAt.Sub(sent.Second) > 2*time.Second:
			t.Errorf("%s got its series %v after its second line", w.route, w.heldAt.Sub(sent.Second))
		}
		if !w.lostAt.IsZero() {
			t.Errorf("%s lost its series", w.route)
		}
	}
	nr := watches[len(watches)-1]
	t.Logf("the new route: second line at +%v, series at +%v", res.Scanner.Routes[len(watches)-1].Second.Sub(res.Scanner.Routes[0].First).Round(time.Millisecond),
		nr.heldAt.Sub(res.Scanner.Routes[0].First).Round(time.Millisecond))

	// No junk path seen once holds a key; the junk seen twice holds what
	// the real routes left.
	routeOf := regexp.MustCompile(`route="([^"]*)"`)
	var real, once, twice, other int
	for k := range metrics {
		if !strings.HasPrefix(k, "http_requests_total{") {
			continue
		}
		rt := routeOf.FindStringSubmatch(k)[1]
		j, junk := loadgen.ScannerJunkIndex(rt, seed)
		switch {
		case junk && m.Repeated(j):
			twice++
		case junk:
			once++
		case strings.HasPrefix(rt, "/api/v2/"):
			real++
		case !strings.HasPrefix(rt, "{"):
			other++
		}
	}
	t.Logf("keys: %d of real routes, %d of junk seen twice, %d of junk seen once, %v series of at most %v; %v unadmitted, %v overflow, %v evicted",
		real, twice, once, metrics["ingest_series"], metrics["ingest_series_limit"],
		metrics["ingest_series_unadmitted_total"], metrics["ingest_series_overflow_total"], metrics["ingest_series_evicted_total"])
	if once > 0 || other > 0 || real != len(watches) {
		t.Errorf("%d keys of junk seen once, %d of other routes, %d of real routes (want 0, 0, %d)", once, other, real, len(watches))
	}
	if twice == 0 {
		t.Errorf("no junk seen twice holds a key: the flood tested nothing")
	}
	if maxSeries != "" {
		if limit, _ := strconv.ParseFloat(maxSeries, 64); metrics["ingest_series"] > limit || metrics["ingest_series_overflow_total"] == 0 {
			t.Errorf("%v series of --max-series %v, %v lines overflowed: the budget was not filled", metrics["ingest_series"], limit, metrics["ingest_series_overflow_total"])
		}
	}
	checkPromtool(t, httpAddr)
}

// trySeries asks /series with query q and decodes the answer; it may run
// on any goroutine.
func trySeries(httpAddr string, q url.Values) (seriesExplanation, error) {
	var ex seriesExplanation
	resp, err := http.Get("http://" + httpAddr + "/series?" + q.Encode())
	if err != nil {
		return ex, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return ex, err
	}
	if resp.StatusCode != http.StatusOK {
		return ex, fmt.Errorf("/series?%s: %d %s", q.Encode(), resp.StatusCode, body)
	}
	err = json.Unmarshal(body, &ex)
	return ex, err
}
