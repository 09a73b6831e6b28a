//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
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
	n, err := b.b.Write(p)
	b.mu.Unlock()
	return n, err
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
