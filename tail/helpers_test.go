//go:build unix

package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flatheap/ingest"
)

// accessLine returns a combined-format line whose path is /r/<n>, ending
// with "\n".
func accessLine(n int) string {
	return `127.0.0.1 - - [06/Dec/2026:07:19:10 +0000] "GET /r/` + strconv.Itoa(n) +
		` HTTP/1.1" 200 5 "-" "tail-test"` + "\n"
}

// lines returns accessLine(from) .. accessLine(to-1).
func lines(from, to int) string {
	var b strings.Builder
	for n := from; n < to; n++ {
		b.WriteString(accessLine(n))
	}
	return b.String()
}

// collector counts the requests it is handed, by the number in their path
// and by the name of the file they came from.
type collector struct {
	mu     sync.Mutex
	seen   map[int]int // /r/<n> -> times handed over
	byName map[string]int
	total  int
}

func newCollector() *collector {
	return &collector{seen: make(map[int]int), byName: make(map[string]int)}
}

func (c *collector) ServeLine(r *ingest.Request) { c.ServeFileLine("", r) }

func (c *collector) ServeFileLine(name string, r *ingest.Request) {
	n, err := strconv.Atoi(strings.TrimPrefix(string(r.Path), "/r/"))
	if err != nil {
		n = -1
	}
	c.mu.Lock()
	c.seen[n]++
	c.byName[name]++
	c.total++
	c.mu.Unlock()
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// exactly checks that every number in [from, to) was handed over exactly
// once and nothing else was.
func (c *collector) exactly(t testing.TB, from, to int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var missing, dup []int
	for n := from; n < to; n++ {
		switch c.seen[n] {
		case 0:
			missing = append(missing, n)
		case 1:
		default:
			dup = append(dup, n)
		}
	}
	extra := 0
	for n := range c.seen {
		if n < from || n >= to {
			extra++
		}
	}
	if len(missing) > 0 || len(dup) > 0 || extra > 0 || c.total != to-from {
		t.Fatalf("handed over %d lines, want %d: %d missing (first %v), %d twice (first %v), %d outside [%d,%d)",
			c.total, to-from, len(missing), head(missing), len(dup), head(dup), extra, from, to)
	}
}

func head(s []int) []int { return s[:min(len(s), 5)] }

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			if os.Getenv("TAIL_DEBUG") != "" {
				panic(what)
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// running is a Tailer running on a goroutine of its own.
type running struct {
	*Tailer
	errc chan error
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start makes a Tailer from c and runs it until the test ends.
func start(t testing.TB, c Config) *running {
	t.Helper()
	if c.Logger == nil {
		c.Logger = quietLogger()
	}
	tl, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{Tailer: tl, errc: make(chan error, 1)}
	go func() { r.errc <- tl.Run(context.Background()) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop shuts the Tailer down and checks Run's result.
func (r *running) stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case err := <-r.errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Run returned %v, want ErrClosed", err)
		}
		r.errc <- ErrClosed // for a second stop
	case <-ctx.Done():
		t.Fatal("Run did not return")
	}
}

// settle waits until the Tailer has handed over want lines in all and has
// read every byte of the files named.
func (r *running) settle(t testing.TB, c *collector, want int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d lines", want), func() bool { return c.count() >= want })
}

func appendFile(t testing.TB, name, s string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// copyTruncate does what logrotate's copytruncate does: copy name to dst,
// then truncate name.
func copyTruncate(t testing.TB, name, dst string) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(name, 0); err != nil {
		t.Fatal(err)
	}
}

// modes runs f with inotify and with polling.
func modes(t *testing.T, f func(t *testing.T, poll bool)) {
	for _, poll := range []bool{false, true} {
		name := "inotify"
		if poll {
			name = "poll"
		}
		t.Run(name, func(t *testing.T) { f(t, poll) })
	}
}

func tempLog(t testing.TB) (dir, name string) {
	dir = t.TempDir()
	return dir, filepath.Join(dir, "access.log")
}

// startEmpty creates an empty log file, starts a Tailer on it that hands
// its lines to a new collector, and waits until the Tailer follows it.
func startEmpty(t testing.TB, poll bool) (dir, name string, c *collector, r *running) {
	t.Helper()
	dir, name = tempLog(t)
	appendFile(t, name, "")
	c = newCollector()
	r = start(t, testConfig(c, poll, name))
	waitFor(t, "the file", func() bool { return r.Stats().Files == 1 })
	return dir, name, c, r
}
