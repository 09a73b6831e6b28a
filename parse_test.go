package ingest

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// want lists the fields a test checks; strings stand for the views.
type want struct {
	addr, user, time           string // time in RFC 3339, "" = not checked
	method, path, query, proto string
	request                    string
	status                     int
	bytes                      int64
	referer, ua                string
	env                        Envelope
	pri                        int
	host, tag, procID, msgID   string
}

func got(r *Request) want {
	w := want{
		addr: string(r.RemoteAddr), user: string(r.RemoteUser),
		method: string(r.Method), path: string(r.Path), query: string(r.Query), proto: string(r.Protocol),
		request: string(r.RequestLine), status: r.Status, bytes: r.BodyBytesSent,
		referer: string(r.Referer), ua: string(r.UserAgent),
		env: r.Envelope, pri: r.SyslogPriority,
		host: string(r.SyslogHost), tag: string(r.SyslogTag), procID: string(r.SyslogProcID), msgID: string(r.SyslogMsgID),
	}
	if !r.Time.IsZero() {
		w.time = r.Time.Format(time.RFC3339)
	}
	return w
}

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

func TestParseSuccess(t *testing.T) {
	f := func(format *Format, line string, w want) {
		t.Helper()
		p := Parser{Format: format}
		var r Request
		if err := p.Parse(&r, []byte(line)); err != nil {
			t.Fatalf("Parse(%q): %v", line, err)
		}
		g := got(&r)
		if w.time == "" {
			g.time = ""
		}
		if g != w {
			t.Fatalf("Parse(%q)\n got %+v\nwant %+v", line, g, w)
		}
	}
	base := want{addr: "203.0.113.7", time: "2026-10-10T13:55:36Z", method: "GET", path: "/a", proto: "HTTP/1.1",
		request: "GET /a HTTP/1.1", status: 200, bytes: 1534, referer: "https://example.com/", ua: chromeUA}
	with := func(edit func(*want)) want { w := base; edit(&w); return w }
	const tail = ` 200 1534 "https://example.com/" "` + chromeUA + `"`
	const pre = `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] `

	// nginx combined, with query, user, offsets.
	f(nil, pre+`"GET /a HTTP/1.1"`+tail, base)
	f(FormatCombined, pre+`"GET /api/v1/users/42?expand=orders&x=1 HTTP/1.1"`+tail, with(func(w *want) {
		w.path, w.query, w.request = "/api/v1/users/42", "expand=orders&x=1", "GET /api/v1/users/42?expand=orders&x=1 HTTP/1.1"
	}))
	f(nil, `203.0.113.7 - alice [10/Oct/2026:13:55:36 +0200] "GET /a HTTP/1.1"`+tail, with(func(w *want) {
		w.user, w.time = "alice", "2026-10-10T13:55:36+02:00"
	}))
	f(nil, `203.0.113.7 - - [29/Feb/2024:23:59:59 -0530] "GET /a HTTP/1.1"`+tail, with(func(w *want) { w.time = "2024-02-29T23:59:59-05:30" }))
	f(nil, `203.0.113.7 - - [01/Jan/1970:00:00:00 +0000] "GET /a HTTP/1.1"`+tail, with(func(w *want) { w.time = "1970-01-01T00:00:00Z" }))
	f(nil, `203.0.113.7 - - [31/Dec/2099:23:59:59 +1400] "GET /a HTTP/1.1"`+tail, with(func(w *want) { w.time = "2099-12-31T23:59:59+14:00" }))
	// Line endings.
	f(nil, pre+`"GET /a HTTP/1.1"`+tail+"\n", base)
	f(nil, pre+`"GET /a HTTP/1.1"`+tail+"\r\n", base)
	// Extra fields after the user agent.
	f(nil, pre+`"GET /a HTTP/1.1"`+tail+` "198.51.100.1, 10.0.0.1" 0.005 0.004`, base)
	f(nil, pre+`"GET /a HTTP/1.1"`+tail+` rt=0.005 uct="0.000"`, base)
	// Dashes are empty; "-" body size is 0 (Apache).
	f(nil, `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 304 - "-" "-"`, with(func(w *want) {
		w.status, w.bytes, w.referer, w.ua = 304, 0, "", ""
	}))
	// Apache combined with an ident field.
	f(nil, `203.0.113.7 ident bob [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1"`+tail, with(func(w *want) { w.user = "bob" }))
	// Requests that are not HTTP requests: raw request and status kept.
	notHTTP := func(req string, status int) want {
		return with(func(w *want) {
			w.method, w.path, w.proto, w.request, w.status, w.bytes = "", "", "", req, status, 0
		})
	}
	f(nil, pre+`"" 400 0 "https://example.com/" "`+chromeUA+`"`, notHTTP("", 400))
	f(nil, pre+`"-" 400 0 "https://example.com/" "`+chromeUA+`"`, notHTTP("", 400))
	f(nil, pre+`"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03" 400 0 "https://example.com/" "`+chromeUA+`"`,
		notHTTP(`\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03`, 400))
	f(nil, pre+`"hello" 400 0 "https://example.com/" "`+chromeUA+`"`, notHTTP("hello", 400))
	f(nil, pre+`"hello world" 400 0 "https://example.com/" "`+chromeUA+`"`, notHTTP("hello world", 400))
	f(nil, pre+`"SSH-2.0-OpenSSH_8.9" 400 0 "https://example.com/" "`+chromeUA+`"`, notHTTP("SSH-2.0-OpenSSH_8.9", 400))
	// Targets with spaces split on the first and last space.
	f(nil, pre+`"GET /a b c?q=1 2 HTTP/1.1"`+tail, with(func(w *want) {
		w.path, w.query, w.request = "/a b c", "q=1 2", "GET /a b c?q=1 2 HTTP/1.1"
	}))
	// HTTP/0.9: no protocol.
	f(nil, pre+`"GET /a"`+tail, with(func(w *want) { w.proto, w.request = "", "GET /a" }))
	f(nil, pre+`"GET /a b"`+tail, with(func(w *want) { w.proto, w.path, w.request = "", "/a b", "GET /a b" }))
	// OPTIONS *, CONNECT, absolute URIs, HTTP/2.
	f(nil, pre+`"OPTIONS * HTTP/1.1"`+tail, with(func(w *want) { w.method, w.path, w.request = "OPTIONS", "*", "OPTIONS * HTTP/1.1" }))
	f(nil, pre+`"CONNECT example.com:443 HTTP/1.1"`+tail, with(func(w *want) {
		w.method, w.path, w.request = "CONNECT", "example.com:443", "CONNECT example.com:443 HTTP/1.1"
	}))
	f(nil, pre+`"GET http://example.com/a?b=1 HTTP/1.1"`+tail, with(func(w *want) {
		w.query, w.request = "b=1", "GET http://example.com/a?b=1 HTTP/1.1"
	}))
	f(nil, pre+`"GET http://example.com HTTP/1.1"`+tail, with(func(w *want) { w.path, w.request = "", "GET http://example.com HTTP/1.1" }))
	f(nil, pre+`"GET http://example.com?x HTTP/1.1"`+tail, with(func(w *want) {
		w.path, w.query, w.request = "", "x", "GET http://example.com?x HTTP/1.1"
	}))
	f(nil, pre+`"POST /a HTTP/2.0"`+tail, with(func(w *want) { w.method, w.proto, w.request = "POST", "HTTP/2.0", "POST /a HTTP/2.0" }))
	f(nil, pre+`"PROPFIND /dav/ HTTP/1.1"`+tail, with(func(w *want) { w.method, w.path, w.request = "PROPFIND", "/dav/", "PROPFIND /dav/ HTTP/1.1" }))
	f(nil, pre+`"GET /a?"`+tail, with(func(w *want) { w.proto, w.request = "", "GET /a?" }))
	f(nil, pre+`"GET /a?x?y=1 HTTP/1.1"`+tail, with(func(w *want) { w.query, w.request = "x?y=1", "GET /a?x?y=1 HTTP/1.1" }))
	// Escaped quotes: Apache \" and \\, nginx \x22.
	f(nil, pre+`"GET /a\"b HTTP/1.1" 200 1534 "https://example.com/\"x\"" "say \"hi\\\""`, with(func(w *want) {
		w.path, w.request, w.referer, w.ua = `/a\"b`, `GET /a\"b HTTP/1.1`, `https://example.com/\"x\"`, `say \"hi\\\"`
	}))
	f(nil, pre+`"GET /a\x22b HTTP/1.1" 200 1534 "https://example.com/" "ua \x22quoted\x22"`, with(func(w *want) {
		w.path, w.request, w.ua = `/a\x22b`, `GET /a\x22b HTTP/1.1`, `ua \x22quoted\x22`
	}))
	f(nil, pre+`"GET /a\\ HTTP/1.1" 200 1534 "https://example.com/" "ua\\"`, with(func(w *want) {
		w.path, w.request, w.ua = `/a\\`, `GET /a\\ HTTP/1.1`, `ua\\`
	}))
	// A bare quote inside the request (written by a broken proxy).
	f(nil, pre+`"GET /a"b HTTP/1.1"`+tail, with(func(w *want) { w.path, w.request = `/a"b`, `GET /a"b HTTP/1.1` }))
	// Address lists, unix:, IPv6.
	f(nil, `198.51.100.1, 10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1"`+tail, with(func(w *want) { w.addr = "198.51.100.1, 10.0.0.1" }))
	f(nil, `unix: - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1"`+tail, with(func(w *want) { w.addr = "unix:" }))
	f(nil, `2001:db8::1 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1"`+tail, with(func(w *want) { w.addr = "2001:db8::1" }))
	f(nil, `- - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1"`+tail, with(func(w *want) { w.addr = "" }))
	// Status 000 and 499 are valid three-digit statuses.
	f(nil, pre+`"GET /a HTTP/1.1" 000 0 "-" "-"`, with(func(w *want) { w.status, w.bytes, w.referer, w.ua = 0, 0, "", "" }))
	f(nil, pre+`"GET /a HTTP/1.1" 499 0 "-" "-"`, with(func(w *want) { w.status, w.bytes, w.referer, w.ua = 499, 0, "", "" }))
	// The largest body size.
	f(nil, pre+`"GET /a HTTP/1.1" 200 9223372036854775807 "https://example.com/" "`+chromeUA+`"`, with(func(w *want) { w.bytes = 1<<63 - 1 }))
	// Multi-kilobyte path, query and user agent.
	long := strings.Repeat("/segment", 512)
	longQ := strings.Repeat("k=v&", 1024)
	longUA := strings.Repeat("Mozilla/5.0 ", 400)
	f(nil, pre+`"GET `+long+"?"+longQ+` HTTP/1.1" 200 1534 "https://example.com/" "`+longUA+`"`, with(func(w *want) {
		w.path, w.query, w.request, w.ua = long, longQ, "GET "+long+"?"+longQ+" HTTP/1.1", longUA
	}))

	// Common format, with and without trailing fields.
	common := with(func(w *want) { w.referer, w.ua = "", "" })
	f(FormatCommon, pre+`"GET /a HTTP/1.1" 200 1534`, common)
	f(FormatCommon, pre+`"GET /a HTTP/1.1" 200 1534`+"\r\n", common)
	f(FormatCommon, pre+`"GET /a HTTP/1.1" 200 1534 "https://example.com/" "x"`, common)

	// RFC 3164 as nginx writes it.
	sys := func(pri int, host, tag, pid string) want {
		return with(func(w *want) { w.env, w.pri, w.host, w.tag, w.procID = EnvelopeRFC3164, pri, host, tag, pid })
	}
	body := pre + `"GET /a HTTP/1.1"` + tail
	f(nil, `<190>Oct 10 13:55:36 web01 nginx: `+body, sys(190, "web01", "nginx", ""))
	f(nil, `<190>Nov  5 21:22:09 web01 nginx: `+body, sys(190, "web01", "nginx", ""))
	f(nil, `<190>Nov 05 21:22:09 web01 nginx[1234]: `+body, sys(190, "web01", "nginx", "1234"))
	f(nil, `<190>Nov  5 21:22:09 nginx: `+body, sys(190, "", "nginx", ""))
	f(nil, `<13>Nov  5 21:22:09 web01.example.com my_tag: `+body+"\n", sys(13, "web01.example.com", "my_tag", ""))
	f(nil, `<0>Nov  5 21:22:09 web01 `+body, sys(0, "web01", "", ""))
	// RFC 5424.
	sys5 := func(host, tag, pid, msgid string) want {
		return with(func(w *want) {
			w.env, w.pri, w.host, w.tag, w.procID, w.msgID = EnvelopeRFC5424, 190, host, tag, pid, msgid
		})
	}
	f(nil, `<190>1 2026-11-25T21:22:09.123+00:00 web01 nginx 1234 access - `+body, sys5("web01", "nginx", "1234", "access"))
	f(nil, `<190>1 2026-11-25T21:22:09Z web01 nginx - - - `+"\xEF\xBB\xBF"+body, sys5("web01", "nginx", "", ""))
	f(nil, `<190>1 - - - - - [ex@32473 a="1" b="x\"]y"][meta seq="2"] `+body, sys5("", "", "", ""))
	f(nil, `<190>1 2028-02-29T23:59:60.123456-11:30 web01 nginx - - - `+body, sys5("web01", "nginx", "", ""))
	// An RFC 3164 header without its <PRI>, as some relays forward it.
	f(nil, `Oct 10 13:55:36 web01 nginx: `+body, sys(-1, "web01", "nginx", ""))
	f(nil, `Nov  5 21:22:09 nginx[77]: `+body, sys(-1, "", "nginx", "77"))
	// An address list keeps its spaces.
	f(nil, `203.0.113.7, 10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1"`+tail,
		with(func(w *want) { w.addr = "203.0.113.7, 10.0.0.1" }))
}

func TestParseFailure(t *testing.T) {
	f := func(format *Format, line string, wantErr error, reason string) {
		t.Helper()
		p := Parser{Format: format}
		var r Request
		err := p.Parse(&r, []byte(line))
		if !errors.Is(err, wantErr) {
			t.Fatalf("Parse(%q) = %v, want %v", line, err, wantErr)
		}
		if got := ErrorReason(err); got != reason {
			t.Fatalf("ErrorReason(%v) = %q, want %q", err, got, reason)
		}
		if !strings.HasPrefix(err.Error(), wantErr.Error()) {
			t.Fatalf("Error() = %q, want prefix %q", err.Error(), wantErr.Error())
		}
	}
	const pre = `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] `
	const tail = ` 200 1534 "https://example.com/" "ua"`
	ok := pre + `"GET /a HTTP/1.1"` + tail

	f(nil, "", ErrEmpty, "empty")
	f(nil, "\n", ErrEmpty, "empty")
	f(nil, "\r\n", ErrEmpty, "empty")
	f(nil, strings.Repeat("x", MaxLineLength+1), ErrTooLong, "too_long")

	// Times.
	for _, ts := range []string{
		"10/Oct/2026:13:55:36 0000", "10/Okt/2026:13:55:36 +0000", "32/Oct/2026:13:55:36 +0000",
		"00/Oct/2026:13:55:36 +0000", "29/Feb/2026:13:55:36 +0000", "31/Apr/2026:13:55:36 +0000",
		"10/Oct/2026:24:00:00 +0000", "10/Oct/2026:13:60:00 +0000", "10/Oct/2026:13:55:60 +0000",
		"10/Oct/2026:13:55:36 +2400", "10/Oct/2026:13:55:36 +0060", "1O/Oct/2026:13:55:36 +0000",
		"10-Oct-2026 13:55:36 +0000", "10/Oct/2026:13:55:36.123 +0000", "2026-10-10T13:55:36+00:00",
		"10/Oct/2026:13:55:36", "",
	} {
		f(nil, `203.0.113.7 - - [`+ts+`] "GET /a HTTP/1.1"`+tail, ErrTime, "time")
	}
	f(nil, `203.0.113.7 - - 10/Oct/2026:13:55:36 +0000 "GET /a HTTP/1.1"`+tail, ErrMissingField, "missing_field")
	// Missing leading fields.
	f(nil, `203.0.113.7 [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1"`+tail, ErrMissingField, "missing_field")
	f(nil, `- [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1"`+tail, ErrMissingField, "missing_field")
	f(nil, `[10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1"`+tail, ErrMissingField, "missing_field")
	// Truncated lines.
	for i := len(pre) + 1; i < len(ok); i++ {
		line := ok[:i]
		p := Parser{}
		var r Request
		if err := p.Parse(&r, []byte(line)); err == nil {
			t.Fatalf("Parse(%q) of a truncated line succeeded", line)
		}
	}
	f(nil, pre, ErrMissingField, "missing_field")
	f(nil, pre+`"GET /a HTTP/1.1`, ErrUnterminatedQuote, "unterminated_quote")
	f(nil, pre+`"GET /a HTTP/1.1\"`+tail[:9], ErrUnterminatedQuote, "unterminated_quote")
	f(nil, pre+`"GET /a HTTP/1.1"`, ErrMissingField, "missing_field")
	f(nil, pre+`"GET /a HTTP/1.1" 200`, ErrMissingField, "missing_field")
	f(nil, pre+`"GET /a HTTP/1.1" 200 15`, ErrMissingField, "missing_field")
	f(nil, pre+`"GET /a HTTP/1.1" 200 15 "ref`, ErrUnterminatedQuote, "unterminated_quote")
	f(nil, pre+`"GET /a HTTP/1.1" 200 15 "ref"`, ErrMissingField, "missing_field")
	f(nil, pre+`"GET /a HTTP/1.1" 200 15 "ref" ua`, ErrMissingField, "missing_field")
	f(nil, pre+`"GET /a HTTP/1.1" 200 15 "ref" "ua`, ErrUnterminatedQuote, "unterminated_quote")
	f(FormatCommon, pre+`"GET /a HTTP/1.1" 200`, ErrMissingField, "missing_field")
	// Not access lines at all: binary bytes, or text without the format's
	// marks (" - ", " [", "] \""), also behind a syslog header that parsed.
	for _, junk := range []string{
		"garbage", "hello world", "GET / HTTP/1.1", `{"time":"2026-10-10T13:55:36Z","path":"/a"}`,
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "\x00", "\x7f",
		"203.0.113.7\x00 - - [10/Oct/2026:13:55:36 +0000] \"GET /a HTTP/1.1\" 2000 1 \"-\" \"-\"", // binary, failing
		"<38>Dec  6 10:00:00 vm sshd[812]: Accepted publickey for root from 192.0.2.1 port 50022 ssh2",
		"<999>\x00\x01",
	} {
		f(nil, junk, ErrNotAccessLine, "not_access_line")
	}
	// A line with a mark keeps its field's reason, and so does a lying
	// syslog header of text.
	f(nil, `203.0.113.7 - -`, ErrMissingField, "missing_field")
	f(nil, `<999>Dec  6 10:00:00 vm sshd[812]: Accepted`, ErrSyslogHeader, "syslog_header")
	f(nil, "a\tb - - [10/Oct/2026:13:55:36 +0000]", ErrMissingField, "missing_field") // a tab is not binary
	// A line that parses is an access line, whatever bytes it holds.
	var r Request
	if err := new(Parser).Parse(&r, []byte("203.0.113.7\x00 - - [10/Oct/2026:13:55:36 +0000] \"GET /a HTTP/1.1\""+tail)); err != nil {
		t.Errorf("a line with a NUL in a field: %v, want it parsed", err)
	}
	// Statuses.
	for _, st := range []string{"20", "2000", "2x0", "-20", "abc", "+20"} {
		f(nil, pre+`"GET /a HTTP/1.1" `+st+` 1534 "-" "-"`, ErrStatus, "status")
	}
	// Byte counts: negative, overflowing, junk.
	for _, n := range []string{"-1", "9223372036854775808", "99999999999999999999", "12a", "--", "1.5"} {
		f(nil, pre+`"GET /a HTTP/1.1" 200 `+n+` "-" "-"`, ErrBytes, "bytes")
		f(FormatCommon, pre+`"GET /a HTTP/1.1" 200 `+n, ErrBytes, "bytes")
	}
	// Syslog headers.
	f(nil, `<190>Oct 10 13:55:36 web01 nginx:`, ErrNoMessage, "no_message")
	f(nil, `<190>Oct 10 13:55:36 web01 nginx: `, ErrNoMessage, "no_message")
	f(nil, `<190>Oct 10 13:55:36 web01 nginx:   `, ErrNoMessage, "no_message")
	f(nil, `<190>Oct 10 13:55:36 nginx:`, ErrNoMessage, "no_message")
	f(nil, `<190>Oct 10 13:55:36 web01`, ErrNoMessage, "no_message")
	f(nil, `<190>Oct 10 13:55:36`, ErrNoMessage, "no_message")
	f(nil, `<190>Oct 10 13:55:36 `, ErrNoMessage, "no_message")
	f(nil, `<190>1 2026-11-25T21:22:09Z web01 nginx - -`, ErrNoMessage, "no_message")
	f(nil, `<190>1 2026-11-25T21:22:09Z web01 nginx - - -`, ErrNoMessage, "no_message")
	f(nil, `<190>1 2026-11-25T21:22:09Z web01 nginx - - - `, ErrNoMessage, "no_message")
	f(nil, `<190>1 2026-11-25T21:22:09Z web01 nginx - - - `+"\xEF\xBB\xBF", ErrNoMessage, "no_message")
	f(nil, `<190>1 2026-11-25T21:22:09Z web01 nginx - - [a b="c"]`, ErrNoMessage, "no_message")
	f(nil, `<190>1 2026-11-25T21:22:09Z web01 nginx - - [a b="c] `+ok, ErrSyslogHeader, "syslog_header")
	f(nil, `<190>1 2026-11-25T21:22:09Z web01 nginx - - x `+ok, ErrSyslogHeader, "syslog_header")
	f(nil, `<190>1 2026-11-25T21:22:09Z web01 nginx - - [a]x `+ok, ErrSyslogHeader, "syslog_header")
	f(nil, `<190>1 2026-11-25T21:22:09Z  nginx - - - `+ok, ErrSyslogHeader, "syslog_header")
	f(nil, `<190>1 web01`, ErrSyslogHeader, "syslog_header")
	f(nil, `<192>Oct 10 13:55:36 web01 nginx: `+ok, ErrSyslogHeader, "syslog_header")
	f(nil, `<>Oct 10 13:55:36 web01 nginx: `+ok, ErrSyslogHeader, "syslog_header")
	f(nil, `<1900>Oct 10 13:55:36 web01 nginx: `+ok, ErrSyslogHeader, "syslog_header")
	f(nil, `<19`, ErrSyslogHeader, "syslog_header")
	f(nil, `<190`, ErrSyslogHeader, "syslog_header")
	f(nil, `<190>`, ErrSyslogHeader, "syslog_time")
	f(nil, `<190>Okt 10 13:55:36 web01 nginx: `+ok, ErrSyslogHeader, "syslog_time")
	f(nil, `<190>Oct 10 25:55:36 web01 nginx: `+ok, ErrSyslogHeader, "syslog_time")
	// An RFC 3339 stamp in an RFC 3164 header (RSYSLOG_ForwardFormat) is checked as strictly.
	f(nil, `<190>2026-13-10T13:55:36Z web01 nginx: `+ok, ErrSyslogHeader, "syslog_time")
	// RFC 5424 timestamps are checked as strictly as the access time.
	for _, stamp := range []string{"9999-99-99T99:99:99Z", "2026-02-29T10:00:00Z", "2026-11-25T24:00:00Z",
		"2026-11-25T21:22:09", "2026-11-25T21:22:09.Z", "2026-11-25T21:22:09.1234567Z", "2026-11-25T21:22:09+24:00",
		"2026-11-25 21:22:09Z", "2026-11-25T21:22:09+0000", "20261125T212209Z"} {
		f(nil, `<190>1 `+stamp+` web01 nginx - - - `+ok, ErrSyslogHeader, "syslog_time")
	}
	// A header without <PRI> whose timestamp is not valid is not taken for
	// a header, and the remote address it leaves is not an address.
	f(nil, `Oct 10 25:55:36 web01 nginx: `+ok, ErrRemoteAddr, "remote_addr")
	f(nil, `Okt 10 13:55:36 web01 nginx: `+ok, ErrRemoteAddr, "remote_addr")
	// Nor is one without a tag: its message would start anywhere.
	f(nil, `Oct 10 13:55:36 web01 `+ok, ErrRemoteAddr, "remote_addr")
	f(nil, `Nov  5 21:22:09   -  [10/Oct/2026:13:55:36 +0000] "" 200 1 "" ""`, ErrRemoteAddr, "remote_addr")
	f(nil, `203.0.113.7 x - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1"`+tail, ErrRemoteAddr, "remote_addr")
	f(nil, `203.0.113.7 ,10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1"`+tail, ErrRemoteAddr, "remote_addr")
	// A bad access line inside a good header.
	f(nil, `<190>Oct 10 13:55:36 web01 nginx: `+pre+`"GET /a HTTP/1.1" 2000 1 "-" "-"`, ErrStatus, "status")

	if got := ErrorReason(errors.New("x")); got != "other" {
		t.Fatalf("ErrorReason(other) = %q", got)
	}
	if got := ErrorReason(nil); got != "" {
		t.Fatalf("ErrorReason(nil) = %q", got)
	}
}

func TestParseReusesRequest(t *testing.T) {
	var p Parser
	var r Request
	full := `<190>Oct 10 13:55:36 web01 nginx: 203.0.113.7 - bob [10/Oct/2026:13:55:36 +0000] "GET /a?b HTTP/1.1" 200 1 "r" "u"`
	if err := p.Parse(&r, []byte(full)); err != nil {
		t.Fatal(err)
	}
	bare := `203.0.113.7 - - [10/Oct/2026:13:55:37 +0000] "-" 400 0 "-" "-"`
	if err := p.Parse(&r, []byte(bare)); err != nil {
		t.Fatal(err)
	}
	if r.RemoteUser != nil || r.Method != nil || r.Path != nil || r.Query != nil || r.Referer != nil ||
		r.SyslogHost != nil || r.SyslogTag != nil || r.Envelope != EnvelopeNone || r.SyslogPriority != 0 {
		t.Fatalf("fields of the previous line survived: %+v", got(&r))
	}
	if r.Time.Second() != 37 {
		t.Fatalf("time cache returned a stale time: %v", r.Time)
	}
	r.Reset()
	if r.Line != nil || !r.Time.IsZero() || r.RequestLine != nil {
		t.Fatal("Reset left references")
	}
}

func TestViewsAreCapped(t *testing.T) {
	var p Parser
	var r Request
	line := []byte(`203.0.113.7 - bob [10/Oct/2026:13:55:36 +0000] "GET /a?b HTTP/1.1" 200 1 "r" "u"`)
	orig := string(line)
	if err := p.Parse(&r, line); err != nil {
		t.Fatal(err)
	}
	for _, v := range [][]byte{r.RemoteAddr, r.RemoteUser, r.Method, r.Path, r.Query, r.Protocol, r.RequestLine, r.Referer, r.UserAgent} {
		if cap(v) != len(v) {
			t.Fatalf("view %q has spare capacity %d", v, cap(v)-len(v))
		}
		_ = append(v, 'X')
	}
	if string(line) != orig {
		t.Fatal("appending to a view wrote into the line")
	}
}

func TestTimeZonesShared(t *testing.T) {
	var p1, p2 Parser
	var r1, r2 Request
	l1 := `203.0.113.7 - - [10/Oct/2026:13:55:36 +0530] "GET / HTTP/1.1" 200 1 "-" "-"`
	l2 := `203.0.113.7 - - [11/Oct/2026:13:55:36 +0530] "GET / HTTP/1.1" 200 1 "-" "-"`
	if p1.Parse(&r1, []byte(l1)) != nil || p2.Parse(&r2, []byte(l2)) != nil {
		t.Fatal("parse failed")
	}
	if r1.Time.Location() != r2.Time.Location() {
		t.Fatal("the same offset gave two *time.Location values")
	}
	if _, off := r1.Time.Zone(); off != 5*3600+30*60 {
		t.Fatalf("offset = %d", off)
	}
}

func TestFormatByName(t *testing.T) {
	for _, name := range []string{"combined", "common"} {
		f, err := FormatByName(name)
		if err != nil || f.Name() != name {
			t.Fatalf("FormatByName(%q) = %v, %v", name, f, err)
		}
	}
	if _, err := FormatByName("json"); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("FormatByName(json) err = %v", err)
	}
}

func TestEnvelopeString(t *testing.T) {
	for e, s := range map[Envelope]string{EnvelopeNone: "none", EnvelopeRFC3164: "rfc3164", EnvelopeRFC5424: "rfc5424"} {
		if e.String() != s {
			t.Fatalf("%d.String() = %q", e, e.String())
		}
	}
}

func TestRequestHeadLayout(t *testing.T) {
	// reset zeroes a Request through requestHead: every field but vars
	// must be there, with the same name, type and offset.
	rt, ht := reflect.TypeFor[Request](), reflect.TypeFor[requestHead]()
	if ht.NumField() != rt.NumField()-1 {
		t.Fatalf("requestHead has %d fields, Request %d: keep them in step", ht.NumField(), rt.NumField())
	}
	for i := range ht.NumField() {
		h, f := ht.Field(i), rt.Field(i)
		if h.Name != f.Name || h.Type != f.Type || h.Offset != f.Offset {
			t.Fatalf("field %d: requestHead has %s %v at %d, Request %s %v at %d", i, h.Name, h.Type, h.Offset, f.Name, f.Type, f.Offset)
		}
	}
	if v := rt.Field(rt.NumField() - 1); v.Name != "vars" || v.Offset < ht.Size() {
		t.Fatalf("Request's last field is %s at %d, want vars after the head's %d bytes", v.Name, v.Offset, ht.Size())
	}
}

func TestParseResetsLikeReset(t *testing.T) {
	// A Request that went through a format with more extra variables, then
	// one with fewer, then the built-in parser, equals a fresh Request each
	// time, unexported fields included.
	lines := []struct {
		format *Format
		line   string
	}{
		{mustNginx(t, upstreamInfo), string(readFixture(t, "upstreaminfo"))},
		{mustNginx(t, nginxMain), `1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-" "9.9.9.9"`},
		{nil, string(readFixture(t, "rfc3164"))},
		{mustNginx(t, upstreamInfo), string(readFixture(t, "upstreaminfo"))},
		{nil, `1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-" "9.9.9.9`},
		{mustNginx(t, nginxMain), `1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-" "9.9.9.9`},
	}
	var reused Request
	for i, c := range lines {
		p := Parser{Format: c.format}
		var fresh Request
		err1 := p.Parse(&fresh, []byte(c.line))
		err2 := p.Parse(&reused, []byte(c.line))
		if err1 != err2 || !reflect.DeepEqual(&fresh, &reused) {
			t.Fatalf("line %d: a reused Request differs from a fresh one: %v / %v\n%+v\n%+v", i, err1, err2, fresh, reused)
		}
	}
	reused.Reset()
	if !reflect.DeepEqual(&reused, &Request{}) {
		t.Fatal("Reset left a field set")
	}
}

// TestByteCountToken checks the one-pass body size decoder against the two
// steps it replaced: cut the token at the first space, then decode it with
// parseByteCount.
func TestByteCountToken(t *testing.T) {
	cases := []string{
		"", " ", "0", "1534", "1534 ", "1534 \"-\"", "-", "- ", "-1", "--", "- 5", "12a", "12a ", "a",
		"9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616",
		"99999999999999999999", "00000000000000000001", "0000000000000000001 x", "5\"", "+5",
	}
	for _, c := range cases {
		checkByteCountToken(t, []byte(c))
	}
}

func FuzzByteCountToken(f *testing.F) {
	for _, c := range []string{"1534 \"-\"", "-", "9223372036854775808", "12a "} {
		f.Add([]byte(c))
	}
	f.Fuzz(checkByteCountToken)
}

func checkByteCountToken(t *testing.T, b []byte) {
	k := bytes.IndexByte(b, ' ')
	if k < 0 {
		k = len(b)
	}
	wantN, wantOK := parseByteCount(b[:k])
	n, length, ok := byteCountToken(b)
	if ok != wantOK || n != wantN || (ok && length != k) {
		t.Fatalf("byteCountToken(%q) = %d, %d, %v; want %d, %d, %v", b, n, length, ok, wantN, k, wantOK)
	}
}

// TestMethodEnd checks the table-driven method scan against its definition.
func TestMethodEnd(t *testing.T) {
	slow := func(b []byte) int {
		for i, c := range b {
			if i == maxMethodLen {
				return 0
			}
			if (c < 'A' || c > 'Z') && c != '-' && c != '_' {
				return i
			}
		}
		return len(b)
	}
	long := strings.Repeat("A", maxMethodLen)
	for _, c := range []string{"", "GET", "GET /", "get /", "VERSION-CONTROL /", "M_SEARCH *", "\x16\x03", "G\xffT",
		long, long + " /", long + "A /", long[1:] + " /", "@"} {
		if got, want := methodEnd([]byte(c)), slow([]byte(c)); got != want {
			t.Errorf("methodEnd(%q) = %d, want %d", c, got, want)
		}
	}
}

// TestProtocolSplit covers the shortcut for an 8-byte "HTTP/d.d" protocol
// and the cases that must fall back to the last space.
func TestProtocolSplit(t *testing.T) {
	cases := []struct{ request, path, proto string }{
		{"GET /a HTTP/1.1", "/a", "HTTP/1.1"},
		{"GET /a b HTTP/2.0", "/a b", "HTTP/2.0"},
		{"GET /a HTTP/1 1", "/a HTTP/1 1", ""}, // the last space is inside: no protocol
		{"GET /a HTTP/1.1x", "/a", "HTTP/1.1x"},
		{"GET /a HTTP/1.", "/a", "HTTP/1."},
		{"GET /a HTTP/2", "/a", "HTTP/2"},
		{"GET HTTP/1.1", "HTTP/1.1", ""}, // the target is the protocol's text
		{"GET /a XTTP/1.1", "/a XTTP/1.1", ""},
		{"GET /a HTTP/a.1", "/a", "HTTP/a.1"},
	}
	for _, c := range cases {
		line := `1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "` + c.request + `" 200 1 "-" "-"`
		var r Request
		if err := (&Parser{}).Parse(&r, []byte(line)); err != nil {
			t.Fatalf("%q: %v", c.request, err)
		}
		if string(r.Path) != c.path || string(r.Protocol) != c.proto {
			t.Errorf("%q: path %q protocol %q, want %q %q", c.request, r.Path, r.Protocol, c.path, c.proto)
		}
	}
}

// TestSyslogPRI compares syslogPRI with the loop it replaced, on every
// string of '<' and up to five bytes drawn from digits, '>' and 'x'.
func TestSyslogPRI(t *testing.T) {
	loop := func(line []byte) (int, int, bool) {
		pri, i := 0, 1
		for ; i < len(line) && i <= 4 && line[i] >= '0' && line[i] <= '9'; i++ {
			pri = pri*10 + int(line[i]-'0')
		}
		if i == 1 || i > 4 || i >= len(line) || line[i] != '>' || pri > 191 {
			return 0, 0, false
		}
		return pri, i, true
	}
	alphabet := []byte("0179>x")
	var walk func(line []byte)
	walk = func(line []byte) {
		wantPRI, wantEnd, wantOK := loop(line)
		if len(line) < 5 {
			// Too short for a PRI and a message: the loop may accept
			// the PRI, syslogPRI rejects it; Parse fails both ways.
			wantOK = false
		}
		pri, end, ok := syslogPRI(line)
		if ok != wantOK || ok && (pri != wantPRI || end != wantEnd) {
			t.Fatalf("syslogPRI(%q) = %d, %d, %v; want %d, %d, %v", line, pri, end, ok, wantPRI, wantEnd, wantOK)
		}
		if len(line) == 6 {
			return
		}
		for _, c := range alphabet {
			walk(append(line[:len(line):len(line)], c))
		}
	}
	walk([]byte("<"))
}

// TestSyslogTimeCache runs stamps through one Parser in an order that
// would let a wrong cache accept a bad stamp or reject a good one.
func TestSyslogTimeCache(t *testing.T) {
	const body = ` 203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`
	var p Parser
	var r Request
	for _, c := range []struct {
		stamp string
		ok    bool
	}{
		{"Nov  5 21:22:09", true},
		{"Nov  5 21:22:09", true},
		{"Nov  5 21:22:60", true}, // a leap second
		{"Nov  5 21:22:61", false},
		{"Nov  5 21:22:09", true},
		{"Nov 32 21:22:09", false},
		{"Now  5 21:22:09", false},
		{"Nov  5 21:22:10", true},
		{"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", false},
	} {
		err := p.Parse(&r, []byte("<190>"+c.stamp+" web01 nginx:"+body))
		if ok := err == nil; ok != c.ok {
			t.Fatalf("%q: err = %v, want ok = %v", c.stamp, err, c.ok)
		}
		if c.ok && string(r.SyslogTime) != c.stamp {
			t.Fatalf("%q: SyslogTime = %q", c.stamp, r.SyslogTime)
		}
	}
	// The zero stamp, seen by a Parser that has cached nothing yet.
	var fresh Parser
	if err := fresh.Parse(&r, []byte("<190>\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00 web01 nginx:"+body)); err == nil {
		t.Fatal("a stamp of zero bytes was accepted by a new Parser")
	}
}

// TestValidAddrField compares the word-at-a-time check with the rule: a
// space is allowed only right after a comma.
func TestValidAddrField(t *testing.T) {
	ref := func(b []byte) bool {
		for i, c := range b {
			if c == ' ' && (i == 0 || b[i-1] != ',') {
				return false
			}
		}
		return true
	}
	for n := range 24 {
		b := bytes.Repeat([]byte("1"), n)
		if !validAddrField(b) {
			t.Errorf("%q rejected", b)
		}
		for i := range n {
			for _, c := range []byte{' ', ',', '\x00', '\xa0', '!'} {
				v := bytes.Clone(b)
				v[i] = c
				if i+1 < n && c == ',' {
					v[i+1] = ' '
				}
				if got, want := validAddrField(v), ref(v); got != want {
					t.Errorf("validAddrField(%q) = %v, want %v", v, got, want)
				}
			}
		}
	}
}
