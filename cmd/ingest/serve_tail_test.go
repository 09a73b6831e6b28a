//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flatheap/ingest/internal/realtest"
)

func appendLines(t *testing.T, name string, paths ...string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range paths {
		if _, err := f.WriteString(serveLine(p, 200) + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestServeTail runs serve with --tail alone: it opens no socket, counts
// the lines of the file per pattern, and after a stop (SIGTERM) and a
// start resumes from its checkpoint: the lines written while it was down
// are read, none twice.
func TestServeTail(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "access.log")
	pattern := filepath.Join(dir, "*.log")
	appendLines(t, log, "/a/1", "/a/2", "/a/3", "/a/4", "/a/5")
	args := []string{"--tail", pattern, "--state-dir", state, "--from-start"}
	cmd, udp, httpAddr, stdout, slog := startServeLog(t, args...)
	addrs := serveAddrs(t, slog)
	if udp != "" || len(addrs["unix"])+len(addrs["tcp"])+len(addrs["tls"]) != 0 ||
		!slices.Equal(addrs["tail"], []string{pattern}) || !slices.Equal(addrs["state_dir"], []string{state}) {
		t.Fatalf("start-up line %q", slog.find("msg=serving"))
	}
	series := `ingest_tail_lines_total{files="` + pattern + `"}`
	waitMetric(t, httpAddr, series, 5)
	appendLines(t, log, "/a/6", "/a/7", "/a/8")
	m := waitMetric(t, httpAddr, series, 8)
	if m["ingest_lines_total"] != 8 || m["ingest_parsed_total"] != 8 || m[`ingest_budget_limit_bytes{name="tail"}`] <= 0 {
		t.Errorf("lines %v parsed %v tail budget %v", m["ingest_lines_total"], m["ingest_parsed_total"], m[`ingest_budget_limit_bytes{name="tail"}`])
	}
	for k := range m {
		if strings.HasPrefix(k, "ingest_listener_") || strings.Contains(k, `name="receive_buffers"`) {
			t.Errorf("%s: a listener without --listen", k)
		}
	}
	checkPromtool(t, httpAddr)
	totals, perInput := stopServe(t, cmd, stdout)
	c := inputCounts(t, perInput, "tail "+pattern)
	if totals["lines"] != "8" || c["lines"] != "8" || c["parsed"] != "8" || c["checkpoints"] == "0" {
		t.Errorf("final counts %v %v", totals, c)
	}

	// Down: 4 more lines, and a rotation by rename.
	appendLines(t, log, "/a/9", "/a/10")
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, log, "/a/11", "/a/12")
	cmd, _, httpAddr, stdout, _ = startServeLog(t, args...)
	waitMetric(t, httpAddr, series, 4)
	totals, perInput = stopServe(t, cmd, stdout)
	if c := inputCounts(t, perInput, "tail "+pattern); totals["lines"] != "4" || c["lines"] != "4" || c["files_missing"] != "0" {
		t.Errorf("after the restart: final counts %v %v", totals, c)
	}
}

// readToEnd reports whether the one checkpoint under stateDir has every
// access log in logs (rotated ones included) at its size: every line
// handed over.
func readToEnd(t *testing.T, stateDir, logs string) bool {
	t.Helper()
	cps, _ := filepath.Glob(filepath.Join(stateDir, "tail-*", "tail-state.json"))
	if len(cps) != 1 {
		t.Fatalf("checkpoints %q", cps)
	}
	b, err := os.ReadFile(cps[0])
	if err != nil {
		return false // being replaced
	}
	offsets := map[uint64]int64{}
	for line := range strings.Lines(string(b)) {
		var e struct {
			Ino    uint64 `json:"ino"`
			Offset int64  `json:"offset"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Ino != 0 {
			offsets[e.Ino] = e.Offset
		}
	}
	files, _ := filepath.Glob(filepath.Join(logs, "*.access.log*"))
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		off, ok := offsets[fi.Sys().(*syscall.Stat_t).Ino]
		if fi.Size() > 0 && (!ok || off != fi.Size()) {
			return false
		}
	}
	return true
}

var routeLabel = regexp.MustCompile(`route="([^"]*)"`)

// routeTotals sums http_requests_total by route.
func routeTotals(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, "http_requests_total{") {
			out[routeLabel.FindStringSubmatch(k)[1]] += v
		}
	}
	return out
}

func sumValues(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// sitePath is the path of request i to site: /a/<i> on the first, /b/<i>
// on the second, so that the routes /a/{id} and /b/{id} count the two
// access logs apart.
func sitePath(site, i int) string { return "/" + string(rune('a'+site)) + "/" + strconv.Itoa(i) }

// tailRuns runs serve on a real nginx's access logs, once or several times
// in a row, and adds up what each run counted per route.
type tailRuns struct {
	t       *testing.T
	args    []string
	cmd     *exec.Cmd
	http    string
	stdout  *bytes.Buffer
	pattern string
	state   string             // --state-dir
	routes  map[string]float64 // the runs that ended
	starts  int
}

func newTailRuns(t *testing.T, n *realtest.NginxSite) *tailRuns {
	pattern := filepath.Join(n.Logs, "*.access.log")
	r := &tailRuns{t: t, pattern: pattern, state: t.TempDir(), routes: map[string]float64{}}
	r.args = []string{"--tail", pattern, "--state-dir", r.state, "--from-start"}
	r.start()
	return r
}

func (r *tailRuns) start() {
	r.cmd, _, r.http, r.stdout, _ = startServeLog(r.t, r.args...)
	r.starts++
}

// settle waits until the runs have counted want requests in all, and
// returns the current run's counts by route.
func (r *tailRuns) settle(want int) map[string]float64 {
	r.t.Helper()
	var cur map[string]float64
	realtest.WaitFor(r.t, strconv.Itoa(want)+" requests counted", func() bool {
		cur = routeTotals(scrape(r.t, r.http))
		return sumValues(cur)+sumValues(r.routes) == float64(want)
	})
	return cur
}

// final waits until the current run has counted want requests in all and
// has read every file to its end, and returns its counts by route then.
func (r *tailRuns) final(n *realtest.NginxSite, want int) map[string]float64 {
	r.t.Helper()
	r.settle(want)
	realtest.WaitFor(r.t, "every file read to its end", func() bool { return readToEnd(r.t, r.state, n.Logs) })
	return routeTotals(scrape(r.t, r.http))
}

// stop stops the current run once it has counted every request logged
// (the load must be paused), and checks its final count of lines.
func (r *tailRuns) stop(n *realtest.NginxSite) {
	r.t.Helper()
	onDisk := 0
	for _, c := range n.LinesOnDisk(r.t) {
		onDisk += c
	}
	cur := r.settle(onDisk)
	_, perInput := stopServe(r.t, r.cmd, r.stdout)
	if got := inputCounts(r.t, perInput, "tail "+r.pattern)["lines"]; got != strconv.Itoa(int(sumValues(cur))) {
		r.t.Errorf("final count %s lines, /metrics %v requests", got, sumValues(cur))
	}
	for k, v := range cur {
		r.routes[k] += v
	}
}

// check compares the routes counted with the requests nginx logged: the
// totals over all series exactly, and each route exactly but for its first
// request in each run, which route admission counts under {unadmitted}.
func (r *tailRuns) check(n *realtest.NginxSite, l *realtest.Load, cur map[string]float64) {
	r.t.Helper()
	sent := l.Sent()
	if disk := n.LinesOnDisk(r.t); !slices.Equal(disk, sent) {
		r.t.Fatalf("nginx logged %v lines, %v requests answered", disk, sent)
	}
	all := map[string]float64{}
	for k, v := range r.routes {
		all[k] += v
	}
	for k, v := range cur {
		all[k] += v
	}
	if got := sumValues(all); got != float64(sent[0]+sent[1]) {
		r.t.Errorf("%v requests counted, %v logged", got, sent)
	}
	for i, route := range []string{"/a/{id}", "/b/{id}"} {
		if got := all[route]; got > float64(sent[i]) || got < float64(sent[i]-r.starts) {
			r.t.Errorf("route %s: %v requests, %d logged, %d runs", route, got, sent[i], r.starts)
		}
	}
	if len(all) != 3 || all["{unadmitted}"] > float64(2*r.starts) {
		r.t.Errorf("routes %v", all)
	}
	r.t.Logf("%d requests, %d runs: %v", sent[0]+sent[1], r.starts, all)
}

func startTailNginx(t *testing.T) *realtest.NginxSite {
	realtest.Need(t, realtest.Logrotate, "logrotate")
	n := realtest.NewNginx(t)
	n.Start(t, n.FileLogs(2)...)
	return n
}

// TestServeTailNginx: serve --tail follows two real nginx access logs
// through 20 rotations by logrotate (10 rename and USR1, 10 copytruncate)
// while requests run; its route totals equal the requests nginx logged.
func TestServeTailNginx(t *testing.T) {
	n := startTailNginx(t)
	r := newTailRuns(t, n)
	l := realtest.StartLoad(n, sitePath)
	realtest.RotateAll(t, n, l, nil)
	l.Stop(t)
	cur := r.final(n, l.Total())
	m := scrape(t, r.http)
	rotations := `ingest_tail_rotations_total{files="` + r.pattern + `"}`
	truncations := `ingest_tail_truncations_total{files="` + r.pattern + `"}`
	lost := `ingest_tail_lost_bytes_total{files="` + r.pattern + `"}`
	if m[rotations] != realtest.Rotations || m[truncations] == 0 || m[lost] != 0 {
		t.Errorf("rotations %v truncations %v lost bytes %v", m[rotations], m[truncations], m[lost])
	}
	r.check(n, l, cur)
}

// TestServeTailNginxRestarts: the same with serve stopped (SIGTERM) and
// started again twice while rotations go on: exact.
func TestServeTailNginxRestarts(t *testing.T) {
	n := startTailNginx(t)
	r := newTailRuns(t, n)
	l := realtest.StartLoad(n, sitePath)
	realtest.RotateAll(t, n, l, func(i int) {
		switch i {
		case 5, 12:
			l.Quiesced(t, n, func() { r.stop(n) }) // down during two rotations
		case 7, 14:
			r.start()
		}
	})
	l.Stop(t)
	r.check(n, l, r.final(n, l.Total()))
}

// TestServeTailNginxKilled: the same with serve killed (SIGKILL) once:
// nothing is lost, and what is counted twice is at most what nginx logged
// in the 2 seconds before the kill (the checkpoint is written every second;
// docs/tail.md), a second's slack included for a loaded machine.
func TestServeTailNginxKilled(t *testing.T) {
	n := startTailNginx(t)
	r := newTailRuns(t, n)
	l := realtest.StartLoad(n, sitePath)
	var killed time.Time
	realtest.RotateAll(t, n, l, func(i int) {
		switch i {
		case 9:
			l.Quiesced(t, n, func() {
				// Counted up to the last request, then killed: a
				// checkpoint may not hold the last second's lines.
				onDisk := 0
				for _, c := range n.LinesOnDisk(t) {
					onDisk += c
				}
				cur := r.settle(onDisk)
				killed = time.Now()
				r.cmd.Process.Kill() // SIGKILL, by its process id
				r.cmd.Wait()
				for k, v := range cur {
					r.routes[k] += v
				}
			})
		case 11:
			r.start()
		}
	})
	l.Stop(t)
	total := l.Total()
	bound := l.AnsweredBetween(killed.Add(-2*time.Second), killed)
	// The lines read twice may come before or after new ones, from other
	// files: wait until the checkpoint, written after the lines it covers
	// were handed over, covers every file to its end.
	realtest.WaitFor(t, "every file read to its end", func() bool { return readToEnd(t, r.state, n.Logs) })
	cur := routeTotals(scrape(t, r.http))
	_, perInput := stopServe(t, r.cmd, r.stdout)
	if got := inputCounts(t, perInput, "tail "+r.pattern)["lines"]; got != strconv.Itoa(int(sumValues(cur))) {
		t.Errorf("final count %s lines, /metrics %v requests", got, sumValues(cur))
	}
	sent := l.Sent()
	for i, route := range []string{"/a/{id}", "/b/{id}"} {
		if got := r.routes[route] + cur[route]; got < float64(sent[i]-r.starts) {
			t.Errorf("route %s: %v requests, %d logged: lost some", route, got, sent[i])
		}
	}
	dups := int(sumValues(cur)+sumValues(r.routes)) - total
	if dups < 0 || dups > bound {
		t.Errorf("%d requests counted twice after the kill; %d were answered in the 2 s before it", dups, bound)
	}
	t.Logf("%d requests, %d counted twice after the kill (bound %d)", total, dups, bound)
}

// TestServeTailBadCheckpoint: a checkpoint that cannot be read stops the
// Tailer at once, which stops the other inputs: serve exits 1, saying why,
// rather than guess where to start.
func TestServeTailBadCheckpoint(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	pattern := filepath.Join(dir, "*.log")
	cp := tailStateDir(state, pattern)
	if err := os.MkdirAll(cp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cp, "tail-state.json"), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "serve", "--http", "127.0.0.1:0", "--listen", "127.0.0.1:0",
		"--tail", pattern, "--state-dir", state, "--profile-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(realtest.Timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("serve did not exit:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "input stopped") ||
		!strings.Contains(stderr.String(), "bad checkpoint") {
		t.Errorf("exit status %d, stderr:\n%s", code, stderr.String())
	}
}
