package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flatheap/ingest"
)

func followLine(path string) string {
	return `192.0.2.1 - - [06/Dec/2026:07:19:10 +0000] "GET ` + path + ` HTTP/1.1" 200 5 "-" "follow-test"` + "\n"
}

func appendTo(t *testing.T, name, s string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestParseFollow runs "ingest parse --follow FILE" as a process: it
// writes the lines there already, then the lines appended, through a
// rotation, as they come, and exits on SIGINT with status 1 because one
// line failed.
func TestParseFollow(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "access.log")
	appendTo(t, name, followLine("/a")+"not an access line\n")

	cmd := exec.Command(os.Args[0], "parse", "--follow", name)
	cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // by its process id, should the test fail first
	objs := make(chan map[string]any, 16)
	go func() {
		defer close(objs)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				m = map[string]any{"invalid": sc.Text()}
			}
			objs <- m
		}
	}()
	next := func() map[string]any {
		t.Helper()
		select {
		case m, ok := <-objs:
			if !ok {
				t.Fatal("output ended early")
			}
			return m
		case <-time.After(20 * time.Second):
			t.Fatal("no output line within 20s")
			return nil
		}
	}

	wantPath := func(want string) {
		t.Helper()
		if got := next()["path"]; got != want {
			t.Errorf("path %v, want %s", got, want)
		}
	}
	wantPath("/a")
	bad := next()
	if msg, _ := bad["error"].(string); bad["line"] != 2.0 || !strings.Contains(msg, ingest.ErrNotAccessLine.Error()) {
		t.Errorf("bad line reported as %v, want line 2 with %q", bad, ingest.ErrNotAccessLine)
	}

	appendTo(t, name, followLine("/b"))
	wantPath("/b")

	// Rotation: the old file is finished, the new one followed.
	if err := os.Rename(name, name+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, name+".1", followLine("/c"))
	appendTo(t, name, followLine("/d"))
	got := []string{}
	for range 2 {
		p, _ := next()["path"].(string)
		got = append(got, p)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"/c", "/d"}) {
		t.Errorf("paths after the rotation %q, want /c and /d", got)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if m, open := <-objs; open {
		t.Errorf("more output after SIGINT: %v", m)
	}
	err = cmd.Wait()
	exitErr, ok := errors.AsType[*exec.ExitError](err)
	if !ok || exitErr.ExitCode() != 1 {
		t.Errorf("exit %v, want status 1: one line failed", err)
	}
}

func TestParseFollowUsage(t *testing.T) {
	res := parseCmd(t, "", "--follow")
	if res.code != 2 || !strings.Contains(res.stderr, "--follow needs FILE names") {
		t.Errorf("--follow without a file: status %d, %q", res.code, res.stderr)
	}
	if res = parseCmd(t, "", "--follow", "-"); res.code != 2 {
		t.Errorf("--follow -: status %d, want 2", res.code)
	}
}
