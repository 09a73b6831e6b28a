package forward

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flatheap/ingest"
)

// line250 is a combined-format line of 250 bytes.
const line250 = `203.0.113.7 - - [10/Oct/2026:13:55:36 +0200] "GET /api/v1/users/42/orders?expand=items HTTP/1.1" 200 1534 "https://example.com/start" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0"`

func parse(t testing.TB, f *ingest.Format, line string) *ingest.Request {
	t.Helper()
	p := ingest.Parser{Format: f}
	r := new(ingest.Request)
	if err := p.Parse(r, []byte(line)); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	return r
}

func testForwarder(t testing.TB, url string, opt Options) *Forwarder {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = quiet
	}
	fw, err := New([]string{url}, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fw.Close() })
	return fw
}

// encodeOne encodes r as sink 0 of fw writes it.
func encodeOne(fw *Forwarder, r *ingest.Request) []byte {
	return fw.shards[0].enc.append(nil, r, &fw.sinks[0].wire)
}

func decode(t *testing.T, rec []byte) map[string]any {
	t.Helper()
	ensure(t, len(rec) > 0 && rec[len(rec)-1] == '\n', "record does not end in a newline: %q", rec)
	var m map[string]any
	if err := json.Unmarshal(rec, &m); err != nil {
		t.Fatalf("%v: %s", err, rec)
	}
	return m
}

func TestEncode_Fields(t *testing.T) {
	fw := testForwarder(t, "jsonline+http://127.0.0.1:1/insert/jsonline", Options{Static: []Field{{"instance", "web-1"}}})
	r := parse(t, ingest.FormatCombined, line250)
	m := decode(t, encodeOne(fw, r))
	want := map[string]any{
		"_time": "2026-10-10T13:55:36+02:00", "_msg": line250, "remote_addr": "203.0.113.7",
		"method": "GET", "path": "/api/v1/users/42/orders", "query": "expand=items", "protocol": "HTTP/1.1",
		"status": 200.0, "body_bytes_sent": 1534.0, "referer": "https://example.com/start",
		"user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0",
		"route":      "/api/v1/users/{id}/orders", "instance": "web-1",
	}
	for k, v := range want {
		ensure(t, m[k] == v, "%s = %#v, want %#v", k, m[k], v)
	}
	ensure(t, len(m) == len(want), "%d fields, want %d: %v", len(m), len(want), m)

	// es: the action line, then @timestamp and message.
	es := testForwarder(t, "es+http://127.0.0.1:1/logs", Options{})
	rec := string(encodeOne(es, r))
	action, doc, _ := strings.Cut(rec, "\n")
	ensure(t, action == `{"create":{"_index":"logs"}}`, "action %q", action)
	m = decode(t, []byte(doc+"\n"))
	ensure(t, m["@timestamp"] == "2026-10-10T13:55:36+02:00" && m["message"] == line250, "%v", m)

	// Chosen fields, Unix nanoseconds.
	sel := testForwarder(t, "jsonline+http://127.0.0.1:1/insert/jsonline", Options{Fields: []string{"status", "time", "upstream_response_time"}, Time: TimeUnixNano})
	f := mustFormat(t)
	r = parse(t, f, string(appendLine(nil, 5, time.Unix(1760104536, 0), 30)))
	m = decode(t, encodeOne(sel, r))
	ensure(t, len(m) == 3 && m["status"] == 201.0 && m["_time"] == 1760104536e9 && m["upstream_response_time"] == "0.005, 0.005", "%v", m)
}

// TestEncode_Escaping: whatever bytes a line holds, the record is valid
// JSON; escape=json values are decoded once.
func TestEncode_Escaping(t *testing.T) {
	fw := testForwarder(t, "jsonline+http://127.0.0.1:1/insert/jsonline", Options{})
	f, err := ingest.CompileNginx(`escape=json {"addr":"$remote_addr","request":"$request","status":$status,"ua":"$http_user_agent","x":"$http_x_thing"}`)
	if err != nil {
		t.Fatal(err)
	}
	r := parse(t, f, `{"addr":"10.0.0.1","request":"GET /caf\u00e9?q=\"a\" HTTP/1.1","status":200,"ua":"say \"hi\"\\ \t","x":"\u0001 \ud83d\ude00"}`)
	m := decode(t, encodeOne(fw, r))
	ensure(t, m["path"] == "/café", "path %q", m["path"])
	ensure(t, m["query"] == `q="a"`, "query %q", m["query"])
	ensure(t, m["user_agent"] == "say \"hi\"\\ \t", "ua %q", m["user_agent"])
	ensure(t, m["http_x_thing"] == "\x01 😀", "x %q", m["http_x_thing"])

	// Raw bytes: invalid UTF-8, control bytes, quotes, U+2028.
	none, err := ingest.CompileNginx(`escape=none $remote_addr "$request" $status "$http_user_agent"`)
	if err != nil {
		t.Fatal(err)
	}
	r = parse(t, none, "1.2.3.4 \"GET /a\xff\x01b HTTP/1.1\" 200 \"x\\y \xe2\x80\xa8 \x7f\xc3\"")
	rec := encodeOne(fw, r)
	ensure(t, json.Valid(rec), "invalid JSON: %q", rec)
	m = decode(t, rec)
	ensure(t, m["path"] == "/a\ufffd\x01b", "path %q", m["path"])
	ensure(t, m["user_agent"] == "x\\y \u2028 \x7f\ufffd", "ua %q", m["user_agent"])
}

func TestAppendRFC3339(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		sec := rng.Int64N(400*365*86400) - 100*365*86400
		ns := int64(0)
		if rng.IntN(2) == 0 {
			ns = rng.Int64N(1e9)
		}
		off := (rng.IntN(28*4) - 14*4) * 15 * 60
		tm := time.Unix(sec, ns).In(time.FixedZone("", off))
		want := tm.Format(time.RFC3339Nano)
		if got := string(appendRFC3339(nil, tm)); got != want {
			t.Fatalf("%v: got %s, want %s", tm, got, want)
		}
	}
}

func TestAppendSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 4 * time.Millisecond: "0.004", 1500 * time.Millisecond: "1.5", time.Nanosecond: "0.000000001",
		-2 * time.Second: "-2", 12*time.Second + 345*time.Microsecond: "12.000345",
	} {
		if got := string(appendSeconds(nil, d)); got != want {
			t.Errorf("%v: got %s, want %s", d, got, want)
		}
	}
}

func TestNew_Errors(t *testing.T) {
	for _, tc := range []struct {
		urls []string
		opt  Options
	}{
		{[]string{"http://x/y"}, Options{}},
		{[]string{"foo+http://x/y"}, Options{}},
		{[]string{"es+http://x/"}, Options{}},
		{[]string{"kafka://x:9092"}, Options{}},
		{[]string{"jsonline+http://x/y?compress=lz4"}, Options{}},
		{nil, Options{}},
		{[]string{"jsonline+http://x/y"}, Options{MaxBytes: 1000}},
		{[]string{"jsonline+http://x/y"}, Options{Static: []Field{{"status", "1"}}}},
		{[]string{"jsonline+http://x/y"}, Options{Compression: "brotli"}},
		{[]string{"jsonline+http://x/y?a=1", "jsonline+http://x/y?a=2"}, Options{}},
		{[]string{"kafka://x:9092/t", "kafka://x:9092/t"}, Options{}},
	} {
		fw, err := New(tc.urls, tc.opt)
		if err == nil {
			fw.Close()
			t.Errorf("%v %+v: no error", tc.urls, tc.opt)
			continue
		}
		var ce *ConfigError
		ensure(t, errorsAs(err, &ce), "%v: %T is not a *ConfigError", err, err)
	}
	_, err := New([]string{"es+https://user:secret@x/idx/"}, Options{Compression: "bad"})
	ensure(t, err != nil && !strings.Contains(err.Error(), "secret"), "%v", err)
	for _, u := range []string{"user:secret@x:9428/insert/jsonline", "kafka://user:secret@x:9092/t"} {
		_, err = New([]string{u}, Options{})
		ensure(t, err != nil && !strings.Contains(err.Error(), "secret"), "%v", err)
	}
	_, err = New([]string{"es+https://x/idx", "es+https://user:secret@x/idx?a=1"}, Options{})
	ensure(t, err != nil && strings.Contains(err.Error(), "the same sink") && !strings.Contains(err.Error(), "secret"), "%v", err)
}

// fuzzFormats are the formats FuzzRecord parses its input with: the
// built-in combined, the test format, and one with escape=json and one
// with escape=none that log the same fields.
var fuzzFormats = func() []*ingest.Format {
	fs := []*ingest.Format{ingest.FormatCombined}
	for _, src := range []string{
		testFormat,
		`escape=json {"addr":"$remote_addr","request":"$request","status":$status,"ua":"$http_user_agent","host":"$host","x":"$http_x_thing"}`,
		`escape=none $remote_addr "$request" $status "$http_user_agent" $host "$http_x_thing"`,
	} {
		f, err := ingest.CompileNginx(src)
		if err != nil {
			panic(err)
		}
		fs = append(fs, f)
	}
	return fs
}()

// FuzzRecord: whatever a line holds, each sink's record is valid JSON,
// no longer than its bound, and each string field decodes to what
// ingest.AppendJSONString makes of the Request's field (after
// ingest.AppendUnescapedJSON for escape=json formats): the fast paths
// agree with the reference escaping.
func FuzzRecord(f *testing.F) {
	f.Add([]byte(line250))
	f.Add(appendLine(nil, 7, time.Unix(1760104536, 0), 100))
	f.Add([]byte(`{"addr":"10.0.0.1","request":"GET /caf\u00e9?q=\"a\" HTTP/1.1","status":200,"ua":"say \"hi\"\\ \t","host":"h","x":"\u0001 \ud83d\ude00"}`))
	f.Add([]byte("1.2.3.4 \"GET /a\xff\x01b HTTP/1.1\" 200 \"x\\y \xe2\x80\xa8 \x7f\xc3\" host \"\\u0022\""))
	encs := checkForwarders(f)
	f.Fuzz(func(t *testing.T, line []byte) { checkRecords(t, encs, line) })
}

// TestRecord_Long: lines longer than the mask (16 KiB) take the path
// that scans each field; FuzzRecord's checks hold for them too.
func TestRecord_Long(t *testing.T) {
	encs := checkForwarders(t)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{maskWords*64 - 300, maskWords*64 - 200, maskWords * 64, 40 << 10} {
		path := bytes.ReplaceAll(randomLine(rng, n), []byte{'"'}, []byte{'x'})
		path = bytes.ReplaceAll(path, []byte{' '}, []byte{'_'})
		line := append([]byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0200] "GET /`), path...)
		line = append(line, ` HTTP/1.1" 200 1534 "-" "ua ÿ"`...)
		ensure(t, checkRecords(t, encs, line) > 0, "no format parsed the %d-byte line", len(line))
	}
}

// checkForwarders returns a Forwarder per sink kind, whose encoders
// checkRecords uses, with every field selected.
func checkForwarders(t testing.TB) []*Forwarder {
	var encs []*Forwarder
	for _, url := range []string{"jsonline+http://127.0.0.1:1/insert/jsonline", "es+http://127.0.0.1:1/logs", "kafka://127.0.0.1:1/t"} {
		fw, err := New([]string{url}, Options{Logger: quiet, Fields: append(slices.Clone(AllFields), "http_x_thing", "upstream_response_time", "request_id")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fw.Close() })
		encs = append(encs, fw)
	}
	return encs
}

// checkRecords parses line with each of fuzzFormats that takes it and
// checks its records (see FuzzRecord); it returns how many formats took
// it.
func checkRecords(t *testing.T, encs []*Forwarder, line []byte) int {
	t.Helper()
	parsed := 0
	{
		var r ingest.Request
		for _, format := range fuzzFormats {
			p := ingest.Parser{Format: format}
			if p.Parse(&r, line) != nil {
				continue
			}
			parsed++
			r.Source = lineSource(line)
			for _, fw := range encs {
				enc, w := fw.shards[0].enc, &fw.sinks[0].wire
				enc.begin(&r)
				bound := enc.bound(&r, w)
				rec := enc.record(make([]byte, 0, bound), &r, w)
				enc.end()
				ensure(t, len(rec) <= bound-keySlack, "record of %d bytes over its bound %d", len(rec), bound-keySlack)
				ensure(t, len(rec) <= enc.looseBound(w)-keySlack, "record of %d bytes over its loose bound %d", len(rec), enc.looseBound(w)-keySlack)
				doc := rec[len(w.prefix):]
				var m map[string]any
				if err := json.Unmarshal(doc, &m); err != nil {
					t.Fatalf("%v: %q", err, rec)
				}
				esc := format.JSONEscaped()
				for _, c := range []struct {
					key string
					v   []byte
					esc bool
				}{
					{"remote_addr", r.RemoteAddr, esc}, {"method", r.Method, esc}, {"path", r.Path, esc},
					{"query", r.Query, esc}, {"protocol", r.Protocol, esc}, {"request", r.RequestLine, esc},
					{"user_agent", r.UserAgent, esc}, {"vhost", r.Host, esc},
					{"http_x_thing", r.Var("http_x_thing"), esc},
				} {
					if len(c.v) == 0 {
						ensure(t, m[c.key] == nil, "%s = %q, want none", c.key, m[c.key])
						continue
					}
					v := c.v
					if c.esc {
						v = ingest.AppendUnescapedJSON(nil, v)
					}
					var want string
					if err := json.Unmarshal(ingest.AppendJSONString(nil, v), &want); err != nil {
						t.Fatal(err)
					}
					ensure(t, m[c.key] == want, "%s = %q, want %q (line %q)", c.key, m[c.key], want, line)
				}
				if r.Source.IsValid() {
					src := netip.AddrPortFrom(r.Source.Addr(), r.Source.Port())
					if len(src.Addr().Zone()) > 15 {
						src = netip.AddrPortFrom(src.Addr().WithZone(""), src.Port())
					}
					ensure(t, m["source"] == src.String(), "source = %q, want %q", m["source"], src.String())
				} else {
					ensure(t, m["source"] == nil, "source = %q, want none", m["source"])
				}
				for _, k := range []string{"_msg", "message"} {
					if got, ok := m[k]; ok {
						var want string
						json.Unmarshal(ingest.AppendJSONString(nil, r.Line), &want)
						ensure(t, got == want, "%s = %q, want %q", k, got, want)
					}
				}
			}
		}
	}
	return parsed
}

// lineSource returns a sender's address made from line: IPv4 or IPv6,
// with a zone of up to 20 bytes, or none, as a Server would set it.
func lineSource(line []byte) netip.AddrPort {
	h := uint32(len(line))
	for _, c := range line[:min(len(line), 16)] {
		h = h*31 + uint32(c)
	}
	var a netip.Addr
	switch h % 4 {
	case 0:
		return netip.AddrPort{}
	case 1:
		a = netip.AddrFrom4([4]byte{byte(h), byte(h >> 8), 0, 1})
	default:
		a = netip.AddrFrom16([16]byte{0xfe, 0x80, 15: byte(h)})
		if h%4 == 3 {
			a = a.WithZone(strings.Repeat("z", int(h>>8%21)))
		}
	}
	return netip.AddrPortFrom(a, uint16(h>>16))
}

// TestEncode_Source: the sender's address is a string field, the zone of
// an IPv6 address left out when it is longer than an interface name.
func TestEncode_Source(t *testing.T) {
	fw := testForwarder(t, "jsonline+http://127.0.0.1:1/insert/jsonline", Options{Fields: []string{"source", "status"}})
	r := parse(t, ingest.FormatCombined, line250)
	for _, c := range []struct{ src, want string }{
		{"127.0.0.1:35411", "127.0.0.1:35411"},
		{"127.0.0.1:35411", "127.0.0.1:35411"}, // the text kept
		{"[fe80::1%eth0]:514", "[fe80::1%eth0]:514"},
		{"[fe80::1%" + strings.Repeat("z", 20) + "]:65535", "[fe80::1]:65535"},
		{"[fe80::1%" + strings.Repeat("z", 20) + "]:65535", "[fe80::1]:65535"},
		{"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%" + strings.Repeat("z", 15) + "]:65535", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%" + strings.Repeat("z", 15) + "]:65535"},
	} {
		r.Source = netip.MustParseAddrPort(c.src)
		m := decode(t, encodeOne(fw, r))
		ensure(t, m["source"] == c.want && m["status"] == 200.0 && len(m) == 2, "%s: %v", c.src, m)
	}
}

// TestServeLine_RetainsNothing: once ServeLine returned, no encoder holds
// a view of the line.
func TestServeLine_RetainsNothing(t *testing.T) {
	fw := testForwarder(t, "jsonline+http://127.0.0.1:1/insert/jsonline", Options{})
	r := parse(t, ingest.FormatCombined, line250)
	fw.ServeLine(r)
	ensure(t, fw.Stats().Sinks[0].RawBytes == 0, "a batch was sealed")
	for i := range fw.shards {
		enc := fw.shards[i].enc
		ensure(t, enc.line == nil && enc.lineBase == 0 && enc.mlen == 0, "shard %d keeps the line", i)
	}
}

// TestServeLine_LargeRecords: a record whose bound exceeds a batch buffer
// is encoded apart and sent when it fits; one longer than MaxRecordBytes
// is dropped and counted.
func TestServeLine_LargeRecords(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		for _, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Errorf("%v: %.200s", err, line)
			}
			got = append(got, m)
		}
	}))
	defer store.Close()
	fw := testForwarder(t, "jsonline+"+store.URL+"/insert/jsonline?compress=none", Options{MaxBytes: 1 << 20, BatchBytes: 16 << 10})
	line := func(pathLen int) string {
		return `203.0.113.7 - - [10/Oct/2026:13:55:36 +0200] "GET /` + strings.Repeat("a", pathLen) + ` HTTP/1.1" 200 1534 "-" "curl/8.5.0"`
	}
	paths := []int{5 << 10, 20, 5 << 10, 9 << 10, 5 << 10}
	for _, n := range paths {
		r := parse(t, ingest.FormatCombined, line(n))
		if n == 5<<10 {
			fw.shards[0].enc.begin(r)
			ensure(t, fw.shards[0].enc.bound(r, &fw.sinks[0].wire) > 16<<10, "the bound of a %d-byte path fits a batch", n)
			fw.shards[0].enc.end()
		}
		fw.ServeLine(r)
	}
	shutdown(t, fw)
	s := fw.Stats().Sinks[0]
	ensure(t, s.Sent == 4 && s.DroppedTooLarge == 1 && s.Dropped == 1, "%+v", s)
	mu.Lock()
	defer mu.Unlock()
	ensure(t, len(got) == 4, "%d records", len(got))
	lens := map[int]int{}
	for _, m := range got {
		p, _ := m["path"].(string)
		lens[len(p)-1]++
	}
	ensure(t, lens[5<<10] == 3 && lens[20] == 1, "path lengths %v, want three of %d and one of 20", lens, 5<<10)
}
