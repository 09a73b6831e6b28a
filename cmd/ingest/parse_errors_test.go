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
	if res.code != 1 {
		t.Fatalf("res.code = %v, want 1", res.code)
	}
	if len(res.objects) != 4 {
		t.Fatalf("len(res.objects) = %d, want 4", len(res.objects))
	}
	if res.objects[0]["path"] != "/api/v1/users/42" {
		t.Errorf("res.objects[0][\"path\"] = %v, want /api/v1/users/42", res.objects[0]["path"])
	}
	failedLine(t, res.objects[1], 2, ingest.ErrTooLong)
	if res.objects[2]["path"] != "/api/v1/users/42" {
		t.Errorf("res.objects[2][\"path\"] = %v, want /api/v1/users/42", res.objects[2]["path"])
	}
	failedLine(t, res.objects[3], 4, ingest.ErrTooLong)
	if got := strings.Split(res.stdout, "\n")[1]; got != `{"line":2,"error":"ingest: line too long"}` {
		t.Errorf("strings.Split(res.stdout, \"\\n\")[1] = %q, want \"{\\\"line\\\":2,\\\"error\\\":\\\"ingest: line too long\\\"}\"", got)
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
		t.Fatalf("len(max) = %d, want %d", len(max), ingest.MaxLineLength)
	}

	res := parseCmd(t, max+"\n"+max+"\r\n"+max)
	if res.code != 0 {
		t.Fatalf("%v: res.code = %v, want 0", res.stdout, res.code)
	}
	if len(res.objects) != 3 {
		t.Fatalf("len(res.objects) = %d, want 3", len(res.objects))
	}
	for _, obj := range res.objects {
		p, _ := obj["path"].(string)
		if want := ingest.MaxLineLength - len(head) - len(tail) + 1; len(p) != want {
			t.Errorf("path of %d bytes, want %d", len(p), want)
		}
	}

	over := line(ingest.MaxLineLength + 1)
	res = parseCmd(t, over+"\n"+over+"\r\n"+over+"\n"+max)
	if res.code != 1 {
		t.Fatalf("res.code = %v, want 1", res.code)
	}
	if len(res.objects) != 4 {
		t.Fatalf("len(res.objects) = %d, want 4", len(res.objects))
	}
	for i := range 3 {
		failedLine(t, res.objects[i], i+1, ingest.ErrTooLong)
	}
	if _, ok := res.objects[3]["error"]; ok {
		t.Errorf("%q in res.objects[3]", "error")
	}
}

func TestParse_UsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--format", "json"},
		{"--format"},
		{"--no-such-flag"},
	} {
		res := parseCmd(t, "", args...)
		if res.code != 2 {
			t.Errorf("%q: res.code = %v, want 2", args, res.code)
		}
		if res.stdout != "" {
			t.Errorf("%q: res.stdout = %q, want empty", args, res.stdout)
		}
		if res.stderr == "" {
			t.Errorf("%q: res.stderr is empty", args)
		}
	}
	res := parseCmd(t, "", "--format", "json")
	if res.stderr != "ingest parse: unknown format \"json\": want combined or common\n" {
		t.Errorf("res.stderr = %q, want \"ingest parse: unknown format \\\"json\\\": want combined or common\\n\"", res.stderr)
	}

	res = parseCmd(t, "", "-h")
	if res.code != 0 {
		t.Errorf("res.code = %v, want 0", res.code)
	}
	if res.stdout != "" {
		t.Errorf("res.stdout = %q, want empty", res.stdout)
	}
	if !strings.Contains(res.stderr, "Usage: ingest parse") {
		t.Errorf("res.stderr = %q, want it to contain %q", res.stderr, "Usage: ingest parse")
	}
	if !strings.Contains(res.stderr, "-format") {
		t.Errorf("res.stderr = %q, want it to contain %q", res.stderr, "-format")
	}
}

func TestParse_IOErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.log")

	// Output up to the failing file is written, then nothing more.
	res := parseCmd(t, "", "testdata/good.log", missing, "testdata/good.log")
	if res.code != 2 {
		t.Errorf("res.code = %v, want 2", res.code)
	}
	if len(res.objects) != 4 {
		t.Errorf("len(res.objects) = %d, want 4", len(res.objects))
	}
	if res.stderr != "ingest parse: open "+missing+": no such file or directory\n" {
		t.Errorf("res.stderr = %q, want %q", res.stderr, "ingest parse: open "+missing+": no such file or directory\n")
	}

	// A directory opens but cannot be read.
	res = parseCmd(t, "", "testdata")
	if res.code != 2 {
		t.Errorf("res.code = %v, want 2", res.code)
	}
	if res.stdout != "" {
		t.Errorf("res.stdout = %q, want empty", res.stdout)
	}
	if !strings.HasPrefix(res.stderr, "ingest parse: read testdata: ") {
		t.Errorf("%v", res.stderr)
	}

	// A read error mid-stream: the complete lines before it are written,
	// the partial one is not.
	good := readFile(t, "testdata/good.log")
	errBroken := errors.New("broken pipe")
	stdin := io.MultiReader(strings.NewReader(good+"203.0.113.7 - - [10/Oct"), iotest.ErrReader(errBroken))
	res = parseFrom(t, stdin)
	if res.code != 2 {
		t.Errorf("res.code = %v, want 2", res.code)
	}
	if len(res.objects) != 4 {
		t.Errorf("len(res.objects) = %d, want 4", len(res.objects))
	}
	if res.stderr != "ingest parse: broken pipe\n" {
		t.Errorf("res.stderr = %q, want \"ingest parse: broken pipe\\n\"", res.stderr)
	}

	// A write error is reported once, with status 2.
	var stderr bytes.Buffer
	code := runParse([]string{"testdata/good.log"}, nil, failWriter{}, &stderr)
	if code != 2 {
		t.Errorf("code = %v, want 2", code)
	}
	if got := stderr.String(); got != "ingest parse: disk full\n" {
		t.Errorf("stderr = %q, want \"ingest parse: disk full\\n\"", got)
	}
}

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
		if !ok {
			t.Fatalf("want an exit status, got %v: ok is false", err)
		}
		if !exitErr.Exited() {
			t.Fatalf("killed: %v: exitErr.Exited() is false", err)
		}
		return exitErr.ExitCode()
	}

	// Closed: ">&-" in a shell.
	cmd := exec.Command(sh, "-c", `exec "$0" parse "$1" >&-`, os.Args[0], input)
	cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if got := status(cmd.Run()); got != 2 {
		t.Errorf("exit status %d, want 2; stderr: %s", got, stderr.String())
	}
	if got := stderr.String(); got != "ingest parse: stdout is closed\n" {
		t.Errorf("stderr = %q, want \"ingest parse: stdout is closed\\n\"", got)
	}

	// A stdout sent to /dev/null by the shell is not closed.
	cmd = exec.Command(sh, "-c", `exec "$0" parse "$1" >/dev/null`, os.Args[0], input)
	cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
	if got := status(cmd.Run()); got != 1 {
		t.Errorf("one line of two fails: exit status %d, want 1", got)
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
	if got := status(cmd.Wait()); got != 2 {
		t.Errorf("exit status %d, want 2; stderr: %s", got, stderr.String())
	}
	if got := stderr.String(); !strings.Contains(got, "broken pipe") {
		t.Errorf("stderr = %q, want it to contain %q", got, "broken pipe")
	}
	if got := strings.Count(stderr.String(), "\n"); got != 1 {
		t.Errorf("%v: strings.Count(stderr.String(), \"\\n\") = %v, want 1", stderr.String(), got)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
