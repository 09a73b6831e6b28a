package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flatheap/ingest"
)

func followLine(path string) string {
	return `192.0.2.1 - - [06/Dec/2026:07:19:10 +0000] "GET ` + path + ` HTTP/1.1" 200 5 "-" "follow-test"` + "\n"
}

func appendTo(t *testing.T, name, s string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
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
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
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
			require.True(t, ok, "output ended early")
			return m
		case <-time.After(20 * time.Second):
			t.Fatal("no output line within 20s")
			return nil
		}
	}

	assert.Equal(t, "/a", next()["path"])
	bad := next()
	assert.EqualValues(t, 2, bad["line"])
	assert.Contains(t, bad["error"], ingest.ErrMissingField.Error())

	appendTo(t, name, followLine("/b"))
	assert.Equal(t, "/b", next()["path"])

	// Rotation: the old file is finished, the new one followed.
	require.NoError(t, os.Rename(name, name+".1"))
	appendTo(t, name+".1", followLine("/c"))
	appendTo(t, name, followLine("/d"))
	got := []any{next()["path"], next()["path"]}
	assert.ElementsMatch(t, []any{"/c", "/d"}, got)

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	_, open := <-objs
	assert.False(t, open, "no more output")
	err = cmd.Wait()
	exitErr, ok := errors.AsType[*exec.ExitError](err)
	require.True(t, ok, "exit: %v", err)
	assert.Equal(t, 1, exitErr.ExitCode(), "one line failed")
}

func TestParseFollowUsage(t *testing.T) {
	res := parseCmd(t, "", "--follow")
	assert.Equal(t, 2, res.code)
	assert.Contains(t, res.stderr, "--follow needs FILE names")
	res = parseCmd(t, "", "--follow", "-")
	assert.Equal(t, 2, res.code)
}
