//go:build linux

package tail

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/internal/realtest"
)

// needTools skips the test when nginx or logrotate is missing, except on
// CI, where it fails.
func needTools(t *testing.T) {
	t.Helper()
	realtest.Need(t, realtest.Nginx, "nginx")
	realtest.Need(t, realtest.Logrotate, "logrotate")
}

// startNginx starts a real nginx serving two sites on loopback, each
// logging to its own file, a.access.log and b.access.log, in the combined
// format.
func startNginx(t *testing.T) *realtest.NginxSite {
	n := realtest.NewNginx(t)
	n.Start(t, n.FileLogs(2)...)
	return n
}

func nginxTailConfig(c *collector, n *realtest.NginxSite, state string) Config {
	return Config{
		Paths:         []string{filepath.Join(n.Logs, "*.access.log")},
		Handler:       c,
		StateDir:      state,
		FromBeginning: true,
		RotateWait:    time.Second,
		Logger:        quietLogger(),
	}
}

// checkNginx checks that the lines handed over are exactly the requests
// answered, per file name.
func checkNginx(t *testing.T, c *collector, n *realtest.NginxSite, l *realtest.Load) {
	t.Helper()
	sent := l.Sent()
	if disk := n.LinesOnDisk(t); !slices.Equal(disk, sent) {
		t.Fatalf("nginx logged %v lines, %v requests answered", disk, sent)
	}
	c.exactly(t, 0, l.Total())
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range sent {
		name := n.LogFile(i)
		if c.byName[name] != sent[i] {
			t.Fatalf("%s: %d lines, %d requests", name, c.byName[name], sent[i])
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
	l := realtest.StartLoad(n, nil)
	realtest.RotateAll(t, n, l, nil)
	l.Stop(t)
	r.settle(t, c, l.Total())
	r.stop(t)
	checkNginx(t, c, n, l)
	st := r.Stats()
	t.Logf("%d requests; %+v", l.Total(), st)
	// Every rename is seen (10 per log); a copytruncate only when the log
	// had lines since the rotation before.
	if st.Rotations != realtest.Rotations || st.Truncations == 0 || st.LostBytes != 0 || st.FilesMissing != 0 {
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
	l := realtest.StartLoad(n, nil)
	realtest.RotateAll(t, n, l, func(i int) {
		switch i {
		case 5, 12:
			r.stop(t) // down during two rotations
		case 7, 14:
			r = start(t, nginxTailConfig(c, n, state))
		}
	})
	l.Stop(t)
	r.settle(t, c, l.Total())
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
		cfg, _ := json.Marshal(childConfig{Pattern: filepath.Join(n.Logs, "*.access.log"), State: state, Out: out})
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
	l := realtest.StartLoad(n, nil)
	var killedAt time.Time
	realtest.RotateAll(t, n, l, func(i int) {
		switch i {
		case 9:
			waitFor(t, "the child to hand lines over", func() bool { return len(readSeen(t, out)) > 0 })
			child.Process.Signal(syscall.SIGKILL) // by its process id
			child.Wait()
			// Taken once the child is dead: it may hand lines over until
			// the signal lands.
			killedAt = time.Now()
		case 11:
			startChild()
		}
	})
	l.Stop(t)
	want := l.Total()
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
	if disk, sent := n.LinesOnDisk(t), l.Sent(); !slices.Equal(disk, sent) {
		t.Fatalf("nginx logged %v lines, %v requests answered", disk, sent)
	}
	first := map[int]seenLine{}
	dups := 0
	for _, s := range readSeen(t, out) {
		if s.n < 0 || s.n >= want {
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
