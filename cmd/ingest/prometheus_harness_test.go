//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The harness below runs a real Prometheus server and `ingest serve`
// processes for the scale-out tests. Every process it starts is killed
// and waited for in a t.Cleanup, and every wait is bounded.

const (
	// promWait bounds each wait on Prometheus or serve.
	promWait = 20 * time.Second
	// promPoll is the polling period of the waits.
	promPoll = 50 * time.Millisecond
	// promInstall is the command that installs Prometheus and promtool.
	promInstall = "apt-get install -y prometheus"
)

// needPrometheus returns the paths of prometheus and promtool. When they
// are not installed it skips the test, or fails it when CI=true: CI must
// never pass by skipping.
func needPrometheus(t *testing.T) (prometheus, promtool string) {
	t.Helper()
	var missing []string
	prometheus, err := exec.LookPath("prometheus")
	if err != nil {
		missing = append(missing, "prometheus")
	}
	promtool, err = exec.LookPath("promtool")
	if err != nil {
		missing = append(missing, "promtool")
	}
	if len(missing) == 0 {
		return prometheus, promtool
	}
	msg := fmt.Sprintf("%s not on PATH; install Debian's package: %s", strings.Join(missing, " and "), promInstall)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return "", ""
}

// buildIngest builds the ingest command into a temporary directory and
// returns the binary's path.
func buildIngest(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ingest")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// lockedBuffer is a bytes.Buffer that a child process writes while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// child is a process started by the harness. done receives cmd.Wait's
// result once.
type child struct {
	name   string
	cmd    *exec.Cmd
	output *lockedBuffer // stdout and stderr
	done   chan error
	exited bool
}

// startChild starts bin with args. The process dies with the test binary
// (Pdeathsig) and is killed and waited for at cleanup.
func startChild(t *testing.T, name, bin string, args ...string) *child {
	t.Helper()
	c := &child{name: name, output: new(lockedBuffer), done: make(chan error, 1)}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Stdout = c.output
	c.cmd.Stderr = c.output
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.kill(t)
		if t.Failed() {
			t.Logf("%s output (last 4 KiB):\n%s", name, tail(c.output.String(), 4096))
		}
	})
	return c
}

// kill kills the process and waits for it.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if c.exited {
		return
	}
	c.cmd.Process.Kill()
	c.wait(t)
}

// wait waits for the process to exit and returns its error.
func (c *child) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.done:
		c.exited = true
		return err
	case <-time.After(promWait):
		t.Fatalf("%s did not exit", c.name)
		return nil
	}
}

// stop sends SIGTERM and waits for the process, killing it after promWait.
func (c *child) stop(t *testing.T) {
	t.Helper()
	if c.exited {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		c.exited = true
	case <-time.After(promWait):
		t.Errorf("%s did not exit on SIGTERM", c.name)
		c.kill(t)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// freePort returns a loopback TCP address that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveInstance is one `ingest serve` process.
type serveInstance struct {
	*child
	udp, http string
}

var servingLine = regexp.MustCompile(`msg=serving udp=(\S+) http=(\S+)`)

// startServeInstance runs `bin serve` with args on the given addresses
// (port 0 for any) and waits until it logs the addresses it serves on.
func startServeInstance(t *testing.T, name, bin, udpAddr, httpAddr string, args ...string) *serveInstance {
	t.Helper()
	args = append([]string{"serve", "--listen", udpAddr, "--http", httpAddr,
		"--profile-dir", filepath.Join(t.TempDir(), "profiles")}, args...)
	c := startChild(t, name, bin, args...)
	deadline := time.Now().Add(promWait)
	for {
		if m := servingLine.FindStringSubmatch(c.output.String()); m != nil {
			return &serveInstance{child: c, udp: m[1], http: m[2]}
		}
		select {
		case err := <-c.done:
			c.exited = true
			t.Fatalf("%s exited before serving: %v\n%s", name, err, c.output.String())
		case <-time.After(promPoll):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log its addresses:\n%s", name, c.output.String())
		}
	}
}

// metrics returns the instance's /metrics body.
func (s *serveInstance) metrics(t *testing.T) []byte {
	t.Helper()
	resp, err := httpClient.Get("http://" + s.http + "/metrics")
	if err != nil {
		t.Fatalf("%s /metrics: %v", s.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s /metrics: %v %s", s.name, err, resp.Status)
	}
	return body
}

// metricValue returns the sum of the samples of the /metrics body whose
// series (name and labels as written) is prefix, or prefix followed by a
// label list.
func metricValue(t *testing.T, body []byte, prefix string) float64 {
	t.Helper()
	sum := 0.0
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		if rest := line[len(prefix):]; rest == "" || rest[0] != ' ' && rest[0] != '{' {
			continue // a longer name, or no value
		}
		f := strings.Fields(line[strings.LastIndexByte(line, '}')+1:])
		if len(f) == 0 {
			t.Fatalf("no value in %q", line)
		}
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("value of %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// waitLines waits until the instances' ingest_lines_total add up to want
// and returns each instance's count. It fails the test when they pass
// want, or do not reach it in promWait.
func waitLines(t *testing.T, want float64, instances ...*serveInstance) []float64 {
	t.Helper()
	deadline := time.Now().Add(promWait)
	for {
		got := make([]float64, len(instances))
		sum := 0.0
		for i, s := range instances {
			got[i] = metricValue(t, s.metrics(t), "ingest_lines_total")
			sum += got[i]
		}
		if sum == want {
			return got
		}
		if sum > want || time.Now().After(deadline) {
			var drops []string
			for _, s := range instances {
				drops = append(drops, fmt.Sprintf("%s kernel drops %v", s.name,
					metricValue(t, s.metrics(t), `ingest_dropped_total{reason="kernel"}`)))
			}
			t.Fatalf("instances counted %v lines (%v), want %v; %s", sum, got, want, strings.Join(drops, ", "))
		}
		time.Sleep(promPoll)
	}
}

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
