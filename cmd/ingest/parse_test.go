package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
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
