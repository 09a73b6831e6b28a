package ingest

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Real-world formats, as they appear in configuration files.
const (
	// nginxMain is "main" from the nginx.conf that nginx ships.
	nginxMain = `log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';`
	// nginxCombined is nginx's built-in combined format.
	nginxCombined = `'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'`
	// upstreamInfo is the Kubernetes ingress-nginx default log format.
	upstreamInfo = `log_format upstreaminfo
    '$remote_addr - $remote_user [$time_local] "$request" '
    '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
    '$request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr '
    '$upstream_response_length $upstream_response_time $upstream_status $req_id';`
	// nginxJSON is a typical escape=json format.
	nginxJSON = `log_format json escape=json '{"time":"$time_iso8601",'
    '"remote_addr":"$remote_addr","host":"$host","request":"$request",'
    '"status":$status,"body_bytes_sent":$body_bytes_sent,"request_time":$request_time,'
    '"upstream_response_time":"$upstream_response_time","http_referer":"$http_referer",'
    '"http_user_agent":"$http_user_agent","http_x_forwarded_for":"$http_x_forwarded_for"}';`
	// apacheCombined and apacheVhost are the LogFormat lines of Debian's apache2.conf.
	apacheCombined = `LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined`
	apacheVhost    = `LogFormat "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" vhost_combined`
)

func mustNginx(t testing.TB, s string) *Format {
	t.Helper()
	f, err := CompileNginx(s)
	if err != nil {
		t.Fatalf("CompileNginx(%q): %v", s, err)
	}
	return f
}

func mustApache(t testing.TB, s string) *Format {
	t.Helper()
	f, err := CompileApache(s)
	if err != nil {
		t.Fatalf("CompileApache(%q): %v", s, err)
	}
	return f
}

func TestCompileRealWorld(t *testing.T) {
	f := func(format *Format, name string, vars ...string) {
		t.Helper()
		if got, want := format.Name(), name; !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
		if got, want := format.VarNames(), vars; !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	f(mustNginx(t, nginxMain), "main", "http_x_forwarded_for")
	f(mustNginx(t, nginxCombined), "nginx")
	f(mustNginx(t, upstreamInfo), "upstreaminfo", "request_length", "proxy_upstream_name",
		"proxy_alternative_upstream_name", "upstream_addr", "upstream_response_length",
		"upstream_response_time", "upstream_status", "req_id")
	f(mustNginx(t, nginxJSON), "json", "upstream_response_time", "http_x_forwarded_for")
	f(mustApache(t, apacheCombined), "combined", "remote_logname")
	f(mustApache(t, apacheVhost), "vhost_combined", "server_port", "remote_logname")
	// The directive's string without its quotes, with \" escapes.
	f(mustApache(t, `%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"`), "apache", "remote_logname")
	if got := FormatCombined.VarNames(); got != nil {
		t.Errorf("got %v, want nil", got)
	}
}

// fields is what TestCompiledSuccess checks beyond the want of parse_test.go.
type fields struct {
	host     string
	bytes    int64 // BytesSent
	reqTime  time.Duration
	hasRT    bool
	vars     map[string]string // every extra variable, "" for nil
	timeUnix int64             // 0: not checked
}

func TestCompiledSuccess(t *testing.T) {
	f := func(format *Format, line string, w want, x fields) {
		t.Helper()
		p := Parser{Format: format}
		var r Request
		if err := p.Parse(&r, []byte(line)); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		g := got(&r)
		if w.time == "" {
			g.time = ""
		}
		if got, want := g, w; !reflect.DeepEqual(got, want) {
			t.Errorf("line %q: got %v, want %v", line, got, want)
		}
		if got, want := string(r.Host), x.host; !reflect.DeepEqual(got, want) {
			t.Errorf("host: got %v, want %v", got, want)
		}
		if got, want := r.BytesSent, x.bytes; !reflect.DeepEqual(got, want) {
			t.Errorf("bytes_sent: got %v, want %v", got, want)
		}
		if got, want := r.RequestTime, x.reqTime; !reflect.DeepEqual(got, want) {
			t.Errorf("request_time: got %v, want %v", got, want)
		}
		if got, want := r.HasRequestTime, x.hasRT; !reflect.DeepEqual(got, want) {
			t.Errorf("has request_time: got %v, want %v", got, want)
		}
		if x.timeUnix != 0 {
			if got, want := r.Time.UnixMilli(), x.timeUnix; !reflect.DeepEqual(got, want) {
				t.Errorf("time in ms: got %v, want %v", got, want)
			}
		}
		vars := map[string]string{}
		for name, v := range r.Vars() {
			vars[name] = string(v)
			if got, want := r.Var(name), v; !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		}
		if x.vars == nil {
			x.vars = map[string]string{}
		}
		if got, want := vars, x.vars; !reflect.DeepEqual(got, want) {
			t.Errorf("vars of %q: got %v, want %v", line, got, want)
		}
	}
	const pre = `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] `
	base := want{addr: "203.0.113.7", time: "2026-10-10T13:55:36Z", method: "GET", path: "/a", query: "b=1",
		proto: "HTTP/1.1", request: "GET /a?b=1 HTTP/1.1", status: 200, bytes: 1534,
		referer: "https://example.com/", ua: "curl/8.5.0"}
	with := func(edit func(*want)) want { w := base; edit(&w); return w }
	const combined = pre + `"GET /a?b=1 HTTP/1.1" 200 1534 "https://example.com/" "curl/8.5.0"`

	// nginx main: the forwarded-for list in quotes, "-" when absent.
	main := mustNginx(t, nginxMain)
	f(main, combined+` "198.51.100.1, 10.0.0.1"`, base, fields{vars: map[string]string{"http_x_forwarded_for": "198.51.100.1, 10.0.0.1"}})
	f(main, combined+` "-"`, base, fields{vars: map[string]string{"http_x_forwarded_for": ""}})
	f(main, "<190>Oct 10 13:55:36 web01 nginx: "+combined+` "-"`+"\r\n", with(func(w *want) {
		w.env, w.pri, w.host, w.tag = EnvelopeRFC3164, 190, "web01", "nginx"
	}), fields{vars: map[string]string{"http_x_forwarded_for": ""}})
	// nginx escapes quotes in values as \x22; bare quotes never appear.
	f(main, pre+`"GET /a?b=1 HTTP/1.1" 200 1534 "https://example.com/" "curl \x22x\x22" "\x22"`,
		with(func(w *want) { w.ua = `curl \x22x\x22` }), fields{vars: map[string]string{"http_x_forwarded_for": `\x22`}})

	// ingress-nginx upstreaminfo, with one upstream and with retries
	// across upstreams and an internal redirect.
	ui := mustNginx(t, upstreamInfo)
	uiVars := func(addr, rlen, rtime, status string) map[string]string {
		return map[string]string{"request_length": "512", "proxy_upstream_name": "default-web-80",
			"proxy_alternative_upstream_name": "", "upstream_addr": addr, "upstream_response_length": rlen,
			"upstream_response_time": rtime, "upstream_status": status, "req_id": "5f2b1c9e0d4a4b6c8e7f1a2b3c4d5e6f"}
	}
	f(ui, combined+` 512 0.004 [default-web-80] [] 10.244.1.17:8080 1534 0.003 200 5f2b1c9e0d4a4b6c8e7f1a2b3c4d5e6f`,
		base, fields{reqTime: 4 * time.Millisecond, hasRT: true, vars: uiVars("10.244.1.17:8080", "1534", "0.003", "200")})
	f(ui, combined+` 512 1.250 [default-web-80] [] 10.244.1.17:8080, 10.244.2.9:8080 : unix:/tmp/up.sock 0, 1534 : 12 1.001, 0.240 : 0.002 502, 200 : 200 5f2b1c9e0d4a4b6c8e7f1a2b3c4d5e6f`,
		base, fields{reqTime: 1250 * time.Millisecond, hasRT: true, vars: uiVars(
			"10.244.1.17:8080, 10.244.2.9:8080 : unix:/tmp/up.sock", "0, 1534 : 12", "1.001, 0.240 : 0.002", "502, 200 : 200")})
	f(ui, combined+` 512 0.000 [default-web-80] [] - - - - 5f2b1c9e0d4a4b6c8e7f1a2b3c4d5e6f`,
		base, fields{hasRT: true, vars: uiVars("", "", "", "")})

	// escape=json: quotes and backslashes escaped, empty values empty, "-"
	// kept, numbers unquoted.
	js := mustNginx(t, nginxJSON)
	f(js, `{"time":"2026-10-10T15:55:36+02:00","remote_addr":"203.0.113.7","host":"example.com","request":"GET /a?b=1 HTTP/1.1",`+
		`"status":200,"body_bytes_sent":1534,"request_time":0.123,"upstream_response_time":"0.120, 0.002","http_referer":"https://example.com/",`+
		`"http_user_agent":"curl/8.5.0","http_x_forwarded_for":""}`,
		with(func(w *want) { w.time = "2026-10-10T15:55:36+02:00" }),
		fields{host: "example.com", reqTime: 123 * time.Millisecond, hasRT: true,
			vars: map[string]string{"upstream_response_time": "0.120, 0.002", "http_x_forwarded_for": ""}})
	f(js, `{"time":"2026-10-10T13:55:36+00:00","remote_addr":"203.0.113.7","host":"-","request":"GET /a\"b?q=\\\" HTTP/1.1",`+
		`"status":404,"body_bytes_sent":0,"request_time":0.000,"upstream_response_time":"","http_referer":"",`+
		`"http_user_agent":"say \"hi\"\u001f","http_x_forwarded_for":"1.2.3.4"}`,
		with(func(w *want) {
			w.path, w.query, w.request, w.status, w.bytes, w.referer, w.ua = `/a\"b`, `q=\\\"`, `GET /a\"b?q=\\\" HTTP/1.1`, 404, 0, "", `say \"hi\"\u001f`
		}), fields{host: "-", hasRT: true, vars: map[string]string{"upstream_response_time": "", "http_x_forwarded_for": "1.2.3.4"}})

	// Apache combined and vhost_combined: \" escapes, %O, ident.
	ac := mustApache(t, apacheCombined)
	f(ac, `203.0.113.7 - frank [10/Oct/2026:13:55:36 -0700] "GET /a?b=1 HTTP/1.1" 200 1534 "https://example.com/" "say \"hi\\\""`,
		with(func(w *want) { w.user, w.time, w.bytes, w.ua = "frank", "2026-10-10T13:55:36-07:00", 0, `say \"hi\\\"` }),
		fields{bytes: 1534, vars: map[string]string{"remote_logname": ""}})
	f(ac, `203.0.113.7 ident - [10/Oct/2026:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 200 - "-" "-"`,
		with(func(w *want) { w.bytes, w.referer, w.ua = 0, "", "" }), fields{vars: map[string]string{"remote_logname": "ident"}})
	av := mustApache(t, apacheVhost)
	f(av, `www.example.com:443 `+combined, with(func(w *want) { w.bytes = 0 }),
		fields{host: "www.example.com", bytes: 1534, vars: map[string]string{"server_port": "443", "remote_logname": ""}})

	// Apache timings, query with '?', method, path and protocol.
	at := mustApache(t, `%a %{c}a [%{msec}t] %m %U%q %H %s %D %{X-Forwarded-For}i %{Content-Type}o`)
	f(at, `203.0.113.7 10.0.0.1 [1791640536123] GET /a?b=1 HTTP/1.1 200 1250 1.2.3.4, 5.6.7.8 text/html; charset=utf-8`,
		want{addr: "203.0.113.7", method: "GET", path: "/a", query: "b=1", proto: "HTTP/1.1", status: 200},
		fields{reqTime: 1250 * time.Microsecond, hasRT: true, timeUnix: 1791640536123, vars: map[string]string{
			"realip_remote_addr": "10.0.0.1", "http_x_forwarded_for": "1.2.3.4, 5.6.7.8", "sent_http_content_type": "text/html; charset=utf-8"}})
	f(mustApache(t, `%h %T %{ms}T`), `h 2 15`, want{addr: "h"}, fields{reqTime: 15 * time.Millisecond, hasRT: true})

	// Specific variables take precedence over $request, wherever they are.
	sp := mustNginx(t, `$request_method $uri $args "$request" $status $msec $host`)
	f(sp, `POST /b x=1 "GET /a?b=1 HTTP/1.1" 200 1791640536.123 example.com`,
		want{method: "POST", path: "/b", query: "x=1", proto: "HTTP/1.1", request: "GET /a?b=1 HTTP/1.1", status: 200},
		fields{host: "example.com", timeUnix: 1791640536123})
	f(mustNginx(t, `'"$request" $request_uri $server_protocol|$status'`), `"GET /a?b=1 HTTP/1.1" /c?d HTTP/2.0|200`,
		want{method: "GET", path: "/c", query: "d", proto: "HTTP/2.0", request: "GET /a?b=1 HTTP/1.1", status: 200}, fields{})
	// escape=none: raw bytes, bare quotes end quoted values.
	f(mustNginx(t, `escape=none '$remote_addr "$http_user_agent" $status'`), `203.0.113.7 "a\"b" 200`,
		want{addr: "203.0.113.7", ua: `a\"b`, status: 200}, fields{})
	// ${var} form, variables with digits, a fixed-width time right before
	// another variable, the rest of the line for the last variable.
	f(mustNginx(t, `${remote_addr}x$time_iso8601$status ${http_x_a1}`), `203.0.113.7x2026-10-10T13:55:36-05:30404 rest of line`,
		want{addr: "203.0.113.7", time: "2026-10-10T13:55:36-05:30", status: 404}, fields{vars: map[string]string{"http_x_a1": "rest of line"}})
	// $uri$is_args$args and %U%q: the path ends at the '?'.
	ua := mustNginx(t, `$uri$is_args$args $status`)
	f(ua, `/a?b=1 200`, want{path: "/a", query: "b=1", status: 200}, fields{})
	f(ua, `/a 200`, want{path: "/a", status: 200}, fields{})
	f(ua, `/a? 200`, want{path: "/a", status: 200}, fields{})
	uq := mustApache(t, `%U%q %>s`)
	f(uq, `/a?b=1?c 200`, want{path: "/a", query: "b=1?c", status: 200}, fields{})
	f(uq, `/a 200`, want{path: "/a", status: 200}, fields{})
	// Text after the format's last literal is ignored.
	f(mustNginx(t, `'"$request" $status;'`), `"GET /a?b=1 HTTP/1.1" 200; extra`,
		want{method: "GET", path: "/a", query: "b=1", proto: "HTTP/1.1", request: "GET /a?b=1 HTTP/1.1", status: 200}, fields{})
	// A variable logged twice keeps its last value, also when it is empty.
	twice := mustNginx(t, `$x|$status|$x`)
	f(twice, `a|200|b`, want{status: 200}, fields{vars: map[string]string{"x": "b"}})
	f(twice, `a|200|-`, want{status: 200}, fields{vars: map[string]string{"x": ""}})
	// A format starting with '<' is not taken for a syslog header.
	f(mustNginx(t, `<$status>`), `<200>`, want{status: 200}, fields{})
}

func TestCompiledFailure(t *testing.T) {
	f := func(format *Format, line string, wantErr error, reason, field string) {
		t.Helper()
		p := Parser{Format: format}
		var r Request
		err := p.Parse(&r, []byte(line))
		if !errors.Is(err, wantErr) {
			t.Fatalf("line %q: %v, want %v", line, err, wantErr)
		}
		if got, want := ErrorReason(err), reason; !reflect.DeepEqual(got, want) {
			t.Errorf("line %q: got %v, want %v", line, got, want)
		}
		if field != "" {
			if !strings.Contains(err.Error(), "("+field+" field)") {
				t.Errorf("line %q: %q does not contain %q", line, err.Error(), "("+field+" field)")
			}
		}
	}
	const good = `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 200 1534 "-" "curl/8.5.0"`
	main := mustNginx(t, nginxMain)
	f(main, good, ErrMissingField, "missing_field", "$http_user_agent")
	f(main, good+` "1.2.3.4`, ErrUnterminatedQuote, "unterminated_quote", "$http_x_forwarded_for")
	f(main, `203.0.113.7 ident - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 200 1534 "-" "-" "-"`, ErrRemoteAddr, "remote_addr", "$remote_addr")
	f(main, `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000 "GET /a HTTP/1.1" 200 1534 "-" "-" "-"`, ErrTime, "time", "$time_local")
	f(main, `203.0.113.7 - - [10/Oct/2026:13:55:36 +9900] "GET /a HTTP/1.1" 200 1534 "-" "-" "-"`, ErrTime, "time", "$time_local")
	f(main, `203.0.113.7 - - [10/Oct/2026] "GET /a HTTP/1.1" 200 1534 "-" "-" "-"`, ErrTime, "time", "$time_local")
	f(main, `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 2000 1534 "-" "-" "-"`, ErrStatus, "status", "$status")
	f(main, `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 200 -5 "-" "-" "-"`, ErrBytes, "bytes", "$body_bytes_sent")
	f(main, `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1`, ErrUnterminatedQuote, "unterminated_quote", "$request")
	f(main, `<190>Oct 10 13:55:36 web01 nginx: 203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 20 1 "-" "-" "-"`, ErrStatus, "status", "$status")

	ui := mustNginx(t, upstreamInfo)
	const uiPre = good + ` 512 `
	f(ui, uiPre+`0.004 [default-web-80] [] 10.0.0.1:80 1 0.003 200`, ErrMissingField, "missing_field", "$upstream_status")
	f(ui, uiPre+`fast [default-web-80] [] 10.0.0.1:80 1 0.003 200 id`, ErrTime, "time", "$request_time")
	f(ui, uiPre+`0.0001234567891 [default-web-80] [] 10.0.0.1:80 1 0.003 200 id`, ErrTime, "time", "$request_time")
	f(ui, uiPre+`0.004 default-web-80 [] 10.0.0.1:80 1 0.003 200 id`, ErrTime, "time", "$request_time")
	f(ui, uiPre+`0.004 [default-web-80] [] 10.0.0.1:80 1 0.003 200`, ErrMissingField, "missing_field", "$upstream_status")

	js := mustNginx(t, nginxJSON)
	f(js, `{"time":"2026-10-10 13:55:36","remote_addr":"x"}`, ErrTime, "time", "$time_iso8601")
	f(js, `{"time":"2026-10-10T13:55:36+00:00","remote_addr":"x","host":"h","request":"GET / HTTP/1.1\",`, ErrUnterminatedQuote, "unterminated_quote", "$request")
	f(js, `["time"]`, ErrNotAccessLine, "not_access_line", "") // none of the format's marks

	ac := mustApache(t, apacheCombined)
	f(ac, `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 x "-" "-"`, ErrBytes, "bytes", "%O")
	f(ac, `203.0.113.7 - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`, ErrMissingField, "missing_field", "%u")
	f(mustApache(t, `%h %D`), `h 1.5`, ErrTime, "time", "%D")
	f(mustApache(t, `%h %{sec}t`), `h -`, ErrTime, "time", "%{sec}t")

	// Empty and too-long lines fail before the format is consulted.
	f(main, "", ErrEmpty, "empty", "")
}

func TestCompileErrors(t *testing.T) {
	f := func(compile func(string) (*Format, error), src string, offset int, msg string) {
		t.Helper()
		_, err := compile(src)
		if !errors.Is(err, ErrBadFormat) {
			t.Fatalf("%q: %v, want %v", src, err, ErrBadFormat)
		}
		var fe *FormatError
		if !(errors.As(err, &fe)) {
			t.Fatalf("%q: %T: false", src, err)
		}
		if got, want := fe.Offset, offset; !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v: got %v, want %v", src, err, got, want)
		}
		if !strings.Contains(fe.Msg, msg) {
			t.Errorf("%q: %q does not contain %q", src, fe.Msg, msg)
		}
		if !strings.HasPrefix(err.Error(), "ingest: bad format at offset ") {
			t.Errorf("message %q", err.Error())
		}
	}
	n, a := CompileNginx, CompileApache
	f(n, `$status$body_bytes_sent`, 7, "nothing between them")
	f(n, `'$remote_addr' '$status'`, 16, "$remote_addr and $status")
	f(n, `escape=xml '$status'`, 7, `unknown escape="xml"`)
	f(n, `log_format x escape=jsn '$status'`, 20, `unknown escape="jsn"`)
	f(n, `${status`, 0, `unterminated "${"`)
	f(n, `a ${status-x} b`, 2, `unterminated "${"`)
	f(n, `x $ y`, 2, "without a variable name")
	f(n, `'x $' '$status'`, 3, "without a variable name")
	f(n, `'$status`, 0, "unterminated quoted string")
	f(n, `'$status'x`, 9, "after a quoted string")
	// A body that starts with a quote is read as nginx strings: the
	// unquoted rest joins the quoted part with nothing between.
	f(n, `"$request" $status`, 11, "$request and $status")
	f(n, `'$status'; '$x'`, 11, "text after ';'")
	f(n, `no variables`, 0, "no variable")
	f(n, `   `, 3, "empty format")
	f(n, `log_format `, 11, "without a name")
	var many strings.Builder
	for i := range MaxFormatVars + 1 {
		many.WriteString(" $v" + string(rune('a'+i/26)) + string(rune('a'+i%26)))
	}
	f(n, many.String(), 5*MaxFormatVars+1, "more than 32 extra variables")
	f(a, `%h %{%Y}t`, 3, `unsupported directive "%{%Y}t"`)
	f(a, `%h %Z`, 3, `unsupported directive "%Z"`)
	f(a, `%h %{Referer`, 4, `unterminated "%{"`)
	f(a, `%h %`, 3, "'%' without a directive")
	f(a, `LogFormat "%h %u`, 10, "unterminated quoted string")
	f(a, `%h%u`, 2, "nothing between them")
	f(a, `100%%`, 0, "no variable")

	// Offsets count from the start of the string, through escapes.
	f(n, `log_format main '\"$remote_addr\" ' '$status$status'`, 44, "$status and $status")
}

func TestAppendJSONCompiled(t *testing.T) {
	p := Parser{Format: mustNginx(t, upstreamInfo)}
	var r Request
	line := `203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 200 1534 "-" "curl/8.5.0" 512 0.004 [default-web-80] [] 10.244.1.17:8080, 10.244.2.9:8080 1534 0.003, 0.001 502, 200 id1`
	if err := p.Parse(&r, []byte(line)); err != nil {
		t.Fatalf("%v", err)
	}
	if got, want := string(r.AppendJSON(nil)), `{"remote_addr":"203.0.113.7","remote_user":"","time":"2026-10-10T13:55:36+00:00",`+
		`"method":"GET","path":"/a","query":"","protocol":"HTTP/1.1","status":200,"body_bytes_sent":1534,`+
		`"referer":"","user_agent":"curl/8.5.0","request":"GET /a HTTP/1.1","request_time":0.004,`+
		`"request_length":"512","proxy_upstream_name":"default-web-80","proxy_alternative_upstream_name":"",`+
		`"upstream_addr":"10.244.1.17:8080, 10.244.2.9:8080","upstream_response_length":"1534",`+
		`"upstream_response_time":"0.003, 0.001","upstream_status":"502, 200","req_id":"id1"}`; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	// host and bytes_sent, and an extra variable named like a fixed key.
	p = Parser{Format: mustNginx(t, `$host $bytes_sent $time "$request_time"`)}
	if err := p.Parse(&r, []byte(`example.com 2048 noon "-"`)); err != nil {
		t.Fatalf("%v", err)
	}
	out := string(r.AppendJSON(nil))
	if !strings.Contains(out, `"request":"","host":"example.com","bytes_sent":2048,"request_time":null,"$time":"noon"}`) {
		t.Errorf("%q does not contain %q", out, `"request":"","host":"example.com","bytes_sent":2048,"request_time":null,"$time":"noon"}`)
	}

	// The built-ins write what they always wrote.
	if err := (&Parser{}).Parse(&r, []byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 200 1 "-" "-"`)); err != nil {
		t.Fatalf("%v", err)
	}
	if !(strings.HasSuffix(string(r.AppendJSON(nil)), `"request":"GET /a HTTP/1.1"}`)) {
		t.Errorf("strings.HasSuffix(string(r.AppendJSON(nil)), `\"request\":\"GET /a HTTP/1.1\"}`) is false")
	}
}

func TestVarsReset(t *testing.T) {
	// A Request reused across formats does not keep the last line's
	// variables, and Var of an unknown name is nil.
	var r Request
	p := Parser{Format: mustNginx(t, nginxMain)}
	if err := p.Parse(&r, []byte(`1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-" "9.9.9.9"`)); err != nil {
		t.Fatalf("%v", err)
	}
	if got, want := string(r.Var("http_x_forwarded_for")), "9.9.9.9"; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := r.Var("nope"); got != nil {
		t.Errorf("got %v, want nil", got)
	}
	if err := (&Parser{}).Parse(&r, []byte(`1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-" "9.9.9.9"`)); err != nil {
		t.Fatalf("%v", err)
	}
	if got := r.Var("http_x_forwarded_for"); got != nil {
		t.Errorf("got %v, want nil", got)
	}
	for range r.Vars() {
		t.Fatal("the built-in format has no variables")
	}
	// A failed line clears the variables of the line before.
	if err := p.Parse(&r, []byte(`1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-" "9.9.9.9"`)); err != nil {
		t.Fatalf("%v", err)
	}
	if p.Parse(&r, []byte(`1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-" "9.9.9.9`)) == nil {
		t.Fatalf("no error")
	}
	if got := r.Var("http_x_forwarded_for"); got != nil {
		t.Errorf("got %v, want nil", got)
	}

	// A clone keeps its variables and the original's buffer can be reused.
	line := []byte(`1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-" "9.9.9.9"`)
	if err := p.Parse(&r, line); err != nil {
		t.Fatalf("%v", err)
	}
	c := r.Clone()
	copy(line, strings.Repeat("x", len(line)))
	if got, want := string(c.Var("http_x_forwarded_for")), "9.9.9.9"; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	c.Release()
}

func TestAppendUnescapedJSON(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got, want := string(AppendUnescapedJSON(nil, []byte(in))), want; !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v, want %v", in, got, want)
		}
		if got, want := string(AppendUnescapedJSON([]byte("x"), in)), "x"+want; !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v, want %v", in, got, want)
		}
	}
	f(``, ``)
	f(`plain`, `plain`)
	f(`say \"hi\"`, `say "hi"`)
	f(`a\\b\/c`, `a\b/c`)
	f(`\b\f\n\r\t`, "\b\f\n\r\t")
	f(`\u001f\u00e9\u20AC`, "\x1f\u00e9\u20ac")
	f(`\ud83d\ude00!`, "\U0001F600!")
	f(`\ud83d`, "\ufffd")
	f(`\ud83dx`, "\ufffdx")
	f(`\ude00\ud83d\ude00`, "\ufffd\U0001F600")
	f(`\u12`, `\u12`)
	f(`\uzzzz`, `\uzzzz`)
	f(`\x41`, `\x41`)
	f(`end\`, `end\`)
	// It inverts AppendJSONString on valid UTF-8.
	for _, s := range []string{"", "a\"b\\c\n\u2028\x00é", "\U0001F600 <&>"} {
		q := AppendJSONString(nil, s)
		if got, want := string(AppendUnescapedJSON(nil, q[1:len(q)-1])), s; !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	}
}

func TestIndexByteFrom(t *testing.T) {
	b := []byte("a b\x00c\xff\x80 - x,y  z" + strings.Repeat("q", 40) + "\x7f\x01 end")
	for _, c := range []byte(" -\x00\xff\x80\x7f\x01zqe!") {
		for from := 0; from <= len(b); from++ {
			for end := from; end <= len(b); end++ {
				want := bytes.IndexByte(b[from:end], c)
				if want >= 0 {
					want += from
				}
				if got, want := indexByteFrom(b[:end], from, c), want; !reflect.DeepEqual(got, want) {
					t.Fatalf("c=%q from=%d end=%d: got %v, want %v", c, from, end, got, want)
				}
			}
		}
	}
}

// TestCombinedHead checks which formats runCombinedHead takes: those that
// start like nginx's combined, whatever follows.
func TestCombinedHead(t *testing.T) {
	for _, c := range []struct {
		name string
		f    *Format
		want bool
	}{
		{"nginx combined", mustNginx(t, nginxCombined), true},
		{"nginx main", mustNginx(t, nginxMain), true},
		{"ingress-nginx upstreaminfo", mustNginx(t, upstreamInfo), true},
		{"escape=json", mustNginx(t, nginxJSON), false},
		{"apache combined", mustApache(t, `%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"`), false},
		{"combined without the user agent", mustNginx(t, `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer"`), false},
	} {
		if got := c.f.prog.combinedHead; got != c.want {
			t.Errorf("%s: combinedHead %v, want %v", c.name, got, c.want)
		}
	}
}
