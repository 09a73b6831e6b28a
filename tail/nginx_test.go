//go:build linux

package tail

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flatheap/ingest"
)

const (
	nginxBin     = "/usr/sbin/nginx"
	logrotateBin = "/usr/sbin/logrotate"
	// nginxRotations alternates rename-and-reopen and copytruncate.
	nginxRotations = 20
)

// needTools skips the test when nginx or logrotate is missing, except on
// CI, where it fails.
func needTools(t *testing.T) {
	t.Helper()
	for _, bin := range []string{nginxBin, logrotateBin} {
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required on CI: %v", bin, err)
			}
			t.Skipf("%s not installed: %v", bin, err)
		}
	}
}

// nginxSite is a real nginx serving two sites on loopback, each logging to
// its own file, a.access.log and b.access.log, in the combined format.
type nginxSite struct {
	dir, logs string
	ports     [2]int
	cmd       *exec.Cmd
	pid       int           // the master's
	exited    chan struct{} // closed when it has exited
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startNginx(t *testing.T) *nginxSite {
	t.Helper()
	dir := t.TempDir()
	n := &nginxSite{dir: dir, logs: filepath.Join(dir, "logs")}
	for _, d := range []string{"logs", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for attempt := 0; ; attempt++ {
		n.ports = [2]int{freePort(t), freePort(t)}
		user := ""
		if os.Geteuid() == 0 {
			user = "user root;" // the workers reopen the logs after USR1
		}
		var servers strings.Builder
		for i, site := range []string{"a", "b"} {
			fmt.Fprintf(&servers, `server {
		listen 127.0.0.1:%d;
		access_log %s/%s.access.log combined;
		location / { return 200 "ok\n"; }
	}
	`, n.ports[i], n.logs, site)
		}
		conf := fmt.Sprintf(`%s
daemon off;
master_process on;
worker_processes 2;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 128; }
http {
	client_body_temp_path %[2]s/tmp/body;
	proxy_temp_path %[2]s/tmp/proxy;
	fastcgi_temp_path %[2]s/tmp/fastcgi;
	uwsgi_temp_path %[2]s/tmp/uwsgi;
	scgi_temp_path %[2]s/tmp/scgi;
	%[3]s
}
`, user, dir, servers.String())
		confPath := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		n.cmd = exec.Command(nginxBin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
		n.cmd.Stderr = os.Stderr
		if err := n.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		n.pid = n.cmd.Process.Pid
		n.exited = make(chan struct{})
		go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(n.cmd, n.exited)
		if n.listening() {
			break
		}
		n.stop()
		if attempt == 3 {
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not start: %s", errLog)
		}
	}
	t.Cleanup(n.stop)
	return n
}

// listening waits until both ports accept connections, or nginx exits.
func (n *nginxSite) listening() bool {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.exited:
			return false
		default:
		}
		if n.up() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (n *nginxSite) up() bool {
	for _, p := range n.ports {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), time.Second)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// stop stops nginx by its process id: SIGQUIT lets the workers finish and
// write their last log lines.
func (n *nginxSite) stop() {
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
	}
	n.cmd = nil
}

// rotate runs logrotate on both logs: rename and create, then USR1 to the
// master (logrotate's default and Debian's nginx configuration), or
// copytruncate.
func (n *nginxSite) rotate(t *testing.T, copyTruncate bool) {
	t.Helper()
	how := fmt.Sprintf("create\n\tsharedscripts\n\tpostrotate\n\t\tkill -USR1 %d\n\tendscript", n.pid)
	if copyTruncate {
		how = "copytruncate"
	}
	conf := fmt.Sprintf("%s/*.access.log {\n\trotate 100\n\tmissingok\n\tnocompress\n\t%s\n}\n", n.logs, how)
	confPath := filepath.Join(n.dir, "logrotate.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(logrotateBin, "-f", "-s", filepath.Join(n.dir, "logrotate.state"), confPath).CombinedOutput()
	if err != nil {
		t.Fatalf("logrotate: %v: %s", err, out)
	}
}

// linesOnDisk counts the lines in every log file, rotated ones included,
// by site.
func (n *nginxSite) linesOnDisk(t *testing.T) [2]int {
	t.Helper()
	var counts [2]int
	entries, err := os.ReadDir(n.logs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		i := strings.Index("ab", e.Name()[:1])
		if i < 0 || !strings.Contains(e.Name(), ".access.log") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(n.logs, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		counts[i] += bytes.Count(b, []byte("\n"))
	}
	return counts
}

// load sends requests /r/0, /r/1, ... to the two sites in turn until
// stopped, one at a time.
type load struct {
	mu      sync.Mutex // held by pause
	sent    [2]int     // answered 200, by site
	next    int
	stopped chan struct{}
	done    chan struct{}
	err     error
}

func startLoad(n *nginxSite) *load {
	l := &load{stopped: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(l.done)
		// Bounded: at most 200,000 requests, and stopped by the test.
		for l.next < 200_000 {
			select {
			case <-l.stopped:
				return
			default:
			}
			l.mu.Lock()
			site := l.next % 2
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/r/%d", n.ports[site], l.next))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			if err != nil {
				l.err = err
				l.mu.Unlock()
				return
			}
			l.sent[site]++
			l.next++
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *load) stop(t *testing.T) {
	close(l.stopped)
	<-l.done
	if l.err != nil {
		t.Fatalf("load: %v", l.err)
	}
}

// quiesced pauses the load until every request answered is in a log file,
// and runs f. copytruncate loses what nginx writes between the copy and the
// truncation (logrotate's own window, see its manual); with no writes then,
// the count stays exact and anything missing is the Tailer's doing.
func (l *load) quiesced(t *testing.T, n *nginxSite, f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	waitFor(t, "nginx to log every request", func() bool { return n.linesOnDisk(t) == l.sent })
	f()
}

func (l *load) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent[0] + l.sent[1]
}

// rotateAll rotates 20 times, every interval, alternating the two kinds,
// calling between(i) after the i-th rotation.
func rotateAll(t *testing.T, n *nginxSite, l *load, between func(i int)) {
	for i := range nginxRotations {
		time.Sleep(100 * time.Millisecond)
		if i%2 == 1 {
			l.quiesced(t, n, func() { n.rotate(t, true) })
		} else {
			n.rotate(t, false)
		}
		if between != nil {
			between(i)
		}
	}
	time.Sleep(100 * time.Millisecond)
}

func nginxTailConfig(c *collector, n *nginxSite, state string) Config {
	return Config{
		Paths:         []string{filepath.Join(n.logs, "*.access.log")},
		Handler:       c,
		StateDir:      state,
		FromBeginning: true,
		RotateWait:    time.Second,
		Logger:        quietLogger(),
	}
}

// checkNginx checks that the lines handed over are exactly the requests
// answered, per file name.
func checkNginx(t *testing.T, c *collector, n *nginxSite, l *load) {
	t.Helper()
	if disk := n.linesOnDisk(t); disk != l.sent {
		t.Fatalf("nginx logged %v lines, %v requests answered", disk, l.sent)
	}
	c.exactly(t, 0, l.next)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, site := range []string{"a", "b"} {
		name := filepath.Join(n.logs, site+".access.log")
		if c.byName[name] != l.sent[i] {
			t.Fatalf("%s: %d lines, %d requests", name, c.byName[name], l.sent[i])
		}
	}
}

// TestNginxRotation follows two real nginx access logs through 20
// rotations by logrotate while requests run: every request is handed over
// exactly once, under the name of its site's log.
func TestNginxRotation(t *testing.T) {
	needTools(t)
	n := startNginx(t)
	c := newCollector()
	r := start(t, nginxTailConfig(c, n, t.TempDir()))
	l := startLoad(n)
	rotateAll(t, n, l, nil)
	l.stop(t)
	r.settle(t, c, l.total())
	r.stop(t)
	checkNginx(t, c, n, l)
	st := r.Stats()
	t.Logf("%d requests; %+v", l.total(), st)
	// Every rename is seen (10 per log); a copytruncate only when the log
	// had lines since the rotation before.
	if st.Rotations != nginxRotations || st.Truncations == 0 || st.LostBytes != 0 || st.FilesMissing != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestNginxRotationRestarts does the same with the Tailer stopped and
// started again twice, while rotations go on: still exactly once.
func TestNginxRotationRestarts(t *testing.T) {
	needTools(t)
	n := startNginx(t)
	c := newCollector()
	state := t.TempDir()
	r := start(t, nginxTailConfig(c, n, state))
	l := startLoad(n)
	rotateAll(t, n, l, func(i int) {
		switch i {
		case 5, 12:
			r.stop(t) // down during two rotations
		case 7, 14:
			r = start(t, nginxTailConfig(c, n, state))
		}
	})
	l.stop(t)
	r.settle(t, c, l.total())
	r.stop(t)
	checkNginx(t, c, n, l)
	if st := r.Stats(); st.FilesMissing != 0 || st.LostBytes != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestNginxRotationKilled runs the Tailer in a child process and kills it
// with SIGKILL in the middle; the next child resumes from the checkpoint.
// Nothing is lost, and the lines handed over twice are lines the killed
// child handed over within one checkpoint interval of its death.
func TestNginxRotationKilled(t *testing.T) {
	needTools(t)
	n := startNginx(t)
	state := t.TempDir()
	out := filepath.Join(t.TempDir(), "seen")
	var child *exec.Cmd
	startChild := func() {
		cfg, _ := json.Marshal(childConfig{Pattern: filepath.Join(n.logs, "*.access.log"), State: state, Out: out})
		child = exec.Command(os.Args[0], "-test.run=^TestTailChild$", "-test.v")
		child.Env = append(os.Environ(), "TAIL_TEST_CHILD="+string(cfg))
		var output bytes.Buffer // shown when the test fails
		child.Stdout, child.Stderr = &output, &output
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		c := child
		t.Cleanup(func() {
			if c.ProcessState == nil {
				c.Process.Kill() // by its process id
				c.Wait()
			}
			if t.Failed() {
				t.Logf("child %d output:\n%s", c.Process.Pid, output.String())
			}
		})
	}
	startChild()
	l := startLoad(n)
	var killedAt time.Time
	rotateAll(t, n, l, func(i int) {
		switch i {
		case 9:
			waitFor(t, "the child to hand lines over", func() bool { return len(readSeen(t, out)) > 0 })
			killedAt = time.Now()
			child.Process.Signal(syscall.SIGKILL) // by its process id
			child.Wait()
		case 11:
			startChild()
		}
	})
	l.stop(t)
	want := l.total()
	waitFor(t, "the child to hand every line over", func() bool {
		seen := map[int]bool{}
		for _, s := range readSeen(t, out) {
			seen[s.n] = true
		}
		return len(seen) == want
	})
	child.Process.Signal(syscall.SIGTERM)
	if err := child.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if disk := n.linesOnDisk(t); disk != l.sent {
		t.Fatalf("nginx logged %v lines, %v requests answered", disk, l.sent)
	}
	first := map[int]seenLine{}
	dups := 0
	for _, s := range readSeen(t, out) {
		if s.n < 0 || s.n >= l.next {
			t.Fatalf("line %d was never requested", s.n)
		}
		f, ok := first[s.n]
		if !ok {
			first[s.n] = s
			continue
		}
		dups++
		// Handed over twice: only the lines of the last checkpoint
		// interval (1s) before the kill, give or take a scheduling delay
		// on a loaded machine.
		if age := killedAt.Sub(f.at); age > 3*time.Second || f.at.After(killedAt) {
			t.Fatalf("line %d handed over again; first %v before the kill", s.n, age)
		}
	}
	if len(first) != want {
		t.Fatalf("%d lines handed over, %d requests", len(first), want)
	}
	t.Logf("%d requests, %d handed over twice after the kill", want, dups)
}

type childConfig struct{ Pattern, State, Out string }

type seenLine struct {
	n  int
	at time.Time
}

// readSeen reads the child's record: one "n unix-nanos" line per line
// handed over.
func readSeen(t *testing.T, name string) []seenLine {
	t.Helper()
	b, err := os.ReadFile(name)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []seenLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue // a line cut by the kill
		}
		n, err1 := strconv.Atoi(f[0])
		ns, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, seenLine{n: n, at: time.Unix(0, ns)})
	}
	return out
}

// TestTailChild is the child process of TestNginxRotationKilled: it runs a
// Tailer until SIGTERM and records each line handed over with one write.
func TestTailChild(t *testing.T) {
	env := os.Getenv("TAIL_TEST_CHILD")
	if env == "" {
		t.Skip("run by TestNginxRotationKilled")
	}
	var cfg childConfig
	if err := json.Unmarshal([]byte(env), &cfg); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(cfg.Out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var buf []byte
	h := numHandler(func(n int) {
		buf = strconv.AppendInt(buf[:0], int64(n), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
		buf = append(buf, '\n')
		if _, err := out.Write(buf); err != nil {
			panic(err)
		}
	})
	tl, err := New(Config{Paths: []string{cfg.Pattern}, Handler: h, StateDir: cfg.State, FromBeginning: true,
		RotateWait: time.Second, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := tl.Run(ctx); err != context.Canceled {
		t.Fatalf("Run: %v", err)
	}
	if st := tl.Stats(); st.FilesMissing != 0 || st.LostBytes != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// numHandler calls f with the number of each request, /r/<n>.
type numHandler func(n int)

func (f numHandler) ServeLine(r *ingest.Request) {
	n, err := strconv.Atoi(strings.TrimPrefix(string(r.Path), "/r/"))
	if err != nil {
		n = -1
	}
	f(n)
}
