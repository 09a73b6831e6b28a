package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var httpClient = &http.Client{Timeout: 10 * time.Second}

// promServer is a Prometheus server run by the test.
type promServer struct {
	*child
	base string // http://127.0.0.1:port
}

// startPrometheus writes a configuration that scrapes targets (host:port)
// every second as job "ingest" and evaluates ruleFiles, starts Prometheus
// on a free loopback port with its storage in a temporary directory, and
// waits until it is ready.
func startPrometheus(t *testing.T, bin string, targets []string, ruleFiles ...string) *promServer {
	t.Helper()
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n")
	if len(ruleFiles) > 0 {
		cfg.WriteString("rule_files:\n")
		for _, f := range ruleFiles {
			abs, err := filepath.Abs(f)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&cfg, "  - %q\n", abs)
		}
	}
	cfg.WriteString("scrape_configs:\n  - job_name: ingest\n    static_configs:\n      - targets:\n")
	for _, target := range targets {
		fmt.Fprintf(&cfg, "          - %q\n", target)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// A free port can be taken between freePort and Prometheus' bind: try
	// a few.
	for attempt := 0; ; attempt++ {
		addr := freePort(t)
		c := startChild(t, "prometheus", bin,
			"--config.file="+cfgPath,
			"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprint("data", attempt)),
			"--web.listen-address="+addr,
			"--log.level=warn")
		p := &promServer{child: c, base: "http://" + addr}
		if p.waitReady(t) {
			return p
		}
		c.kill(t)
		if attempt == 2 {
			t.Fatalf("prometheus did not start:\n%s", c.output.String())
		}
	}
}

// waitReady waits for /-/ready and reports whether Prometheus became
// ready before it exited or promWait passed.
func (p *promServer) waitReady(t *testing.T) bool {
	deadline := time.Now().Add(promWait)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			p.exited = true
			return false
		case <-time.After(promPoll):
		}
		resp, err := httpClient.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
	}
	return false
}

// promSample is one element of an instant vector.
type promSample struct {
	Metric map[string]string
	Time   float64 // seconds since the epoch, millisecond precision
	Value  float64
}

// query evaluates expr at the time at, or now when at is zero, and returns
// the result as samples (a scalar is one sample without labels).
func (p *promServer) query(t *testing.T, expr string, at float64) []promSample {
	t.Helper()
	form := url.Values{"query": {expr}}
	if at != 0 {
		form.Set("time", strconv.FormatFloat(at, 'f', 3, 64))
	}
	resp, err := httpClient.PostForm(p.base+"/api/v1/query", form)
	if err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	defer resp.Body.Close()
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("query %s: %s: %v", expr, resp.Status, err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s: %s", expr, r.ErrorType, r.Error)
	}
	var out []promSample
	switch r.Data.ResultType {
	case "vector":
		var v []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &v); err != nil {
			t.Fatalf("query %s: %v", expr, err)
		}
		for _, s := range v {
			out = append(out, promSample{Metric: s.Metric, Time: pairTime(t, s.Value), Value: pairValue(t, s.Value)})
		}
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(r.Data.Result, &v); err != nil {
			t.Fatalf("query %s: %v", expr, err)
		}
		out = append(out, promSample{Time: pairTime(t, v), Value: pairValue(t, v)})
	default:
		t.Fatalf("query %s: result type %q", expr, r.Data.ResultType)
	}
	return out
}

func pairTime(t *testing.T, p [2]any) float64 {
	f, ok := p[0].(float64)
	if !ok {
		t.Fatalf("sample time %v", p[0])
	}
	return f
}

func pairValue(t *testing.T, p [2]any) float64 {
	s, ok := p[1].(string)
	if !ok {
		t.Fatalf("sample value %v", p[1])
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("sample value %q: %v", s, err)
	}
	return v
}

// scalar evaluates expr, which must give exactly one sample, and returns
// its value.
func (p *promServer) scalar(t *testing.T, expr string) float64 {
	t.Helper()
	r := p.query(t, expr, 0)
	if len(r) != 1 {
		t.Fatalf("query %s: %d samples, want 1: %v", expr, len(r), r)
	}
	return r[0].Value
}

// byLabel evaluates expr and returns its samples' values keyed by label.
func (p *promServer) byLabel(t *testing.T, expr, label string) map[string]float64 {
	t.Helper()
	out := make(map[string]float64)
	for _, s := range p.query(t, expr, 0) {
		out[s.Metric[label]] = s.Value
	}
	return out
}

// promTarget is a scrape target as /api/v1/targets shows it.
type promTarget struct {
	ScrapeURL  string    `json:"scrapeUrl"`
	Health     string    `json:"health"`
	LastError  string    `json:"lastError"`
	LastScrape time.Time `json:"lastScrape"`
}

func (p *promServer) targets(t *testing.T) map[string]promTarget {
	t.Helper()
	resp, err := httpClient.Get(p.base + "/api/v1/targets?state=active")
	if err != nil {
		t.Fatalf("targets: %v", err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			ActiveTargets []struct {
				promTarget
				Labels map[string]string `json:"labels"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("targets: %v", err)
	}
	out := make(map[string]promTarget)
	for _, at := range r.Data.ActiveTargets {
		out[at.Labels["instance"]] = at.promTarget
	}
	return out
}

// waitScrapes waits until each of the instances (host:port) has been
// scraped twice since after, each time successfully when up is true and
// unsuccessfully when it is false. The first of those scrapes started
// after after, and the second started after the first was stored, so a
// query then sees what the instances had counted at after.
func (p *promServer) waitScrapes(t *testing.T, after time.Time, up bool, instances ...string) {
	t.Helper()
	seen := make(map[string]map[time.Time]bool)
	for _, in := range instances {
		seen[in] = make(map[time.Time]bool)
	}
	want := "down"
	if up {
		want = "up"
	}
	deadline := time.Now().Add(promWait)
	for {
		done := true
		targets := p.targets(t)
		for _, in := range instances {
			tg, ok := targets[in] // absent until the first discovery
			if ok && tg.LastScrape.After(after) && tg.Health == want {
				seen[in][tg.LastScrape] = true
			}
			if len(seen[in]) < 2 {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("instances %v not scraped twice (%s) since %v: %+v", instances, want, after, targets)
		}
		time.Sleep(promPoll)
	}
}

// checkMetrics runs `promtool check metrics` on body.
func checkMetrics(t *testing.T, promtool, name string, body []byte) {
	t.Helper()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics on %s's /metrics: %v\n%s", name, err, tail(string(out), 4096))
	}
}

// approxEqual reports whether a and b agree to a part in 1e9.
func approxEqual(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}
