//go:build unix

package tail

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flatheap/ingest"
)

func testConfig(c *collector, poll bool, paths ...string) Config {
	return Config{
		Paths:        paths,
		Handler:      c,
		Poll:         poll,
		PollInterval: 20 * time.Millisecond,
		RotateWait:   300 * time.Millisecond,
	}
}

func TestStartAtEndThenFollow(t *testing.T) {
	modes(t, func(t *testing.T, poll bool) {
		_, name := tempLog(t)
		appendFile(t, name, lines(0, 10)+`127.0.0.1 - - [06/Dec/2026:07:19:10 +0000] "GET /r/`) // a line being written
		c := newCollector()
		r := start(t, testConfig(c, poll, name))
		waitFor(t, "the first pass", func() bool { return r.Stats().Files == 1 })
		appendFile(t, name, "99 HTTP/1.1\" 200 5 \"-\" \"x\"\n"+lines(10, 20))
		r.settle(t, c, 10)
		r.stop(t)
		c.exactly(t, 10, 20) // the cut line's rest is skipped, not framed as a line
		st := r.Stats()
		if st.Lines != 10 || st.Parsed != 10 || st.ParseErrors != 0 {
			t.Fatalf("stats %+v", st)
		}
		if st.Bytes != uint64(len(lines(10, 20))+len("99 HTTP/1.1\" 200 5 \"-\" \"x\"\n")) {
			t.Fatalf("bytes %d", st.Bytes)
		}
	})
}

func TestFromBeginning(t *testing.T) {
	modes(t, func(t *testing.T, poll bool) {
		_, name := tempLog(t)
		appendFile(t, name, lines(0, 100))
		c := newCollector()
		cfg := testConfig(c, poll, name)
		cfg.FromBeginning = true
		r := start(t, cfg)
		r.settle(t, c, 100)
		appendFile(t, name, lines(100, 150))
		r.settle(t, c, 150)
		r.stop(t)
		c.exactly(t, 0, 150)
	})
}

func TestFileAppearsLater(t *testing.T) {
	modes(t, func(t *testing.T, poll bool) {
		_, name := tempLog(t)
		c := newCollector()
		r := start(t, testConfig(c, poll, name))
		time.Sleep(50 * time.Millisecond) // let the first pass find nothing
		appendFile(t, name, lines(0, 30))
		r.settle(t, c, 30)
		r.stop(t)
		c.exactly(t, 0, 30)
	})
}

func TestPartialLine(t *testing.T) {
	modes(t, func(t *testing.T, poll bool) {
		_, name, c, r := startEmpty(t, poll)
		l := accessLine(7)
		appendFile(t, name, l[:40])
		time.Sleep(100 * time.Millisecond)
		if c.count() != 0 {
			t.Fatal("a partial line was handed over")
		}
		appendFile(t, name, l[40:])
		r.settle(t, c, 1)
		r.stop(t)
		c.exactly(t, 7, 8)
	})
}

func TestRenameRotation(t *testing.T) {
	modes(t, func(t *testing.T, poll bool) {
		dir, name, c, r := startEmpty(t, poll)
		appendFile(t, name, lines(0, 100))
		// Rotate: rename, then the server keeps writing to the old file
		// until it reopens, and the new file gets the rest.
		old := filepath.Join(dir, "access.log.1")
		if err := os.Rename(name, old); err != nil {
			t.Fatal(err)
		}
		appendFile(t, name, "")
		appendFile(t, old, lines(100, 200))
		appendFile(t, name, lines(200, 300))
		appendFile(t, old, lines(300, 310)) // a late worker
		r.settle(t, c, 310)
		// Rotate again while the first old file may still be open.
		if err := os.Rename(old, filepath.Join(dir, "access.log.2")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(name, old); err != nil {
			t.Fatal(err)
		}
		appendFile(t, name, lines(310, 400))
		r.settle(t, c, 400)
		waitFor(t, "the old files closed", func() bool { return r.Stats().Files == 1 })
		r.stop(t)
		c.exactly(t, 0, 400)
		if st := r.Stats(); st.Rotations != 2 {
			t.Fatalf("rotations %d, want 2", st.Rotations)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.byName[name] != 400 {
			t.Fatalf("by name %v: every line belongs to %s", c.byName, name)
		}
	})
}

func TestRemovedAndRecreated(t *testing.T) {
	modes(t, func(t *testing.T, poll bool) {
		_, name, c, r := startEmpty(t, poll)
		appendFile(t, name, lines(0, 50))
		r.settle(t, c, 50)
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the removal", func() bool { return r.Stats().Rotations == 1 })
		appendFile(t, name, lines(50, 80))
		r.settle(t, c, 80)
		r.stop(t)
		c.exactly(t, 0, 80)
	})
}

func TestCopyTruncateRunning(t *testing.T) {
	modes(t, func(t *testing.T, poll bool) {
		dir, name, c, r := startEmpty(t, poll)
		next := 0
		for i := range 5 {
			appendFile(t, name, lines(next, next+100))
			next += 100
			if i%2 == 0 {
				r.settle(t, c, next) // read all before the copy; else the copy has the rest
			}
			copyTruncate(t, name, filepath.Join(dir, "access.log."+string(rune('1'+i))))
			appendFile(t, name, lines(next, next+10))
			next += 10
			waitFor(t, "lines", func() bool { return c.count() >= next || t.Failed() })
			if c.count() < next {
				t.Fatalf("%d lines, want %d; %+v", c.count(), next, r.Stats())
			}
		}
		r.stop(t)
		c.exactly(t, 0, next)
		st := r.Stats()
		if st.Truncations != 5 || st.LostBytes != 0 {
			t.Fatalf("truncations %d lost %d, want 5 and 0", st.Truncations, st.LostBytes)
		}
	})
}

// TestTruncateWithoutCopy: the unread rest of a truncated file that has no
// copy is counted as lost, and the file is read again from its start.
func TestTruncateWithoutCopy(t *testing.T) {
	_, name := tempLog(t)
	appendFile(t, name, lines(0, 10))
	c := newCollector()
	cfg := testConfig(c, false, name)
	cfg.FromBeginning = true
	r := start(t, cfg)
	r.settle(t, c, 10)
	if err := os.Truncate(name, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the truncation", func() bool { return r.Stats().Truncations == 1 })
	appendFile(t, name, lines(10, 20))
	r.settle(t, c, 20)
	r.stop(t)
	c.exactly(t, 0, 20)
	if st := r.Stats(); st.LostBytes != 0 || st.CopiesRead != 0 {
		t.Fatalf("lost %d copies %d: nothing was unread", st.LostBytes, st.CopiesRead)
	}
}

func TestGlobPicksUpNewFiles(t *testing.T) {
	modes(t, func(t *testing.T, poll bool) {
		dir := t.TempDir()
		a := filepath.Join(dir, "a-access.log")
		appendFile(t, a, lines(0, 5)) // there before: start at the end
		c := newCollector()
		cfg := testConfig(c, poll, filepath.Join(dir, "*access.log"))
		cfg.RescanInterval = 50 * time.Millisecond
		r := start(t, cfg)
		waitFor(t, "the first file", func() bool { return r.Stats().Files == 1 })
		b := filepath.Join(dir, "b-access.log")
		appendFile(t, b, lines(100, 120))
		appendFile(t, a, lines(5, 10))
		appendFile(t, filepath.Join(dir, "error.log"), "not followed\n")
		r.settle(t, c, 25)
		r.stop(t)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.byName[a] != 5 || c.byName[b] != 20 || c.total != 25 {
			t.Fatalf("by name %v", c.byName)
		}
	})
}

func TestTooLongLines(t *testing.T) {
	_, name := tempLog(t)
	long := strings.Repeat("x", 3*ingest.MaxLineLength) + "\n"
	justTooLong := strings.Repeat("y", ingest.MaxLineLength+1) + "\r\n"
	appendFile(t, name, lines(0, 3)+long+lines(3, 6)+justTooLong+lines(6, 9)+"\n\r\n"+"garbage\n")
	c := newCollector()
	var bad []string
	cfg := testConfig(c, false, name)
	cfg.FromBeginning = true
	cfg.BadLineInterval = -1
	cfg.OnBadLine = func(line []byte, from string, err error) {
		if from != name {
			t.Errorf("bad line from %q", from)
		}
		bad = append(bad, ingest.ErrorReason(err)+":"+string(line[:min(len(line), 3)]))
		if errors.Is(err, ingest.ErrTooLong) && len(line) != ingest.MaxLineLength {
			t.Errorf("too long line passed with %d bytes", len(line))
		}
	}
	cfg.ReadBuffer = minReadBuffer // the long line spans several reads
	r := start(t, cfg)
	r.settle(t, c, 9)
	waitFor(t, "every line", func() bool { return r.Stats().Lines == 12 })
	r.stop(t)
	c.exactly(t, 0, 9)
	st := r.Stats()
	if st.TooLong != 2 || st.ParseErrors != 3 || st.ParseErrorsFor("too_long") != 2 ||
		st.Lines != st.Parsed+st.ParseErrors {
		t.Fatalf("stats %+v", st)
	}
	if want := "too_long:xxx too_long:yyy " + ingest.ErrorReason(parseErr("garbage")) + ":gar"; strings.Join(bad, " ") != want {
		t.Fatalf("bad lines %q, want %q", bad, want)
	}
}

func parseErr(line string) error {
	var p ingest.Parser
	var r ingest.Request
	return p.Parse(&r, []byte(line))
}

func TestHandlerPanicRecovered(t *testing.T) {
	_, name := tempLog(t)
	appendFile(t, name, lines(0, 10))
	n := 0
	cfg := Config{Paths: []string{name}, FromBeginning: true, Logger: quietLogger(),
		Handler: ingest.HandlerFunc(func(r *ingest.Request) {
			if n++; n%2 == 0 {
				panic("boom")
			}
		})}
	tl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- tl.Run(ctx) }()
	waitFor(t, "10 lines", func() bool { return tl.Stats().Parsed == 10 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	if st := tl.Stats(); st.HandlerPanics != 5 {
		t.Fatalf("panics %d, want 5", st.HandlerPanics)
	}
	if err := tl.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Run: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	h := newCollector()
	f := func(c Config, field string) {
		t.Helper()
		_, err := New(c)
		var ce *ingest.ConfigError
		if !errors.As(err, &ce) || ce.Field != field || !errors.Is(err, ingest.ErrConfig) {
			t.Fatalf("New(%+v) = %v, want a ConfigError for %s", c, err, field)
		}
	}
	f(Config{Paths: []string{"x"}}, "Handler")
	f(Config{Handler: h}, "Paths")
	f(Config{Handler: h, Paths: []string{""}}, "Paths")
	f(Config{Handler: h, Paths: []string{"a/["}}, "Paths")
	f(Config{Handler: h, Paths: []string{"x"}, ReadBuffer: 1000}, "ReadBuffer")
	f(Config{Handler: h, Paths: []string{"x"}, MaxFiles: -1}, "MaxFiles")
	f(Config{Handler: h, Paths: []string{"x"}, PollInterval: -time.Second}, "PollInterval")
}

func TestMaxFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.log", "b.log", "c.log"} {
		appendFile(t, filepath.Join(dir, n), lines(0, 1))
	}
	c := newCollector()
	cfg := testConfig(c, false, filepath.Join(dir, "*.log"))
	cfg.MaxFiles = 2
	cfg.FromBeginning = true
	r := start(t, cfg)
	r.settle(t, c, 2)
	st := r.Stats()
	if st.Files != 2 || st.FilesRefused == 0 {
		t.Fatalf("files %d refused %d", st.Files, st.FilesRefused)
	}
}

// TestRotatedTwiceBetweenLooks: a file put at the name and rotated away
// before the Tailer looked is found beside the name and read whole; files
// that do not look rotated are left alone.
func TestRotatedTwiceBetweenLooks(t *testing.T) {
	dir, name := tempLog(t)
	appendFile(t, name, lines(0, 10))
	c := newCollector()
	s := newSyncTailer(t, name, c)
	s.now = time.Now()
	s.follow()
	mv := func(from, to string) {
		t.Helper()
		if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
			t.Fatal(err)
		}
	}
	mv("access.log", "access.log.1")
	appendFile(t, name, lines(10, 20)) // never seen at the name
	mv("access.log.1", "access.log.2")
	mv("access.log", "access.log.1")
	appendFile(t, name, lines(20, 30))
	appendFile(t, filepath.Join(dir, "access.log.bak"), lines(100, 110))
	s.now = time.Now()
	s.check(s.w)
	c.exactly(t, 0, 30)
	if st := s.Stats(); st.SkippedRead != 1 || st.Rotations != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRotatedName(t *testing.T) {
	f := func(n string, want bool) {
		t.Helper()
		if got := rotatedName(n, "access.log"); got != want {
			t.Fatalf("rotatedName(%q) = %v", n, got)
		}
	}
	f("access.log.1", true)
	f("access.log-20261206", true)
	f("access.log_2", true)
	f("access.log.1.gz", false)
	f("access.log-20261206.zst", false)
	f("access.log.bak", false)
	f("access.log", false)
	f("access.logs.1", false)
	f("error.log.1", false)
}
