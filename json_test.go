package ingest_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flatheap/ingest"
)

// jsonRequest is a Request filled by hand, so the JSON tests do not depend
// on the parser.
func jsonRequest() *ingest.Request {
	return &ingest.Request{
		RemoteAddr:    []byte("203.0.113.7"),
		RemoteUser:    []byte("frank"),
		Time:          time.Date(2026, 10, 10, 13, 55, 36, 0, time.FixedZone("", -7*3600)),
		Method:        []byte("GET"),
		Path:          []byte("/api/v1/users/42"),
		Query:         []byte("expand=orders"),
		Protocol:      []byte("HTTP/1.1"),
		RequestLine:   []byte("GET /api/v1/users/42?expand=orders HTTP/1.1"),
		Status:        200,
		BodyBytesSent: 1534,
		Referer:       []byte("https://example.com/start"),
		UserAgent:     []byte("curl/8.5.0"),
	}
}

func TestAppendJSON(t *testing.T) {
	const want = `{"remote_addr":"203.0.113.7","remote_user":"frank","time":"2026-10-10T13:55:36-07:00",` +
		`"method":"GET","path":"/api/v1/users/42","query":"expand=orders","protocol":"HTTP/1.1",` +
		`"status":200,"body_bytes_sent":1534,"referer":"https://example.com/start","user_agent":"curl/8.5.0",` +
		`"request":"GET /api/v1/users/42?expand=orders HTTP/1.1"}`
	r := jsonRequest()
	got := r.AppendJSON(nil)
	if got, want := string(got), want; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if !(json.Valid(got)) {
		t.Fatalf("json.Valid(got) is false")
	}

	// It appends: what dst held is kept.
	got = r.AppendJSON([]byte("prefix "))
	if got, want := string(got), "prefix "+want; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestAppendJSONSyslog(t *testing.T) {
	r := jsonRequest()
	r.Envelope = ingest.EnvelopeRFC3164
	r.SyslogPriority = 190
	r.SyslogHost = []byte("web01")
	r.SyslogTag = []byte("nginx")
	r.SyslogTime = []byte("Oct 10 13:55:36")
	r.SyslogProcID = []byte("1234")

	got := string(r.AppendJSON(nil))
	if want := `,"request":"GET /api/v1/users/42?expand=orders HTTP/1.1","syslog_priority":190,"syslog_host":"web01","syslog_tag":"nginx"}`; !strings.HasSuffix(got, want) {
		t.Fatalf("got %s, want the suffix %s", got, want)
	}

	// Syslog fields are written only with an envelope, whatever they hold.
	r.Envelope = ingest.EnvelopeNone
	if strings.Contains(string(r.AppendJSON(nil)), "syslog") {
		t.Fatalf("%q contains %q", string(r.AppendJSON(nil)), "syslog")
	}

	// An envelope with empty fields still writes every key.
	r.Envelope = ingest.EnvelopeRFC5424
	r.SyslogPriority, r.SyslogHost, r.SyslogTag = 0, nil, nil
	if !strings.Contains(string(r.AppendJSON(nil)), `"syslog_priority":0,"syslog_host":"","syslog_tag":""}`) {
		t.Fatalf("%q does not contain %q", string(r.AppendJSON(nil)), `"syslog_priority":0,"syslog_host":"","syslog_tag":""}`)
	}
}

// TestAppendJSONDecode checks that every field decodes back to what the
// Request holds, for a Request full of bytes that need escaping.
func TestAppendJSONDecode(t *testing.T) {
	r := &ingest.Request{
		RemoteAddr:     []byte("203.0.113.7, 10.0.0.1"),
		Time:           time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.FixedZone("", 5*3600+30*60)),
		Method:         []byte("POST"),
		Path:           []byte("/a\"b\\c"),
		Query:          []byte("q=<script>&x=\u2028"),
		Protocol:       []byte("HTTP/2.0"),
		RequestLine:    []byte("POST /a\"b\\c?q=<script>&x=\u2028 HTTP/2.0"),
		Status:         599,
		BodyBytesSent:  1 << 40,
		Referer:        []byte("\x00\x01\t\r\n\x1f\x7f"),
		UserAgent:      []byte(`Mozilla \x22quoted\x22 ` + "caf\xc3\xa9 \xff\xfe"),
		Envelope:       ingest.EnvelopeRFC5424,
		SyslogHost:     []byte("web01.example.com"),
		SyslogTag:      []byte("nginx"),
		SyslogPriority: 191,
	}
	b := r.AppendJSON(nil)
	if !(json.Valid(b)) {
		t.Fatalf("%s: false", b)
	}

	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v", err)
	}
	want := map[string]any{
		"remote_addr":     "203.0.113.7, 10.0.0.1",
		"remote_user":     "",
		"time":            "2026-01-02T03:04:05.12+05:30",
		"method":          "POST",
		"path":            `/a"b\c`,
		"query":           "q=<script>&x=\u2028",
		"protocol":        "HTTP/2.0",
		"status":          float64(599),
		"body_bytes_sent": float64(1 << 40),
		"referer":         "\x00\x01\t\r\n\x1f\x7f",
		"user_agent":      `Mozilla \x22quoted\x22 café ` + "\ufffd\ufffd",
		"request":         "POST /a\"b\\c?q=<script>&x=\u2028 HTTP/2.0",
		"syslog_priority": float64(191),
		"syslog_host":     "web01.example.com",
		"syslog_tag":      "nginx",
	}
	if got, want := m, want; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	tm, err := time.Parse(time.RFC3339Nano, m["time"].(string))
	if err != nil {
		t.Fatalf("%v", err)
	}
	if !(tm.Equal(r.Time)) {
		t.Fatalf("tm.Equal(r.Time) is false")
	}
	_, off := tm.Zone()
	if got, want := off, 5*3600+30*60; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestAppendJSONTime(t *testing.T) {
	f := func(tm time.Time, want string) {
		t.Helper()
		r := ingest.Request{Time: tm}
		var m map[string]any
		if err := json.Unmarshal(r.AppendJSON(nil), &m); err != nil {
			t.Fatalf("%v", err)
		}
		if got, want := m["time"], want; !reflect.DeepEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// +0000 keeps its numeric offset; it is not written as "Z".
	f(time.Date(2026, 10, 10, 13, 55, 36, 0, time.FixedZone("", 0)), "2026-10-10T13:55:36+00:00")
	f(time.Date(2026, 10, 10, 13, 55, 36, 0, time.UTC), "2026-10-10T13:55:36+00:00")
	f(time.Date(2026, 10, 10, 13, 55, 36, 0, time.FixedZone("", -(9*3600+30*60))), "2026-10-10T13:55:36-09:30")
	f(time.Date(2026, 10, 10, 13, 55, 36, 1, time.FixedZone("", 14*3600)), "2026-10-10T13:55:36.000000001+14:00")
	f(time.Date(1999, 12, 31, 23, 59, 59, 500000000, time.FixedZone("", 3600)), "1999-12-31T23:59:59.5+01:00")
}

func TestAppendJSONString(t *testing.T) {
	f := func(s, want string) {
		t.Helper()
		got := ingest.AppendJSONString(nil, []byte(s))
		if got, want := string(got), want; !reflect.DeepEqual(got, want) {
			t.Fatalf("[]byte %q: got %v, want %v", s, got, want)
		}
		if got, want := string(ingest.AppendJSONString(nil, s)), want; !reflect.DeepEqual(got, want) {
			t.Fatalf("string %q: got %v, want %v", s, got, want)
		}
		if !(json.Valid(got)) {
			t.Fatalf("%s: false", got)
		}
	}
	f("", `""`)
	f("-", `"-"`)
	f("plain ascii", `"plain ascii"`)
	f(`a"b`, `"a\"b"`)
	f(`a\b`, `"a\\b"`)
	f(`\x22`, `"\\x22"`) // nginx escapes are copied as written, then escaped for JSON
	f(`\"`, `"\\\""`)    // Apache's \" likewise
	f("\n\r\t", `"\n\r\t"`)
	f("\x00\x01\x08\x0c\x1b\x1f", `"\u0000\u0001\u0008\u000c\u001b\u001f"`)
	f("\x7f", "\"\x7f\"") // DEL is not a control character for JSON
	f(" ~", `" ~"`)
	f("<a href=x>&amp;</a>", `"<a href=x>&amp;</a>"`)
	f("café ☃ 𝄞", `"café ☃ 𝄞"`)
	f("\u2028\u2029", `"\u2028\u2029"`)
	f("a\u2028b\u2029c\u202a", "\"a\\u2028b\\u2029c\u202a\"")
	f("\xff", `"\ufffd"`)
	f("a\xffb", `"a\ufffdb"`)
	f("\xc3", `"\ufffd"`)                               // truncated 2-byte sequence at the end
	f("\xc3(", `"\ufffd("`)                             // bad continuation byte
	f("\xe2\x82", `"\ufffd\ufffd"`)                     // truncated 3-byte sequence: one per byte
	f("\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`)           // UTF-16 surrogate
	f("\xc0\xaf", `"\ufffd\ufffd"`)                     // overlong
	f("\xf4\x90\x80\x80", `"\ufffd\ufffd\ufffd\ufffd"`) // above U+10FFFF
	f("\ufffd", "\"\ufffd\"")                           // a real U+FFFD passes through
	f("é\"\n\xff\u2028x", `"é\"\n\ufffd\u2028x"`)
}

// TestAppendJSONStringAgree checks AppendJSONString against encoding/json on
// inputs that cover every byte value: both must decode to the same string.
func TestAppendJSONStringAgree(t *testing.T) {
	var all []byte
	for c := range 256 {
		all = append(all, byte(c))
	}
	inputs := []string{
		string(all),
		"GET /\xe2\x80\xa8?\xe2\x80\xa9 HTTP/1.1",
		strings.Repeat("\xf0\x9f\x98", 3) + "\xf0\x9f\x98\x80",
	}
	for c := range 256 {
		inputs = append(inputs, string([]byte{byte(c)}), "x"+string([]byte{byte(c), 0x80})+"y")
	}
	for _, s := range inputs {
		checkAgainstStdlib(t, s)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("")
	f.Add(`GET /a"b\c HTTP/1.1`)
	f.Add("caf\xc3\xa9\xff\u2028\x00")
	f.Add(`Mozilla \x22x\x22`)
	f.Fuzz(checkAgainstStdlib)
}

func checkAgainstStdlib(t *testing.T, s string) {
	t.Helper()
	got := ingest.AppendJSONString(nil, []byte(s))
	if !json.Valid(got) {
		t.Fatalf("%q: invalid JSON %s", s, got)
	}
	std, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var a, b string
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	if err := json.Unmarshal(std, &b); err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("%q: decodes to %q, encoding/json's to %q", s, a, b)
	}
	if !utf8.Valid(got) {
		t.Fatalf("%q: output is not UTF-8: %q", s, got)
	}
	if strings.ContainsAny(string(got), "\u2028\u2029") {
		t.Fatalf("%q: U+2028/U+2029 left unescaped: %s", s, got)
	}
}

func ExampleRequest_AppendJSON() {
	line := []byte(`<190>Oct 10 13:55:36 web01 nginx: 203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] ` +
		`"GET /search?q=%22go%22 HTTP/1.1" 200 512 "-" "Mozilla/5.0 \x22quoted\x22"` + "\n")

	var p ingest.Parser
	var r ingest.Request
	if err := p.Parse(&r, line); err != nil {
		fmt.Println(err)
		return
	}
	buf := r.AppendJSON(nil) // reuse buf[:0] for the next line
	fmt.Println(string(buf))
	// Output:
	// {"remote_addr":"203.0.113.7","remote_user":"","time":"2026-10-10T13:55:36+00:00","method":"GET","path":"/search","query":"q=%22go%22","protocol":"HTTP/1.1","status":200,"body_bytes_sent":512,"referer":"","user_agent":"Mozilla/5.0 \\x22quoted\\x22","request":"GET /search?q=%22go%22 HTTP/1.1","syslog_priority":190,"syslog_host":"web01","syslog_tag":"nginx"}
}

func TestAppendJSONZero(t *testing.T) {
	// A zero Request is valid input and gives every key.
	var r ingest.Request
	b := r.AppendJSON(nil)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v", err)
	}
	if len(m) != 12 {
		t.Errorf("len %d, want 12", len(m))
	}
	if got, want := m["path"], ""; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, want := m["status"], float64(0); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
