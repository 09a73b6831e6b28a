package ingest

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
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
		// RFC 5424 timestamps, valid and not; a header without <PRI>;
		// spaces in the remote address.
		`<190>1 2028-02-29T23:59:60.123456-11:30 h a - - - 1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1`,
		`<190>1 9999-99-99T99:99:99Z h a - - - 1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1`,
		`Nov  5 21:22:09 web01 nginx: 1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`Nov  5 29:22:09 web01 nginx: 1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`1.2.3.4, 5.6.7.8,  9.9.9.9 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
		// Quotes the masks must not take: escaped, bare in the request,
		// a '?' after the request's first quote.
		`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a"b?c HTTP/1.1" 200 1 "r\"x" "u\\"`,
		`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a\"?b HTTP/1.1" 200 1 "" "\""`,
		// Lines each side of the masks' size.
		`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 200 1 "-" "` + strings.Repeat("u", maskBytes-75) + `"`,
		`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 200 1 "-" "` + strings.Repeat("u", maskBytes-74) + `"`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, line []byte, common bool) {
		format := FormatCombined
		if common {
			format = FormatCommon
		}
		p := Parser{Format: format}
		var r1, r2 Request
		err1 := parseChecked(t, &p, &r1, line)
		checkNotAccessLine(t, nil, line, err1)
		for i, v := range views(&r1) {
			if !inside(v, line) {
				t.Fatalf("view %d (%q) lies outside the line", i, v)
			}
			if cap(v) != len(v) {
				t.Fatalf("view %d (%q) has spare capacity", i, v)
			}
		}
		// p reads the fields' ends from quote masks where the line is
		// short enough; p2 scans for every one.
		p2 := Parser{Format: format, noMasks: true}
		err2 := p2.Parse(&r2, line)
		if err1 != err2 || !sameRequest(&r1, &r2) {
			t.Fatalf("the masked and the scanning parse differ: %v / %v\n%+v\n%+v", err1, err2, got(&r1), got(&r2))
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
		r.Referer, r.UserAgent, r.Host, r.Line, r.SyslogTime, r.SyslogHost, r.SyslogTag, r.SyslogProcID, r.SyslogMsgID}
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

// FuzzCompiledCombined checks the compiled combined programs against the
// hand-written combined parser on the same input. nginx's combined
// log_format and Apache's combined LogFormat (apache true) are compiled
// from their configuration text.
//
// What "agree" means. Both parsers detect the syslog envelope with the same
// code and scan the request with the same function, and from the time field
// on they follow the same rules. They split the fields before the time
// differently: the hand-written parser finds the first " [" followed by a
// time-shaped field and splits what precedes it from the right (the user
// and ident are the last two space-free tokens, the address is the rest and
// may hold spaces); a compiled program reads left to right, and nginx's
// program wants the ident to be the literal "-". So:
//
//  1. When the message (the line after its envelope) is regular, the two
//     must agree exactly: both fail, or both succeed with equal fields.
//     Regular, for nginx: the text P before the first " [" is
//     A + " - " + U at P's first " - ", with A non-empty and not ending in
//     ',', U without spaces, and that " [" opens a time-shaped field ('['
//     and ']' 27 bytes apart). For Apache: P is three non-empty space-free
//     tokens separated by single spaces, followed by such a time field.
//  2. Otherwise, when both succeed and their time fields start at the same
//     byte, every field from the time on is equal (time, request and its
//     parts, status, size, referer, user agent, envelope).
//  3. Always: the compiled parse does not panic or modify the line, its
//     views lie inside the line with no spare capacity, and a failure has
//     a reason.
//
// The sentinel may differ where both fail: "12 x" as a size is ErrBytes to
// the compiled program, which reads the size up to ` "`, and ErrMissingField
// to the hand-written parser, which reads it up to a space.
func FuzzCompiledCombined(f *testing.F) {
	for _, name := range benchFixtures {
		f.Add(readFixture(f, name), false)
		f.Add(readFixture(f, name), true)
	}
	for _, s := range []string{
		`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a?b HTTP/1.1" 200 1 "-" "-"`,
		`198.51.100.1, 10.0.0.1 - u [10/Oct/2026:13:55:36 -0530] "GET /a\"b HTTP/1.1" 200 - "\\" "\x22"` + "\r\n",
		`<190>Nov  5 21:22:09 nginx[12]: unix: - - [10/Oct/2026:13:55:36 +0000] "\x16\x03" 400 0 "-" "-" "x"`,
		`a b - c [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`a, b - c [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`Nov  5 21:22:09 web01 nginx: 1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`a - b c [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`a - b [x] [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`a - b [10/Oct/2026:13:55:36 +0000] "GET /"x" 1 HTTP/1.1" 200 1 "-" "-"`,
		`a - b [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 12 x "-" "-"`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	nginx := mustNginx(f, nginxCombined)
	apache := mustApache(f, `%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"`)
	f.Fuzz(func(t *testing.T, line []byte, isApache bool) {
		format := nginx
		if isApache {
			format = apache
		}
		orig := bytes.Clone(line)
		var hp, cp Parser
		cp.Format = format
		var hr, cr Request
		herr := hp.Parse(&hr, line)
		cerr := cp.Parse(&cr, line)
		if !bytes.Equal(line, orig) {
			t.Fatal("Parse modified its input")
		}
		checkCombinedHead(t, format, line, &cr, cerr)
		checkNotAccessLine(t, nil, line, herr)
		checkNotAccessLine(t, format, line, cerr)
		// nginx's combined has the built-in formats' marks; Apache's
		// combined has two of them, " [" and "] \"".
		hjunk, cjunk := ErrorReason(herr) == "not_access_line", ErrorReason(cerr) == "not_access_line"
		if herr != nil && cerr != nil && (hjunk && !cjunk || !isApache && hjunk != cjunk) {
			t.Fatalf("%q: hand-written %v, compiled %v: they disagree on not_access_line", line, herr, cerr)
		}
		if cerr != nil && (ErrorReason(cerr) == "" || ErrorReason(cerr) == "other") {
			t.Fatalf("error without a reason: %v", cerr)
		}
		for i, v := range views(&cr) {
			if !inside(v, line) || cap(v) != len(v) {
				t.Fatalf("view %d (%q) outside the line or with spare capacity", i, v)
			}
		}
		msg, ok := accessLine(line)
		if !ok {
			// The envelope failed: the same code ran for both.
			if herr != cerr {
				t.Fatalf("envelope errors differ: %v / %v", herr, cerr)
			}
			return
		}
		if regularCombined(msg, isApache) {
			if (herr == nil) != (cerr == nil) {
				t.Fatalf("regular line %q: hand-written %v, compiled %v", msg, herr, cerr)
			}
			if herr == nil && !sameRequest(&hr, &cr) {
				t.Fatalf("regular line %q: fields differ\nhand-written %+v\n    compiled %+v", msg, got(&hr), got(&cr))
			}
			return
		}
		if herr != nil || cerr != nil || findTimeField(msg) != compiledTimeField(msg, isApache) {
			return
		}
		h, c := got(&hr), got(&cr)
		h.addr, h.user, c.addr, c.user = "", "", "", ""
		if h != c || !hr.Time.Equal(cr.Time) {
			t.Fatalf("line %q, same time field: fields differ\nhand-written %+v\n    compiled %+v", msg, h, c)
		}
	})
}

// accessLine returns the access line inside line, after its syslog envelope,
// as Parse finds it; ok is false when Parse fails before reaching it.
func accessLine(line []byte) ([]byte, bool) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 || len(line) > MaxLineLength {
		return nil, false
	}
	if line[0] != '<' {
		return line, true
	}
	var r Request
	msg, err := new(Parser).parseEnvelope(&r, line)
	return msg, err == nil
}

// regularCombined implements rule 1 of FuzzCompiledCombined.
func regularCombined(msg []byte, isApache bool) bool {
	k := bytes.Index(msg, []byte(" ["))
	if k < 0 || k+28 >= len(msg) || msg[k+28] != ']' {
		return false
	}
	p := msg[:k]
	if isApache {
		toks := bytes.Split(p, []byte(" "))
		if len(toks) != 3 {
			return false
		}
		for _, tok := range toks {
			if len(tok) == 0 {
				return false
			}
		}
		return toks[0][len(toks[0])-1] != ',' // %h is a list: ", " does not end it
	}
	i := bytes.Index(p, []byte(" - "))
	return i > 0 && p[i-1] != ',' && !bytes.ContainsRune(p[i+3:], ' ')
}

// compiledTimeField returns where the compiled combined program looks for
// the time field's '[', following its rules: nginx's $remote_addr ends at
// the first " - " not after a ',', $remote_user at the next " ["; Apache's
// %h at the first space not after a ',', %l at the next space, %u at the
// next " [".
func compiledTimeField(msg []byte, isApache bool) int {
	pos := 0
	next := func(sep string, list bool) bool {
		for from := pos; ; {
			k := bytes.Index(msg[from:], []byte(sep))
			if k < 0 {
				return false
			}
			i := from + k
			if list && i > pos && msg[i-1] == ',' {
				from = i + 1
				continue
			}
			pos = i + len(sep)
			return true
		}
	}
	if isApache {
		if !next(" ", true) || !next(" ", false) {
			return -1
		}
	} else if !next(" - ", true) {
		return -1
	}
	if !next(" [", false) {
		return -1
	}
	return pos - 1
}

// FuzzCompiled checks properties of compiled formats on any input: no
// panic, the line is not modified, views and variables lie inside the line
// with no spare capacity, a failure has a reason, a second parse and a
// parse into a used Request give the same result.
func FuzzCompiled(f *testing.F) {
	formats := []*Format{
		mustNginx(f, upstreamInfo), mustNginx(f, nginxJSON), mustNginx(f, nginxMain),
		mustApache(f, apacheVhost), mustNginx(f, `$uri$is_args$args "$request" $request_uri $msec $host`),
	}
	for _, name := range compiledFixtures {
		f.Add(readFixture(f, name), uint8(0))
		f.Add(readFixture(f, name), uint8(1))
	}
	for _, s := range []string{
		`<190>Oct 10 13:55:36 web01 nginx: 1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-" 1 0.1 [u] [] a, b : c 1, 2 0.1, 0.2 200, 200 id`,
		`{"time":"2026-10-10T13:55:36+00:00","remote_addr":"a","host":"h","request":"GET /\"?\\ HTTP/1.1","status":200,"body_bytes_sent":1,"request_time":1,"upstream_response_time":"","http_referer":"","http_user_agent":"","http_x_forwarded_for":""}`,
		`/a?b "GET /x?y HTTP/1.1" /c?d 1791640536.5 h`,
		`h:80 1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
	} {
		for i := range formats {
			f.Add([]byte(s), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, line []byte, which uint8) {
		format := formats[int(which)%len(formats)]
		p := Parser{Format: format}
		var r1, r2 Request
		err1 := parseChecked(t, &p, &r1, line)
		checkCombinedHead(t, format, line, &r1, err1)
		checkNotAccessLine(t, format, line, err1)
		all := views(&r1)
		for _, v := range r1.Vars() {
			all = append(all, v)
		}
		for i, v := range all {
			if !inside(v, line) || cap(v) != len(v) {
				t.Fatalf("view %d (%q) outside the line or with spare capacity", i, v)
			}
		}
		err2 := (&Parser{Format: format}).Parse(&r2, line)
		if err1 != err2 || !sameCompiled(&r1, &r2) {
			t.Fatalf("two parses differ: %v / %v", err1, err2)
		}
		var dirty Request
		if err := p.Parse(&dirty, []byte(dirtyLine)); err != nil {
			dirty = r1 // any earlier state will do
		}
		if err := p.Parse(&dirty, line); err != err1 || !reflect.DeepEqual(&dirty, &r1) && !sameCompiled(&dirty, &r1) {
			t.Fatalf("a reused Request differs: %v / %v", err1, err)
		}
	})
}

// checkCombinedHead fails t unless r and err, what format gave for line,
// are what the interpreter loop alone gives, when format's program starts
// with combinedShape: runCombinedHead repeats those ops' code inline, and
// the two must not drift apart.
func checkCombinedHead(t *testing.T, format *Format, line []byte, r *Request, err error) {
	t.Helper()
	if !format.prog.combinedHead {
		return
	}
	prog := *format.prog
	prog.combinedHead = false
	loopOnly := *format
	loopOnly.prog = &prog
	var lr Request
	lerr := (&Parser{Format: &loopOnly}).Parse(&lr, line)
	if lr.format == &loopOnly {
		lr.format = format
	}
	if lerr != err || !reflect.DeepEqual(&lr, r) {
		t.Fatalf("runCombinedHead and the loop differ on %q:\nhead %v %+v\nloop %v %+v", line, err, got(r), lerr, got(&lr))
	}
}

// compiledFixtures are the lines BenchmarkParse runs through compiled
// formats, one per file in testdata/.
var compiledFixtures = []string{"upstreaminfo", "json"}

// sameCompiled is sameRequest plus the fields only compiled formats set.
func sameCompiled(a, b *Request) bool {
	if !sameRequest(a, b) || !bytes.Equal(a.Host, b.Host) || a.BytesSent != b.BytesSent ||
		a.RequestTime != b.RequestTime || a.HasRequestTime != b.HasRequestTime || a.format != b.format {
		return false
	}
	for name, v := range a.Vars() {
		if !bytes.Equal(v, b.Var(name)) {
			return false
		}
	}
	return true
}

// parseChecked parses line into r and fails t if Parse modified line or
// returned an error without a reason label.
func parseChecked(t *testing.T, p *Parser, r *Request, line []byte) error {
	t.Helper()
	orig := bytes.Clone(line)
	err := p.Parse(r, line)
	if !bytes.Equal(line, orig) {
		t.Fatal("Parse modified its input")
	}
	if err != nil && (ErrorReason(err) == "" || ErrorReason(err) == "other") {
		t.Fatalf("error without a reason: %v", err)
	}
	return err
}

// checkNotAccessLine checks the reason of err, what Parse returned for line
// in format f (nil for the built-ins), against a slow statement of the
// rule of notAccessLine: a failing line is "not_access_line" exactly when
// it holds a control byte other than tab, or its access part (past a
// syslog header that parsed) holds none of the format's marks.
func checkNotAccessLine(t *testing.T, f *Format, line []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	reason := ErrorReason(err)
	if reason == "empty" || reason == "too_long" {
		return
	}
	binary := false
	// Parse takes off one "\n" and one "\r" before it: others are bytes
	// of the line.
	for _, c := range bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r")) {
		if c < 0x20 && c != '\t' || c == 0x7f {
			binary = true
		}
	}
	want := binary
	if msg, ok := accessLineIn(f, line); ok && !binary {
		var marks []string
		if f == nil || f.prog == nil {
			marks = []string{" - ", " [", `] "`}
		} else {
			for _, lit := range append([][]byte{f.prog.lead}, opLits(f.prog)...) {
				if strings.Trim(string(lit), ` "`) != "" {
					marks = append(marks, string(lit))
				}
			}
		}
		found := len(marks) == 0
		for _, m := range marks {
			found = found || strings.Contains(string(msg), m)
		}
		want = !found
	}
	if (reason == "not_access_line") != want {
		t.Fatalf("%q: reason %q; binary %v, want not_access_line: %v", line, reason, binary, want)
	}
}

// opLits returns the literals of a program's ops.
func opLits(p *program) [][]byte {
	var lits [][]byte
	for _, o := range p.ops {
		lits = append(lits, o.lit)
	}
	return lits
}

// accessLineIn returns the access part of line as Parse finds it in
// format f, and false when its syslog header fails.
func accessLineIn(f *Format, line []byte) ([]byte, bool) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	var r Request
	var p Parser
	switch {
	case len(line) == 0:
		return nil, false
	case line[0] == '<' && (f == nil || f.prog == nil || !f.prog.leadsLT):
		msg, err := p.parseEnvelope(&r, line)
		return msg, err == nil
	case line[0] >= 'A' && line[0] <= 'S':
		msg, err := p.parseNoPRI(&r, line)
		return msg, err == nil
	}
	return line, true
}
