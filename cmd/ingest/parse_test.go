package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/flatheap/ingest"
)

// TestMain runs the command itself instead of the tests when the test binary
// is started by TestExitStatus, so real exit codes are checked without
// building a binary.
func TestMain(m *testing.M) {
	if os.Getenv("INGEST_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// result is the outcome of one runParse call.
type result struct {
	code    int
	stdout  string
	stderr  string
	objects []map[string]any // stdout, one decoded object per line
}

// parseCmd calls runParse and checks that stdout is JSON Lines: every line
// a valid JSON object and the output ending with a newline.
func parseCmd(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return parseFrom(t, strings.NewReader(stdin), args...)
}

func parseFrom(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	res := result{code: runParse(args, stdin, &stdout, &stderr)}
	res.stdout, res.stderr = stdout.String(), stderr.String()
	res.objects = decodeLines(t, res.stdout)
	return res
}

func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatal("output does not end with a newline: strings.HasSuffix(out, \"\\n\") is false")
	}
	var objs []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("output line %d is not valid JSON: %s: json.Valid([]byte(line)) is false", i+1, line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("output line %d: %v", i+1, err)
		}
		objs = append(objs, m)
	}
	return objs
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// failedLine asserts that obj reports line n failing with sentinel.
func failedLine(t *testing.T, obj map[string]any, n int, sentinel error) {
	t.Helper()
	if want := map[string]any{"line": float64(n), "error": obj["error"]}; !maps.Equal(obj, want) {
		t.Errorf("line %d: %v, want %v", n, obj, want)
	}
	msg, _ := obj["error"].(string)
	if !strings.HasPrefix(msg, sentinel.Error()) {
		t.Errorf("line %d: error %q, want %q: strings.HasPrefix(msg, sentinel.Error()) is false", n, msg, sentinel)
	}
}

func TestParse_Good(t *testing.T) {
	res := parseCmd(t, "", "testdata/good.log")
	if res.code != 0 {
		t.Fatalf("%v: res.code = %v, want 0", res.stderr, res.code)
	}
	if res.stderr != "" {
		t.Fatalf("res.stderr = %q, want empty", res.stderr)
	}
	if len(res.objects) != 4 {
		t.Fatalf("len(res.objects) = %d, want 4", len(res.objects))
	}

	want := []map[string]any{{
		"remote_addr": "203.0.113.7", "remote_user": "", "time": "2026-10-10T13:55:36+00:00",
		"method": "GET", "path": "/api/v1/users/42", "query": "expand=orders", "protocol": "HTTP/1.1",
		"status": float64(200), "body_bytes_sent": float64(1534), "referer": "https://example.com/start",
		"user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"request":    "GET /api/v1/users/42?expand=orders HTTP/1.1",
	}, {
		"remote_addr": "198.51.100.23", "remote_user": "frank", "time": "2026-10-10T15:55:37+02:00",
		"method": "POST", "path": "/login", "query": "", "protocol": "HTTP/2.0",
		"status": float64(302), "body_bytes_sent": float64(0), "referer": "", "user_agent": "curl/8.5.0",
		"request": "POST /login HTTP/2.0",
	}, {
		"remote_addr": "192.0.2.1", "remote_user": "", "time": "2026-10-10T13:55:38+00:00",
		"method": "GET", "path": "/search", "query": `q=\x22go\x22`, "protocol": "HTTP/1.1",
		"status": float64(200), "body_bytes_sent": float64(512), "referer": "",
		"user_agent": `Mozilla/5.0 \x22quoted\x22`, "request": `GET /search?q=\x22go\x22 HTTP/1.1`,
		"syslog_priority": float64(190), "syslog_host": "web01", "syslog_tag": "nginx",
	}, {
		"remote_addr": "2001:db8::1", "remote_user": "", "time": "2026-10-10T08:55:39-05:00",
		"method": "HEAD", "path": "/healthz", "query": "", "protocol": "HTTP/1.1",
		"status": float64(204), "body_bytes_sent": float64(0), "referer": "", "user_agent": "kube-probe/1.30",
		"request":         "HEAD /healthz HTTP/1.1",
		"syslog_priority": float64(165), "syslog_host": "web02", "syslog_tag": "nginx",
	}}
	for i := range want {
		if !maps.Equal(res.objects[i], want[i]) {
			t.Errorf("line %d: res.objects[i] = %v, want %v", i+1, res.objects[i], want[i])
		}
	}
}

func TestParse_FailuresKeepOrder(t *testing.T) {
	res := parseCmd(t, "", "testdata/mixed.log")
	if res.code != 1 {
		t.Fatalf("%v: res.code = %v, want 1", res.stderr, res.code)
	}
	if res.stderr != "" {
		t.Fatalf("res.stderr = %q, want empty", res.stderr)
	}
	if len(res.objects) != 8 {
		t.Fatalf("one object per input line, the last one has no newline: len(res.objects) = %d, want 8", len(res.objects))
	}

	paths := map[int]string{1: "/one", 4: "/two", 7: "/three", 8: "/last-no-newline"}
	for i, obj := range res.objects {
		n := i + 1
		if p, ok := paths[n]; ok {
			if obj["path"] != p {
				t.Errorf("line %d: obj[\"path\"] = %v, want %v", n, obj["path"], p)
			}
			if _, ok := obj["error"]; ok {
				t.Errorf("line %d: an error, want none: %v", n, obj)
			}
			continue
		}
		if obj["line"] != float64(n) {
			t.Errorf("line %d: %v: obj[\"line\"] = %v, want %v", n, obj, obj["line"], float64(n))
		}
		if e, _ := obj["error"].(string); !strings.Contains(e, "ingest: ") {
			t.Errorf("line %d: error %q, want one that starts \"ingest: \"", n, obj["error"])
		}
	}
	failedLine(t, res.objects[1], 2, ingest.ErrTime)
	failedLine(t, res.objects[2], 3, ingest.ErrEmpty)
	failedLine(t, res.objects[4], 5, ingest.ErrStatus)
}

func TestParse_EmptyLines(t *testing.T) {
	good := readFile(t, "testdata/good.log")
	first := good[:strings.IndexByte(good, '\n')+1]

	res := parseCmd(t, "\n\r\n"+first+"\n")
	if res.code != 1 {
		t.Fatalf("res.code = %v, want 1", res.code)
	}
	if len(res.objects) != 4 {
		t.Fatalf("len(res.objects) = %d, want 4", len(res.objects))
	}
	failedLine(t, res.objects[0], 1, ingest.ErrEmpty)
	failedLine(t, res.objects[1], 2, ingest.ErrEmpty)
	if res.objects[2]["path"] != "/api/v1/users/42" {
		t.Errorf("res.objects[2][\"path\"] = %v, want /api/v1/users/42", res.objects[2]["path"])
	}
	failedLine(t, res.objects[3], 4, ingest.ErrEmpty)

	// Empty input is no lines, not one empty line.
	res = parseCmd(t, "")
	if res.code != 0 {
		t.Fatalf("res.code = %v, want 0", res.code)
	}
	if res.stdout != "" {
		t.Fatalf("res.stdout = %q, want empty", res.stdout)
	}
}

// TestParse_LineNumbers checks that lines are numbered across all inputs,
// and that a file's last line without a newline does not run into the
// next file.
func TestParse_LineNumbers(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	b := filepath.Join(dir, "b.log")
	if err := os.WriteFile(a, []byte("bad 1\nbad 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("bad 3\n\nbad 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	res := parseCmd(t, "bad from stdin\n", a, "-", b)
	if res.code != 1 {
		t.Fatalf("res.code = %v, want 1", res.code)
	}
	if len(res.objects) != 6 {
		t.Fatalf("len(res.objects) = %d, want 6", len(res.objects))
	}
	for i, obj := range res.objects {
		if obj["line"] != float64(i+1) {
			t.Errorf("obj[\"line\"] = %v, want %v", obj["line"], float64(i+1))
		}
	}
	failedLine(t, res.objects[4], 5, ingest.ErrEmpty)
}

func TestParse_Stdin(t *testing.T) {
	good := readFile(t, "testdata/good.log")
	want := parseCmd(t, "", "testdata/good.log")
	if want.code != 0 {
		t.Fatalf("want.code = %v, want 0", want.code)
	}

	for _, args := range [][]string{nil, {"-"}, {"--format", "combined", "-"}} {
		res := parseCmd(t, good, args...)
		if res.code != 0 {
			t.Errorf("%q: res.code = %v, want 0", args, res.code)
		}
		if res.stdout != want.stdout {
			t.Errorf("%q: res.stdout = %q, want %q", args, res.stdout, want.stdout)
		}
	}

	// Reads of any size give the same output.
	res := parseFrom(t, iotest.OneByteReader(strings.NewReader(good)))
	if res.stdout != want.stdout {
		t.Errorf("res.stdout = %q, want %q", res.stdout, want.stdout)
	}
	res = parseFrom(t, iotest.DataErrReader(strings.NewReader(good)))
	if res.stdout != want.stdout {
		t.Errorf("res.stdout = %q, want %q", res.stdout, want.stdout)
	}
}

func TestParse_CRLF(t *testing.T) {
	lf := readFile(t, "testdata/mixed.log")
	crlf := strings.ReplaceAll(lf, "\n", "\r\n")
	if crlf == lf {
		t.Fatalf("crlf = %q, want anything else", crlf)
	}

	want := parseCmd(t, lf)
	got := parseCmd(t, crlf)
	if got.code != want.code {
		t.Errorf("got.code = %v, want %v", got.code, want.code)
	}
	if got.stdout != want.stdout {
		t.Errorf("got.stdout = %q, want %q", got.stdout, want.stdout)
	}
	if strings.Contains(got.stdout, `\r`) {
		t.Errorf("got.stdout = %q contains %q", got.stdout, `\r`)
	}
}

func TestParse_FormatCommon(t *testing.T) {
	res := parseCmd(t, "", "--format", "common", "testdata/common.log")
	if res.code != 0 {
		t.Fatalf("%v: res.code = %v, want 0", res.stderr, res.code)
	}
	if len(res.objects) != 2 {
		t.Fatalf("len(res.objects) = %d, want 2", len(res.objects))
	}
	if res.objects[0]["path"] != "/index.html" {
		t.Errorf("res.objects[0][\"path\"] = %v, want /index.html", res.objects[0]["path"])
	}
	if res.objects[0]["body_bytes_sent"] != float64(2326) {
		t.Errorf("res.objects[0][\"body_bytes_sent\"] = %v, want %v", res.objects[0]["body_bytes_sent"], float64(2326))
	}
	if res.objects[0]["referer"] != "" {
		t.Errorf("res.objects[0][\"referer\"] = %v, want ", res.objects[0]["referer"])
	}
	if res.objects[0]["user_agent"] != "" {
		t.Errorf("res.objects[0][\"user_agent\"] = %v, want ", res.objects[0]["user_agent"])
	}
	if res.objects[1]["remote_user"] != "bob" {
		t.Errorf("res.objects[1][\"remote_user\"] = %v, want bob", res.objects[1]["remote_user"])
	}
	if res.objects[1]["status"] != float64(404) {
		t.Errorf("res.objects[1][\"status\"] = %v, want %v", res.objects[1]["status"], float64(404))
	}
	if res.objects[1]["body_bytes_sent"] != float64(0) {
		t.Errorf("res.objects[1][\"body_bytes_sent\"] = %v, want %v", res.objects[1]["body_bytes_sent"], float64(0))
	}

	// "-format" works as well as "--format", and "combined" is the
	// default: common lines lack the referer and user agent it wants.
	res = parseCmd(t, "", "-format=common", "testdata/common.log")
	if res.code != 0 {
		t.Fatalf("%v: res.code = %v, want 0", res.stderr, res.code)
	}
	res = parseCmd(t, "", "testdata/common.log")
	if res.code != 1 {
		t.Fatalf("res.code = %v, want 1", res.code)
	}
	if len(res.objects) != 2 {
		t.Fatalf("len(res.objects) = %d, want 2", len(res.objects))
	}
	if _, ok := res.objects[0]["error"]; !ok {
		t.Errorf("no %q in res.objects[0]", "error")
	}

	// Combined lines are common lines with more fields, which common ignores.
	res = parseCmd(t, "", "--format", "common", "testdata/good.log")
	if res.code != 0 {
		t.Fatalf("%v: res.code = %v, want 0", res.stderr, res.code)
	}
	if len(res.objects) != 4 {
		t.Fatalf("len(res.objects) = %d, want 4", len(res.objects))
	}
	if res.objects[0]["user_agent"] != "" {
		t.Errorf("res.objects[0][\"user_agent\"] = %v, want ", res.objects[0]["user_agent"])
	}
}

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

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestMainDispatch(t *testing.T) {
	f := func(args []string, code int, stdout, stderr string) {
		t.Helper()
		var o, e bytes.Buffer
		if got := run(args, strings.NewReader(""), &o, &e); got != code {
			t.Errorf("%q: run(args, strings.NewReader(\"\"), &o, &e) = %v, want %v", args, got, code)
		}
		if got := o.String(); !strings.Contains(got, stdout) {
			t.Errorf("%q stdout: o = %q, want it to contain %q", args, got, stdout)
		}
		if got := e.String(); !strings.Contains(got, stderr) {
			t.Errorf("%q stderr: e = %q, want it to contain %q", args, got, stderr)
		}
		if stdout == "" {
			if got := o.String(); got != "" {
				t.Errorf("%q stdout: o = %q, want empty", args, got)
			}
		}
	}
	f(nil, 2, "", "Usage: ingest <command>")
	f([]string{"-h"}, 0, "Usage: ingest <command>", "")
	f([]string{"--help"}, 0, "  parse ", "")
	f([]string{"help"}, 0, "Usage: ingest <command>", "")
	f([]string{"help", "parse"}, 0, "", "Usage: ingest parse")
	f([]string{"help", "nope"}, 2, "", `ingest: unknown command "nope"`)
	f([]string{"nope"}, 2, "", "Usage: ingest <command>")
	f([]string{"parse", "testdata/good.log"}, 0, `"path":"/login"`, "")
}

// TestExitStatus runs the test binary as the command, through main and
// os.Exit.
func TestExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	f := func(code int, stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		got := 0
		if exitErr, ok := errors.AsType[*exec.ExitError](err); ok {
			got = exitErr.ExitCode()
		} else {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got != code {
			t.Errorf("%q: stderr %s: got = %v, want %v", args, stderr.String(), got, code)
		}
		return stdout.String()
	}
	out := f(0, "", "parse", "testdata/good.log")
	if got := decodeLines(t, out); len(got) != 4 {
		t.Errorf("len(decodeLines(t, out)) = %d, want 4", len(got))
	}
	out = f(1, readFile(t, "testdata/mixed.log"), "parse")
	if got := decodeLines(t, out); len(got) != 8 {
		t.Errorf("len(decodeLines(t, out)) = %d, want 8", len(got))
	}
	f(2, "", "parse", "testdata/no-such-file.log")
	f(2, "", "parse", "--format", "xml")
	f(2, "")
	f(2, "", "serve-nothing")
	f(0, "", "-h")
}

const upstreamInfo = `log_format upstreaminfo
    '$remote_addr - $remote_user [$time_local] "$request" '
    '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
    '$request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr '
    '$upstream_response_length $upstream_response_time $upstream_status $req_id';`

func TestParse_LogFormat(t *testing.T) {
	res := parseCmd(t, "", "--log-format", upstreamInfo, "testdata/upstreaminfo.log")
	if res.code != 1 {
		t.Fatalf("%v: res.code = %v, want 1", res.stderr, res.code)
	}
	if res.stderr != "" {
		t.Fatalf("res.stderr = %q, want empty", res.stderr)
	}
	if len(res.objects) != 3 {
		t.Fatalf("len(res.objects) = %d, want 3", len(res.objects))
	}

	first := res.objects[0]
	if first["path"] != "/api/v1/users/42" {
		t.Errorf("first[\"path\"] = %v, want /api/v1/users/42", first["path"])
	}
	if first["request_time"] != float64(0.004) {
		t.Errorf("first[\"request_time\"] = %v, want %v", first["request_time"], float64(0.004))
	}
	if first["request_length"] != "312" {
		t.Errorf("first[\"request_length\"] = %v, want 312", first["request_length"])
	}
	if first["proxy_upstream_name"] != "default-api-80" {
		t.Errorf("first[\"proxy_upstream_name\"] = %v, want default-api-80", first["proxy_upstream_name"])
	}
	if first["proxy_alternative_upstream_name"] != "" {
		t.Errorf("first[\"proxy_alternative_upstream_name\"] = %v, want ", first["proxy_alternative_upstream_name"])
	}
	if first["upstream_addr"] != "10.244.1.17:8080" {
		t.Errorf("first[\"upstream_addr\"] = %v, want 10.244.1.17:8080", first["upstream_addr"])
	}
	if first["upstream_response_time"] != "0.003" {
		t.Errorf("first[\"upstream_response_time\"] = %v, want 0.003", first["upstream_response_time"])
	}
	if first["req_id"] != "5f2b1c9e0d4a4b6c" {
		t.Errorf("first[\"req_id\"] = %v, want 5f2b1c9e0d4a4b6c", first["req_id"])
	}
	if _, ok := first["host"]; ok {
		t.Errorf("the format does not log $host: %q in first", "host")
	}

	second := res.objects[1]
	if second["request_time"] != float64(1.25) {
		t.Errorf("second[\"request_time\"] = %v, want %v", second["request_time"], float64(1.25))
	}
	if second["upstream_addr"] != "10.244.1.17:8080, 10.244.2.9:8080" {
		t.Errorf("second[\"upstream_addr\"] = %v, want 10.244.1.17:8080, 10.244.2.9:8080", second["upstream_addr"])
	}
	if second["upstream_status"] != "502, 502" {
		t.Errorf("second[\"upstream_status\"] = %v, want 502, 502", second["upstream_status"])
	}
	if second["syslog_host"] != "web01" {
		t.Errorf("second[\"syslog_host\"] = %v, want web01", second["syslog_host"])
	}

	// A combined line lacks the format's last fields.
	failedLine(t, res.objects[2], 3, ingest.ErrMissingField)
	// The literal after it is missing.
	if e, _ := res.objects[2]["error"].(string); !strings.Contains(e, "($http_user_agent field)") {
		t.Errorf("error %q, want it to name ($http_user_agent field)", res.objects[2]["error"])
	}

	// escape=json, verbatim (not quoted) bodies, and "=" flag syntax.
	res = parseCmd(t, `{"t":"2026-10-10T13:55:36+02:00","h":"api.example.com","r":"GET /a?b=\"1\" HTTP/1.1","s":404,"xff":"1.2.3.4"}`+"\n",
		`--log-format=escape=json {"t":"$time_iso8601","h":"$host","r":"$request","s":$status,"xff":"$http_x_forwarded_for"}`)
	if res.code != 0 {
		t.Fatalf("%v: res.code = %v, want 0", res.stderr, res.code)
	}
	if len(res.objects) != 1 {
		t.Fatalf("len(res.objects) = %d, want 1", len(res.objects))
	}
	want := map[string]any{
		"remote_addr": "", "remote_user": "", "time": "2026-10-10T13:55:36+02:00", "method": "GET", "path": "/a",
		"query": `b=\"1\"`, "protocol": "HTTP/1.1", "status": float64(404), "body_bytes_sent": float64(0),
		"referer": "", "user_agent": "", "request": `GET /a?b=\"1\" HTTP/1.1`, "host": "api.example.com",
		"http_x_forwarded_for": "1.2.3.4",
	}
	if !maps.Equal(res.objects[0], want) {
		t.Errorf("got %v, want %v", res.objects[0], want)
	}
}

func TestParse_ApacheFormat(t *testing.T) {
	in := `www.example.com:443 203.0.113.7 - frank [10/Oct/2026:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326 "-" "say \"hi\"" 1520` + "\n"
	res := parseCmd(t, in, "--apache-format",
		`%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\" %D`)
	if res.code != 0 {
		t.Fatalf("%v: res.code = %v, want 0", res.stderr, res.code)
	}
	if len(res.objects) != 1 {
		t.Fatalf("len(res.objects) = %d, want 1", len(res.objects))
	}
	obj := res.objects[0]
	if obj["host"] != "www.example.com" {
		t.Errorf("obj[\"host\"] = %v, want www.example.com", obj["host"])
	}
	if obj["server_port"] != "443" {
		t.Errorf("obj[\"server_port\"] = %v, want 443", obj["server_port"])
	}
	if obj["remote_logname"] != "" {
		t.Errorf("obj[\"remote_logname\"] = %v, want ", obj["remote_logname"])
	}
	if obj["remote_user"] != "frank" {
		t.Errorf("obj[\"remote_user\"] = %v, want frank", obj["remote_user"])
	}
	if obj["bytes_sent"] != float64(2326) {
		t.Errorf("obj[\"bytes_sent\"] = %v, want %v", obj["bytes_sent"], float64(2326))
	}
	if obj["request_time"] != float64(0.00152) {
		t.Errorf("obj[\"request_time\"] = %v, want %v", obj["request_time"], float64(0.00152))
	}
	if obj["user_agent"] != `say \"hi\"` {
		t.Errorf("obj[\"user_agent\"] = %v, want say \\\"hi\\\"", obj["user_agent"])
	}
}

func TestParse_FormatFlagErrors(t *testing.T) {
	f := func(stderr string, args ...string) {
		t.Helper()
		res := parseCmd(t, "", args...)
		if res.code != 2 {
			t.Errorf("%q: res.code = %v, want 2", args, res.code)
		}
		if res.stdout != "" {
			t.Errorf("%q: res.stdout = %q, want empty", args, res.stdout)
		}
		if res.stderr != stderr {
			t.Errorf("%q: res.stderr = %q, want %q", args, res.stderr, stderr)
		}
	}
	f("ingest parse: --format and --log-format cannot be used together\n",
		"--format", "common", "--log-format", "$status")
	f("ingest parse: --apache-format and --log-format cannot be used together\n",
		"--apache-format", "%s", "--log-format", "$status")
	f("ingest parse: --log-format: ingest: bad format at offset 7: variables $status and $body_bytes_sent have nothing between them that could separate them\n",
		"--log-format", "$status$body_bytes_sent")
	f(`ingest parse: --log-format: ingest: bad format at offset 7: unknown escape="xml": want default, json or none`+"\n",
		"--log-format", "escape=xml $status")
	f(`ingest parse: --apache-format: ingest: bad format at offset 3: unsupported directive "%{%Y}t"`+"\n",
		"--apache-format", "%h %{%Y}t")
	f("ingest parse: --log-format: ingest: bad format at offset 0: empty format\n", "--log-format", "")
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
		t.Errorf("%v: status(cmd.Run()) = %v, want 2", stderr.String(), got)
	}
	if got := stderr.String(); got != "ingest parse: stdout is closed\n" {
		t.Errorf("stderr = %q, want \"ingest parse: stdout is closed\\n\"", got)
	}

	// A stdout sent to /dev/null by the shell is not closed.
	cmd = exec.Command(sh, "-c", `exec "$0" parse "$1" >/dev/null`, os.Args[0], input)
	cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
	if got := status(cmd.Run()); got != 1 {
		t.Errorf("one line of two fails: status(cmd.Run()) = %v, want 1", got)
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
		t.Errorf("%v: status(cmd.Wait()) = %v, want 2", stderr.String(), got)
	}
	if got := stderr.String(); !strings.Contains(got, "broken pipe") {
		t.Errorf("stderr = %q, want it to contain %q", got, "broken pipe")
	}
	if got := strings.Count(stderr.String(), "\n"); got != 1 {
		t.Errorf("%v: strings.Count(stderr.String(), \"\\n\") = %v, want 1", stderr.String(), got)
	}
}
