package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/flatheap/ingest"
)

func TestParse_TooLong(t *testing.T) {
	good := readFile(t, "testdata/good.log")
	first := good[:strings.IndexByte(good, '\n')+1]
	huge := strings.Repeat("x", 3*ingest.MaxLineLength+123)

	// A too-long line in the middle, and one at the end without a newline.
	res := parseCmd(t, first+huge+"\n"+first+huge)
	checkRun(t, res, 1, 4, true)
	checkFields(t, "line 1", res.objects[0], map[string]any{"path": "/api/v1/users/42"})
	failedLine(t, res.objects[1], 2, ingest.ErrTooLong)
	checkFields(t, "line 3", res.objects[2], map[string]any{"path": "/api/v1/users/42"})
	failedLine(t, res.objects[3], 4, ingest.ErrTooLong)
	const want = `{"line":2,"error":"ingest: line too long"}`
	if got := strings.Split(res.stdout, "\n")[1]; got != want {
		t.Errorf("line 2: %s, want %s", got, want)
	}
}

// TestParse_LengthLimit checks the edge: a line of exactly MaxLineLength
// bytes parses, with either line ending; one byte more does not.
func TestParse_LengthLimit(t *testing.T) {
	const head = `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /`
	const tail = ` HTTP/1.1" 200 1 "-" "ua"`
	line := func(n int) string {
		return head + strings.Repeat("a", n-len(head)-len(tail)) + tail
	}
	max := line(ingest.MaxLineLength)
	if len(max) != ingest.MaxLineLength {
		t.Fatalf("the line has %d bytes, want %d", len(max), ingest.MaxLineLength)
	}

	res := parseCmd(t, max+"\n"+max+"\r\n"+max)
	checkRun(t, res, 0, 3, true)
	for i, obj := range res.objects {
		p, _ := obj["path"].(string)
		if want := ingest.MaxLineLength - len(head) - len(tail) + 1; len(p) != want {
			t.Errorf("line %d: a path of %d bytes, want %d", i+1, len(p), want)
		}
	}

	over := line(ingest.MaxLineLength + 1)
	res = parseCmd(t, over+"\n"+over+"\r\n"+over+"\n"+max)
	checkRun(t, res, 1, 4, true)
	for i := range 3 {
		failedLine(t, res.objects[i], i+1, ingest.ErrTooLong)
	}
	checkFields(t, "line 4", res.objects[3], map[string]any{"error": nil})
}

func TestParse_UsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--format", "json"},
		{"--format"},
		{"--no-such-flag"},
	} {
		res := parseCmd(t, "", args...)
		if res.code != 2 || res.stdout != "" || res.stderr == "" {
			t.Errorf("%q: exit status %d, stdout %q, stderr %q; want 2, nothing, an error", args, res.code, res.stdout, res.stderr)
		}
	}
	res := parseCmd(t, "", "--format", "json")
	if want := "ingest parse: unknown format \"json\": want combined or common\n"; res.stderr != want {
		t.Errorf("stderr %q, want %q", res.stderr, want)
	}

	res = parseCmd(t, "", "-h")
	if res.code != 0 || res.stdout != "" {
		t.Errorf("-h: exit status %d, stdout %q; want 0, nothing", res.code, res.stdout)
	}
	for _, want := range []string{"Usage: ingest parse", "-format"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("-h does not say %q: %s", want, res.stderr)
		}
	}
}

func TestParse_IOErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.log")
	f := func(what string, res result, objects int, stderr string) {
		t.Helper()
		if res.code != 2 || len(res.objects) != objects || res.stderr != stderr {
			t.Errorf("%s: exit status %d, %d objects, stderr %q; want 2, %d, %q", what, res.code, len(res.objects), res.stderr, objects, stderr)
		}
	}

	// Output up to the failing file is written, then nothing more.
	f("a missing file", parseCmd(t, "", "testdata/good.log", missing, "testdata/good.log"),
		4, "ingest parse: open "+missing+": no such file or directory\n")

	// A directory opens but cannot be read.
	res := parseCmd(t, "", "testdata")
	if res.code != 2 || res.stdout != "" || !strings.HasPrefix(res.stderr, "ingest parse: read testdata: ") {
		t.Errorf("a directory: exit status %d, stdout %q, stderr %q; want 2, nothing, a read error", res.code, res.stdout, res.stderr)
	}

	// A read error mid-stream: the complete lines before it are written,
	// the partial one is not.
	good := readFile(t, "testdata/good.log")
	stdin := io.MultiReader(strings.NewReader(good+"203.0.113.7 - - [10/Oct"), iotest.ErrReader(errors.New("broken pipe")))
	f("a read error", parseFrom(t, stdin), 4, "ingest parse: broken pipe\n")

	// A write error is reported once, with status 2.
	var stderr bytes.Buffer
	code := runParse([]string{"testdata/good.log"}, nil, failWriter{}, &stderr)
	f("a write error", result{code: code, stderr: stderr.String()}, 0, "ingest parse: disk full\n")
}

// failWriter fails every write, as a full disk does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestParse_ClosedStdout checks that a stdout closed at start, and a pipe
// whose reader has gone, are I/O errors (status 2), not parse results and
// not a death by SIGPIPE.
func TestParse_ClosedStdout(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to start a child with its stdout closed")
	}
	input := filepath.Join(t.TempDir(), "in.log")
	good := `203.0.113.7 - - [26/Nov/2026:00:30:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "-"` + "\n"
	if err := os.WriteFile(input, []byte(good+"bad\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	status := func(err error) int {
		t.Helper()
		exitErr, ok := errors.AsType[*exec.ExitError](err)
		if !ok || !exitErr.Exited() {
			t.Fatalf("want an exit status, got %v", err)
		}
		return exitErr.ExitCode()
	}

	// Closed: ">&-" in a shell.
	cmd := exec.Command(sh, "-c", `exec "$0" parse "$1" >&-`, os.Args[0], input)
	cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if code := status(cmd.Run()); code != 2 || stderr.String() != "ingest parse: stdout is closed\n" {
		t.Errorf("closed stdout: exit status %d, stderr %q; want 2, the error", code, stderr.String())
	}

	// A stdout sent to /dev/null by the shell is not closed: one line of
	// two fails.
	cmd = exec.Command(sh, "-c", `exec "$0" parse "$1" >/dev/null`, os.Args[0], input)
	cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
	if code := status(cmd.Run()); code != 1 {
		t.Errorf("stdout to /dev/null: exit status %d, want 1", code)
	}

	// A pipe whose reader is closed: more output than the pipe holds, so a
	// write fails whatever the timing.
	big := filepath.Join(t.TempDir(), "big.log")
	if err := os.WriteFile(big, bytes.Repeat([]byte(good), 20000), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(os.Args[0], "parse", big)
	cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
	stderr.Reset()
	cmd.Stderr = &stderr
	pr, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	code := status(cmd.Wait())
	if code != 2 || !strings.Contains(stderr.String(), "broken pipe") || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("a closed pipe: exit status %d, stderr %q; want 2, one line saying broken pipe", code, stderr.String())
	}
}
