package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/flatheap/ingest"
)

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
		t.Fatal("output does not end with a newline")
	}
	var objs []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("output line %d is not a JSON object: %v: %s", i+1, err, line)
		}
		objs = append(objs, m)
	}
	return objs
}

// checkRun fails t now unless the run exited with code, wrote n objects
// to stdout and, when quiet, nothing to stderr.
func checkRun(t *testing.T, res result, code, n int, quiet bool) {
	t.Helper()
	if res.code != code || len(res.objects) != n || (quiet && res.stderr != "") {
		t.Fatalf("exit status %d, %d objects, stderr %q; want %d, %d", res.code, len(res.objects), res.stderr, code, n)
	}
}

// checkFields fails t for each field of want that obj does not hold with
// that value; a nil value wants the field absent.
func checkFields(t *testing.T, what string, obj, want map[string]any) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		got, ok := obj[k]
		if want[k] == nil && ok {
			t.Errorf("%s: %s is %#v, want no such field", what, k, got)
		} else if want[k] != nil && got != want[k] {
			t.Errorf("%s: %s is %#v, want %#v", what, k, got, want[k])
		}
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// failedLine checks that obj reports line n failing with sentinel.
func failedLine(t *testing.T, obj map[string]any, n int, sentinel error) {
	t.Helper()
	if want := map[string]any{"line": float64(n), "error": obj["error"]}; !maps.Equal(obj, want) {
		t.Errorf("line %d: %v, want only line and error", n, obj)
	}
	if msg, _ := obj["error"].(string); !strings.HasPrefix(msg, sentinel.Error()) {
		t.Errorf("line %d: error %q, want %q", n, msg, sentinel)
	}
}

func TestParse_Good(t *testing.T) {
	res := parseCmd(t, "", "testdata/good.log")
	checkRun(t, res, 0, 4, true)

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
			t.Errorf("line %d: %v, want %v", i+1, res.objects[i], want[i])
		}
	}
}

func TestParse_FailuresKeepOrder(t *testing.T) {
	res := parseCmd(t, "", "testdata/mixed.log")
	checkRun(t, res, 1, 8, true) // one object per input line, the last one has no newline

	paths := map[int]string{1: "/one", 4: "/two", 7: "/three", 8: "/last-no-newline"}
	for i, obj := range res.objects {
		n := i + 1
		if p, ok := paths[n]; ok {
			checkFields(t, fmt.Sprintf("line %d", n), obj, map[string]any{"path": p, "error": nil})
			continue
		}
		if e, _ := obj["error"].(string); obj["line"] != float64(n) || !strings.HasPrefix(e, "ingest: ") {
			t.Errorf("line %d: %v, want its number and an error", n, obj)
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
	checkRun(t, res, 1, 4, true)
	failedLine(t, res.objects[0], 1, ingest.ErrEmpty)
	failedLine(t, res.objects[1], 2, ingest.ErrEmpty)
	checkFields(t, "line 3", res.objects[2], map[string]any{"path": "/api/v1/users/42"})
	failedLine(t, res.objects[3], 4, ingest.ErrEmpty)

	// Empty input is no lines, not one empty line.
	res = parseCmd(t, "")
	if res.code != 0 || res.stdout != "" {
		t.Fatalf("empty input: exit status %d, stdout %q; want 0 and nothing", res.code, res.stdout)
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
	checkRun(t, res, 1, 6, true)
	for i, obj := range res.objects {
		if obj["line"] != float64(i+1) {
			t.Errorf("object %d has line %v", i+1, obj["line"])
		}
	}
	failedLine(t, res.objects[4], 5, ingest.ErrEmpty)
}

func TestParse_Stdin(t *testing.T) {
	good := readFile(t, "testdata/good.log")
	want := parseCmd(t, "", "testdata/good.log")
	checkRun(t, want, 0, 4, true)

	for _, args := range [][]string{nil, {"-"}, {"--format", "combined", "-"}} {
		res := parseCmd(t, good, args...)
		if res.code != 0 || res.stdout != want.stdout {
			t.Errorf("%q: exit status %d, stdout %q; want 0, the file's output", args, res.code, res.stdout)
		}
	}

	// Reads of any size give the same output.
	for name, r := range map[string]io.Reader{
		"one byte a read":        iotest.OneByteReader(strings.NewReader(good)),
		"EOF with the last data": iotest.DataErrReader(strings.NewReader(good)),
	} {
		if res := parseFrom(t, r); res.stdout != want.stdout {
			t.Errorf("%s: stdout %q, want the file's output", name, res.stdout)
		}
	}
}

func TestParse_CRLF(t *testing.T) {
	lf := readFile(t, "testdata/mixed.log")
	crlf := strings.ReplaceAll(lf, "\n", "\r\n")
	if crlf == lf {
		t.Fatal("the fixture has no newline to replace")
	}

	want := parseCmd(t, lf)
	got := parseCmd(t, crlf)
	if got.code != want.code || got.stdout != want.stdout {
		t.Errorf("CRLF: exit status %d, stdout %q; want %d, %q", got.code, got.stdout, want.code, want.stdout)
	}
	if strings.Contains(got.stdout, `\r`) {
		t.Errorf("stdout has an escaped CR: %q", got.stdout)
	}
}

func TestParse_FormatCommon(t *testing.T) {
	res := parseCmd(t, "", "--format", "common", "testdata/common.log")
	checkRun(t, res, 0, 2, true)
	checkFields(t, "line 1", res.objects[0], map[string]any{
		"path": "/index.html", "body_bytes_sent": float64(2326), "referer": "", "user_agent": "",
	})
	checkFields(t, "line 2", res.objects[1], map[string]any{
		"remote_user": "bob", "status": float64(404), "body_bytes_sent": float64(0),
	})

	// "-format" works as well as "--format", and "combined" is the
	// default: common lines lack the referer and user agent it wants.
	res = parseCmd(t, "", "-format=common", "testdata/common.log")
	checkRun(t, res, 0, 2, true)
	res = parseCmd(t, "", "testdata/common.log")
	checkRun(t, res, 1, 2, true)
	if _, ok := res.objects[0]["error"]; !ok {
		t.Errorf("a common line parsed as combined: %v, want an error", res.objects[0])
	}

	// Combined lines are common lines with more fields, which common ignores.
	res = parseCmd(t, "", "--format", "common", "testdata/good.log")
	checkRun(t, res, 0, 4, true)
	checkFields(t, "line 1", res.objects[0], map[string]any{"user_agent": ""})
}
