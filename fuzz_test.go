package ingest

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
	"unsafe"
)

// FuzzParse checks properties that must hold for any input: Parse does not
// panic, every view lies inside the line, a failure has a reason, and
// parsing the same bytes again (with a fresh Parser, so the time cache is
// not involved) gives the same result.
func FuzzParse(f *testing.F) {
	for _, name := range benchFixtures {
		f.Add(readFixture(f, name), false)
	}
	for _, s := range []string{
		`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a?b HTTP/1.1" 200 1 "-" "-"`,
		`198.51.100.1, 10.0.0.1 - u [10/Oct/2026:13:55:36 -0530] "GET /a\"b HTTP/1.1" 200 - "\\" "\x22"` + "\r\n",
		`<190>Nov  5 21:22:09 nginx[12]: unix: - - [10/Oct/2026:13:55:36 +0000] "\x16\x03" 400 0 "-" "-" "x"`,
		`<190>1 2026-11-25T21:22:09Z h a p m [x y="\]"] ` + "\xEF\xBB\xBF" + `- - - [10/Oct/2026:13:55:36 +0000] "GET http://h/a HTTP/1.1" 200 1`,
		`<190>Oct 10 13:55:36 web01 nginx:`,
		`x - - [ "GET / HTTP/1.1" 200 1 "-" "-"`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, line []byte, common bool) {
		format := FormatCombined
		if common {
			format = FormatCommon
		}
		orig := bytes.Clone(line)
		p := Parser{Format: format}
		var r1, r2 Request
		err1 := p.Parse(&r1, line)
		if !bytes.Equal(line, orig) {
			t.Fatal("Parse modified its input")
		}
		if err1 != nil && (ErrorReason(err1) == "" || ErrorReason(err1) == "other") {
			t.Fatalf("error without a reason: %v", err1)
		}
		for i, v := range views(&r1) {
			if !inside(v, line) {
				t.Fatalf("view %d (%q) lies outside the line", i, v)
			}
			if cap(v) != len(v) {
				t.Fatalf("view %d (%q) has spare capacity", i, v)
			}
		}
		p2 := Parser{Format: format}
		err2 := p2.Parse(&r2, line)
		if err1 != err2 || !sameRequest(&r1, &r2) {
			t.Fatalf("two parses differ: %v / %v\n%+v\n%+v", err1, err2, got(&r1), got(&r2))
		}
		// The one-pass request scan agrees with the plain two-pass split.
		if len(r1.RequestLine) > 0 {
			start := int(uintptr(unsafe.Pointer(unsafe.SliceData(r1.RequestLine))) - uintptr(unsafe.Pointer(unsafe.SliceData(line))))
			end, first := requestEnd(line, start, start)
			if end < 0 {
				end = first
			}
			if end != start+len(r1.RequestLine) {
				t.Fatalf("request ends at %d, the reference says %d", start+len(r1.RequestLine), end)
			}
			var ref Request
			splitRequestReference(&ref, r1.RequestLine)
			for i, pair := range [][2][]byte{{ref.Method, r1.Method}, {ref.Path, r1.Path}, {ref.Query, r1.Query}, {ref.Protocol, r1.Protocol}} {
				if !bytes.Equal(pair[0], pair[1]) {
					t.Fatalf("request part %d: reference %q, scanRequest %q", i, pair[0], pair[1])
				}
			}
		}
		// A Request that held a different line first (every field set,
		// syslog ones included) ends up the same as a fresh one: Parse
		// must overwrite or clear every field.
		var dirty Request
		if err := p2.Parse(&dirty, []byte(dirtyLine)); err != nil {
			t.Fatal(err)
		}
		dirty.Source = netip.MustParseAddrPort("192.0.2.1:514")
		if err := p2.Parse(&dirty, line); err != err1 || !reflect.DeepEqual(&dirty, &r1) && !sameRequest(&dirty, &r1) {
			t.Fatalf("a reused Request differs: %v / %v\n%+v\n%+v", err1, err, got(&r1), got(&dirty))
		}
		// The same Parser again, now with a warm time cache.
		err3 := p.Parse(&r2, line)
		if err1 != err3 || !sameRequest(&r1, &r2) {
			t.Fatalf("a warm parser differs: %v / %v", err1, err3)
		}
	})
}

// dirtyLine sets every field of a Request.
const dirtyLine = `<190>1 2026-11-25T21:22:09Z web01 nginx 12 access - 203.0.113.7 - bob [10/Oct/2026:13:55:36 +0200] "GET /a?b HTTP/1.1" 200 1 "r" "u"`

func views(r *Request) [][]byte {
	return [][]byte{r.RemoteAddr, r.RemoteUser, r.Method, r.Path, r.Query, r.Protocol, r.RequestLine,
		r.Referer, r.UserAgent, r.Line, r.SyslogTime, r.SyslogHost, r.SyslogTag, r.SyslogProcID, r.SyslogMsgID}
}

// inside reports whether v is empty or lies within b's memory.
func inside(v, b []byte) bool {
	if len(v) == 0 {
		return true
	}
	vs := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	bs := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return vs >= bs && vs+uintptr(len(v)) <= bs+uintptr(len(b))
}

func sameRequest(a, b *Request) bool {
	va, vb := views(a), views(b)
	for i := range va {
		if !bytes.Equal(va[i], vb[i]) {
			return false
		}
	}
	return a.Time.Equal(b.Time) && a.Time.Location().String() == b.Time.Location().String() &&
		a.Status == b.Status && a.BodyBytesSent == b.BodyBytesSent &&
		a.Envelope == b.Envelope && a.SyslogPriority == b.SyslogPriority && a.Source == b.Source
}

// splitRequestReference is the plain two-pass split that scanRequest must
// agree with: on its first and last space into method, target and
// protocol, and the target into path and query. A line
// that does not start with a method token (junk, TLS bytes, "-") leaves
// them all empty.
func splitRequestReference(r *Request, req []byte) {
	sp := methodEnd(req)
	if sp <= 0 || sp == len(req) || req[sp] != ' ' {
		return
	}
	method := view(req, 0, sp)
	target := req[sp+1:]
	var proto []byte
	if lp := bytes.LastIndexByte(target, ' '); lp >= 0 && bytes.HasPrefix(target[lp+1:], []byte("HTTP/")) {
		proto = view(target, lp+1, len(target))
		target = target[:lp]
	}
	r.Method = method
	r.Protocol = proto
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		r.Query = view(target, q+1, len(target))
		target = target[:q]
	}
	r.Path = view(target, uriPathStart(target), len(target))
}
