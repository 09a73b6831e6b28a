package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.True(t, strings.HasSuffix(out, "\n"), "output does not end with a newline")
	var objs []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		require.True(t, json.Valid([]byte(line)), "output line %d is not valid JSON: %s", i+1, line)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "output line %d", i+1)
		objs = append(objs, m)
	}
	return objs
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return string(b)
}

// failedLine asserts that obj reports line n failing with sentinel.
func failedLine(t *testing.T, obj map[string]any, n int, sentinel error) {
	t.Helper()
	assert.Equal(t, map[string]any{"line": float64(n), "error": obj["error"]}, obj, "line %d", n)
	msg, _ := obj["error"].(string)
	assert.True(t, strings.HasPrefix(msg, sentinel.Error()), "line %d: error %q, want %q", n, msg, sentinel)
}

func TestParse_Good(t *testing.T) {
	res := parseCmd(t, "", "testdata/good.log")
	require.Equal(t, 0, res.code, res.stderr)
	require.Empty(t, res.stderr)
	require.Len(t, res.objects, 4)

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
		assert.Equal(t, want[i], res.objects[i], "line %d", i+1)
	}
}

func TestParse_FailuresKeepOrder(t *testing.T) {
	res := parseCmd(t, "", "testdata/mixed.log")
	require.Equal(t, 1, res.code, res.stderr)
	require.Empty(t, res.stderr)
	require.Len(t, res.objects, 8, "one object per input line, the last one has no newline")

	paths := map[int]string{1: "/one", 4: "/two", 7: "/three", 8: "/last-no-newline"}
	for i, obj := range res.objects {
		n := i + 1
		if p, ok := paths[n]; ok {
			assert.Equal(t, p, obj["path"], "line %d", n)
			assert.NotContains(t, obj, "error", "line %d", n)
			continue
		}
		assert.Equal(t, float64(n), obj["line"], "line %d: %v", n, obj)
		assert.Contains(t, obj["error"], "ingest: ", "line %d", n)
	}
	failedLine(t, res.objects[1], 2, ingest.ErrTime)
	failedLine(t, res.objects[2], 3, ingest.ErrEmpty)
	failedLine(t, res.objects[4], 5, ingest.ErrStatus)
}

func TestParse_EmptyLines(t *testing.T) {
	good := readFile(t, "testdata/good.log")
	first := good[:strings.IndexByte(good, '\n')+1]

	res := parseCmd(t, "\n\r\n"+first+"\n")
	require.Equal(t, 1, res.code)
	require.Len(t, res.objects, 4)
	failedLine(t, res.objects[0], 1, ingest.ErrEmpty)
	failedLine(t, res.objects[1], 2, ingest.ErrEmpty)
	assert.Equal(t, "/api/v1/users/42", res.objects[2]["path"])
	failedLine(t, res.objects[3], 4, ingest.ErrEmpty)

	// Empty input is no lines, not one empty line.
	res = parseCmd(t, "")
	require.Equal(t, 0, res.code)
	require.Empty(t, res.stdout)
}

// TestParse_LineNumbers checks that lines are numbered across all inputs,
// and that a file's last line without a newline does not run into the
// next file.
func TestParse_LineNumbers(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	b := filepath.Join(dir, "b.log")
	require.NoError(t, os.WriteFile(a, []byte("bad 1\nbad 2"), 0o644))
	require.NoError(t, os.WriteFile(b, []byte("bad 3\n\nbad 5\n"), 0o644))

	res := parseCmd(t, "bad from stdin\n", a, "-", b)
	require.Equal(t, 1, res.code)
	require.Len(t, res.objects, 6)
	for i, obj := range res.objects {
		assert.Equal(t, float64(i+1), obj["line"])
	}
	failedLine(t, res.objects[4], 5, ingest.ErrEmpty)
}

func TestParse_Stdin(t *testing.T) {
	good := readFile(t, "testdata/good.log")
	want := parseCmd(t, "", "testdata/good.log")
	require.Equal(t, 0, want.code)

	for _, args := range [][]string{nil, {"-"}, {"--format", "combined", "-"}} {
		res := parseCmd(t, good, args...)
		assert.Equal(t, 0, res.code, "%q", args)
		assert.Equal(t, want.stdout, res.stdout, "%q", args)
	}

	// Reads of any size give the same output.
	res := parseFrom(t, iotest.OneByteReader(strings.NewReader(good)))
	assert.Equal(t, want.stdout, res.stdout)
	res = parseFrom(t, iotest.DataErrReader(strings.NewReader(good)))
	assert.Equal(t, want.stdout, res.stdout)
}

func TestParse_CRLF(t *testing.T) {
	lf := readFile(t, "testdata/mixed.log")
	crlf := strings.ReplaceAll(lf, "\n", "\r\n")
	require.NotEqual(t, lf, crlf)

	want := parseCmd(t, lf)
	got := parseCmd(t, crlf)
	assert.Equal(t, want.code, got.code)
	assert.Equal(t, want.stdout, got.stdout)
	assert.NotContains(t, got.stdout, `\r`)
}

func TestParse_FormatCommon(t *testing.T) {
	res := parseCmd(t, "", "--format", "common", "testdata/common.log")
	require.Equal(t, 0, res.code, res.stderr)
	require.Len(t, res.objects, 2)
	assert.Equal(t, "/index.html", res.objects[0]["path"])
	assert.Equal(t, float64(2326), res.objects[0]["body_bytes_sent"])
	assert.Equal(t, "", res.objects[0]["referer"])
	assert.Equal(t, "", res.objects[0]["user_agent"])
	assert.Equal(t, "bob", res.objects[1]["remote_user"])
	assert.Equal(t, float64(404), res.objects[1]["status"])
	assert.Equal(t, float64(0), res.objects[1]["body_bytes_sent"])

	// "-format" works as well as "--format", and "combined" is the
	// default: common lines lack the referer and user agent it wants.
	res = parseCmd(t, "", "-format=common", "testdata/common.log")
	require.Equal(t, 0, res.code, res.stderr)
	res = parseCmd(t, "", "testdata/common.log")
	require.Equal(t, 1, res.code)
	require.Len(t, res.objects, 2)
	assert.Contains(t, res.objects[0], "error")

	// Combined lines are common lines with more fields, which common ignores.
	res = parseCmd(t, "", "--format", "common", "testdata/good.log")
	require.Equal(t, 0, res.code, res.stderr)
	require.Len(t, res.objects, 4)
	assert.Equal(t, "", res.objects[0]["user_agent"])
}

func TestParse_TooLong(t *testing.T) {
	good := readFile(t, "testdata/good.log")
	first := good[:strings.IndexByte(good, '\n')+1]
	huge := strings.Repeat("x", 3*ingest.MaxLineLength+123)

	// A too-long line in the middle, and one at the end without a newline.
	res := parseCmd(t, first+huge+"\n"+first+huge)
	require.Equal(t, 1, res.code)
	require.Len(t, res.objects, 4)
	assert.Equal(t, "/api/v1/users/42", res.objects[0]["path"])
	failedLine(t, res.objects[1], 2, ingest.ErrTooLong)
	assert.Equal(t, "/api/v1/users/42", res.objects[2]["path"])
	failedLine(t, res.objects[3], 4, ingest.ErrTooLong)
	assert.Equal(t, `{"line":2,"error":"ingest: line too long"}`, strings.Split(res.stdout, "\n")[1])
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
	require.Len(t, max, ingest.MaxLineLength)

	res := parseCmd(t, max+"\n"+max+"\r\n"+max)
	require.Equal(t, 0, res.code, res.stdout)
	require.Len(t, res.objects, 3)
	for _, obj := range res.objects {
		assert.Len(t, obj["path"], ingest.MaxLineLength-len(head)-len(tail)+1)
	}

	over := line(ingest.MaxLineLength + 1)
	res = parseCmd(t, over+"\n"+over+"\r\n"+over+"\n"+max)
	require.Equal(t, 1, res.code)
	require.Len(t, res.objects, 4)
	for i := range 3 {
		failedLine(t, res.objects[i], i+1, ingest.ErrTooLong)
	}
	assert.NotContains(t, res.objects[3], "error")
}

func TestParse_UsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--format", "json"},
		{"--format"},
		{"--no-such-flag"},
	} {
		res := parseCmd(t, "", args...)
		assert.Equal(t, 2, res.code, "%q", args)
		assert.Empty(t, res.stdout, "%q", args)
		assert.NotEmpty(t, res.stderr, "%q", args)
	}
	res := parseCmd(t, "", "--format", "json")
	assert.Equal(t, "ingest parse: unknown format \"json\": want combined or common\n", res.stderr)

	res = parseCmd(t, "", "-h")
	assert.Equal(t, 0, res.code)
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "Usage: ingest parse")
	assert.Contains(t, res.stderr, "-format")
}

func TestParse_IOErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.log")

	// Output up to the failing file is written, then nothing more.
	res := parseCmd(t, "", "testdata/good.log", missing, "testdata/good.log")
	assert.Equal(t, 2, res.code)
	assert.Len(t, res.objects, 4)
	assert.Equal(t, "ingest parse: open "+missing+": no such file or directory\n", res.stderr)

	// A directory opens but cannot be read.
	res = parseCmd(t, "", "testdata")
	assert.Equal(t, 2, res.code)
	assert.Empty(t, res.stdout)
	assert.True(t, strings.HasPrefix(res.stderr, "ingest parse: read testdata: "), res.stderr)

	// A read error mid-stream: the complete lines before it are written,
	// the partial one is not.
	good := readFile(t, "testdata/good.log")
	errBroken := errors.New("broken pipe")
	stdin := io.MultiReader(strings.NewReader(good+"203.0.113.7 - - [10/Oct"), iotest.ErrReader(errBroken))
	res = parseFrom(t, stdin)
	assert.Equal(t, 2, res.code)
	assert.Len(t, res.objects, 4)
	assert.Equal(t, "ingest parse: broken pipe\n", res.stderr)

	// A write error is reported once, with status 2.
	var stderr bytes.Buffer
	code := runParse([]string{"testdata/good.log"}, nil, failWriter{}, &stderr)
	assert.Equal(t, 2, code)
	assert.Equal(t, "ingest parse: disk full\n", stderr.String())
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestMainDispatch(t *testing.T) {
	f := func(args []string, code int, stdout, stderr string) {
		t.Helper()
		var o, e bytes.Buffer
		assert.Equal(t, code, run(args, strings.NewReader(""), &o, &e), "%q", args)
		assert.Contains(t, o.String(), stdout, "%q stdout", args)
		assert.Contains(t, e.String(), stderr, "%q stderr", args)
		if stdout == "" {
			assert.Empty(t, o.String(), "%q stdout", args)
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
			require.NoError(t, err)
		}
		assert.Equal(t, code, got, "%q: stderr %s", args, stderr.String())
		return stdout.String()
	}
	out := f(0, "", "parse", "testdata/good.log")
	assert.Len(t, decodeLines(t, out), 4)
	out = f(1, readFile(t, "testdata/mixed.log"), "parse")
	assert.Len(t, decodeLines(t, out), 8)
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
	require.Equal(t, 1, res.code, res.stderr)
	require.Empty(t, res.stderr)
	require.Len(t, res.objects, 3)

	first := res.objects[0]
	assert.Equal(t, "/api/v1/users/42", first["path"])
	assert.Equal(t, float64(0.004), first["request_time"])
	assert.Equal(t, "312", first["request_length"])
	assert.Equal(t, "default-api-80", first["proxy_upstream_name"])
	assert.Equal(t, "", first["proxy_alternative_upstream_name"])
	assert.Equal(t, "10.244.1.17:8080", first["upstream_addr"])
	assert.Equal(t, "0.003", first["upstream_response_time"])
	assert.Equal(t, "5f2b1c9e0d4a4b6c", first["req_id"])
	assert.NotContains(t, first, "host", "the format does not log $host")

	second := res.objects[1]
	assert.Equal(t, float64(1.25), second["request_time"])
	assert.Equal(t, "10.244.1.17:8080, 10.244.2.9:8080", second["upstream_addr"])
	assert.Equal(t, "502, 502", second["upstream_status"])
	assert.Equal(t, "web01", second["syslog_host"])

	// A combined line lacks the format's last fields.
	failedLine(t, res.objects[2], 3, ingest.ErrMissingField)
	assert.Contains(t, res.objects[2]["error"], "($http_user_agent field)", "the literal after it is missing")

	// escape=json, verbatim (not quoted) bodies, and "=" flag syntax.
	res = parseCmd(t, `{"t":"2026-10-10T13:55:36+02:00","h":"api.example.com","r":"GET /a?b=\"1\" HTTP/1.1","s":404,"xff":"1.2.3.4"}`+"\n",
		`--log-format=escape=json {"t":"$time_iso8601","h":"$host","r":"$request","s":$status,"xff":"$http_x_forwarded_for"}`)
	require.Equal(t, 0, res.code, res.stderr)
	require.Len(t, res.objects, 1)
	assert.Equal(t, map[string]any{
		"remote_addr": "", "remote_user": "", "time": "2026-10-10T13:55:36+02:00", "method": "GET", "path": "/a",
		"query": `b=\"1\"`, "protocol": "HTTP/1.1", "status": float64(404), "body_bytes_sent": float64(0),
		"referer": "", "user_agent": "", "request": `GET /a?b=\"1\" HTTP/1.1`, "host": "api.example.com",
		"http_x_forwarded_for": "1.2.3.4",
	}, res.objects[0])
}

func TestParse_ApacheFormat(t *testing.T) {
	in := `www.example.com:443 203.0.113.7 - frank [10/Oct/2026:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326 "-" "say \"hi\"" 1520` + "\n"
	res := parseCmd(t, in, "--apache-format",
		`%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\" %D`)
	require.Equal(t, 0, res.code, res.stderr)
	require.Len(t, res.objects, 1)
	obj := res.objects[0]
	assert.Equal(t, "www.example.com", obj["host"])
	assert.Equal(t, "443", obj["server_port"])
	assert.Equal(t, "", obj["remote_logname"])
	assert.Equal(t, "frank", obj["remote_user"])
	assert.Equal(t, float64(2326), obj["bytes_sent"])
	assert.Equal(t, float64(0.00152), obj["request_time"])
	assert.Equal(t, `say \"hi\"`, obj["user_agent"])
}

func TestParse_FormatFlagErrors(t *testing.T) {
	f := func(stderr string, args ...string) {
		t.Helper()
		res := parseCmd(t, "", args...)
		assert.Equal(t, 2, res.code, "%q", args)
		assert.Empty(t, res.stdout, "%q", args)
		assert.Equal(t, stderr, res.stderr, "%q", args)
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
	require.NoError(t, os.WriteFile(input, []byte(good+"bad\n"), 0o600))

	status := func(err error) int {
		t.Helper()
		exitErr, ok := errors.AsType[*exec.ExitError](err)
		require.True(t, ok, "want an exit status, got %v", err)
		require.True(t, exitErr.Exited(), "killed: %v", err)
		return exitErr.ExitCode()
	}

	// Closed: ">&-" in a shell.
	cmd := exec.Command(sh, "-c", `exec "$0" parse "$1" >&-`, os.Args[0], input)
	cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	assert.Equal(t, 2, status(cmd.Run()), stderr.String())
	assert.Equal(t, "ingest parse: stdout is closed\n", stderr.String())

	// A stdout sent to /dev/null by the shell is not closed.
	cmd = exec.Command(sh, "-c", `exec "$0" parse "$1" >/dev/null`, os.Args[0], input)
	cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
	assert.Equal(t, 1, status(cmd.Run()), "one line of two fails")

	// A pipe whose reader is closed: more output than the pipe holds, so a
	// write fails whatever the timing.
	big := filepath.Join(t.TempDir(), "big.log")
	require.NoError(t, os.WriteFile(big, bytes.Repeat([]byte(good), 20000), 0o600))
	cmd = exec.Command(os.Args[0], "parse", big)
	cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
	stderr.Reset()
	cmd.Stderr = &stderr
	pr, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	pr.Close()
	assert.Equal(t, 2, status(cmd.Wait()), stderr.String())
	assert.Contains(t, stderr.String(), "broken pipe")
	assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), stderr.String())
}
