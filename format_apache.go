package ingest

import (
	"strconv"
	"strings"
)

// CompileApache compiles an Apache httpd LogFormat string (mod_log_config)
// into a Format, the same kind of program CompileNginx makes:
//
//	%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"
//
// logFormat may also be the whole directive, `LogFormat "..." nickname`,
// or the quoted string alone; then \" inside it is a quote, as httpd reads
// it. In the format, \" is a quote too, and \\, \n, \r and \t are decoded.
//
// Directives that fill Request fields: %h and %a (RemoteAddr), %u, %t
// (with its brackets), %{sec}t, %{msec}t, %{usec}t, %r, %m, %U, %q, %H,
// %s and %>s, %b and %B (BodyBytesSent), %O (BytesSent), %D, %T,
// %{ms}T, %{us}T (RequestTime), %v and %V (Host), %{Referer}i and
// %{User-Agent}i. Others are captured under nginx-style names, so that
// the same daemon code reads both servers' logs: %{X-Forwarded-For}i is
// "http_x_forwarded_for", %{Content-Type}o "sent_http_content_type",
// %{X}C "cookie_x", %{X}e "env_x", %{X}n "note_x", %l "remote_logname",
// %A "server_addr", %p "server_port", %{remote}p "remote_port",
// %{c}a "realip_remote_addr", %I "request_length", %k
// "connection_requests", %f "request_filename", %P "pid", %R "handler",
// %L "request_log_id", %X "connection_status". Status conditions
// ("%400,501{User-agent}i") and the < and > modifiers are accepted and
// ignored. Other strftime forms of %{...}t, %S and the trailer directives
// are rejected with a *FormatError. Values end as described for
// CompileNginx; Apache escapes a quote in a value as \".
func CompileApache(logFormat string) (*Format, error) {
	src := logFormat
	name := "apache"
	i := skipSpace(src, 0)
	if strings.HasPrefix(src[i:], "LogFormat") && i+9 < len(src) && isSpace(src[i+9]) {
		i = skipSpace(src, i+9)
	}
	var text []byte
	var offs []int
	if i < len(src) && src[i] == '"' {
		j := i + 1
		for ; j < len(src) && src[j] != '"'; j++ {
			if src[j] == '\\' && j+1 < len(src) && src[j+1] == '"' {
				j++
			}
			text, offs = append(text, src[j]), append(offs, j)
		}
		if j == len(src) {
			return nil, formatErr(i, "unterminated quoted string")
		}
		if rest := strings.TrimSpace(src[j+1:]); rest != "" {
			name = rest
		}
	} else {
		text, offs = []byte(src[i:]), offsetsFrom(i, len(src)-i)
	}
	items, err := apacheItems(string(text), offs)
	if err != nil {
		return nil, err
	}
	return link(name, items, escapeDefault)
}

// apacheItems compiles a LogFormat string; offs[k] is the source offset of
// s[k].
func apacheItems(s string, offs []int) ([]item, error) {
	var items []item
	lit := func(b []byte, off int) { items = append(items, item{lit: b, off: off}) }
	for k := 0; k < len(s); {
		c := s[k]
		if c == '\\' && k+1 < len(s) {
			switch d := s[k+1]; d {
			case '\\', '"':
				lit([]byte{d}, offs[k])
				k += 2
				continue
			case 'n', 'r', 't':
				lit([]byte{controlEscape(d)}, offs[k])
				k += 2
				continue
			}
		}
		if c != '%' {
			lit([]byte{c}, offs[k])
			k++
			continue
		}
		start := k
		k++
		arg, hasArg := "", false
		for k < len(s) {
			d := s[k]
			if d == '!' || d == ',' || d == '<' || d == '>' || '0' <= d && d <= '9' {
				k++
				continue
			}
			if d == '{' {
				j := strings.IndexByte(s[k:], '}')
				if j < 0 {
					return nil, formatErr(offs[k], "unterminated \"%{\": no '}'")
				}
				arg, hasArg = s[k+1:k+j], true
				k += j + 1
				continue
			}
			break
		}
		if k == len(s) {
			return nil, formatErr(offs[start], "'%' without a directive")
		}
		d := s[k]
		k++
		label := s[start:k]
		if d == '%' {
			lit([]byte{'%'}, offs[start])
			continue
		}
		var it item
		var ok bool
		if d == 't' && !hasArg {
			// %t is the time in brackets.
			lit([]byte{'['}, offs[start])
			items = append(items, item{name: "time_local", label: label, field: fTimeLocal, off: offs[start]})
			lit([]byte{']'}, offs[start])
			continue
		}
		if it, ok = apacheDirective(d, arg); !ok {
			return nil, formatErr(offs[start], "unsupported directive "+strconv.Quote(label))
		}
		it.label, it.off = label, offs[start]
		items = append(items, it)
	}
	return items, nil
}

// apacheDirective maps a directive letter and its {argument} to an item.
func apacheDirective(d byte, arg string) (item, bool) {
	known := func(name string, f field) (item, bool) { return item{name: name, field: f}, true }
	extra := func(name string) (item, bool) { return item{name: name, field: fExtra}, true }
	header := func(prefix string) (item, bool) {
		if arg == "" {
			return item{}, false
		}
		return extra(prefix + strings.ToLower(strings.ReplaceAll(arg, "-", "_")))
	}
	switch d {
	case 'h':
		return known("remote_addr", fRemoteAddr)
	case 'a':
		if arg == "c" {
			return extra("realip_remote_addr")
		}
		return known("remote_addr", fRemoteAddr)
	case 'A':
		return extra("server_addr")
	case 'b', 'B':
		return known("body_bytes_sent", fBodyBytes)
	case 'O':
		return known("bytes_sent", fBytesSent)
	case 'I':
		return extra("request_length")
	case 'D':
		return known("request_time", fReqTimeUsec)
	case 'T':
		switch arg {
		case "", "s":
			return known("request_time", fReqTimeSec)
		case "ms":
			return known("request_time", fReqTimeMsec)
		case "us":
			return known("request_time", fReqTimeUsec)
		}
	case 'f':
		return extra("request_filename")
	case 'H':
		return known("server_protocol", fProtocol)
	case 'k':
		return extra("connection_requests")
	case 'l':
		return extra("remote_logname")
	case 'L':
		return extra("request_log_id")
	case 'm':
		return known("request_method", fMethod)
	case 'p':
		switch arg {
		case "", "canonical", "local":
			return extra("server_port")
		case "remote":
			return extra("remote_port")
		}
	case 'P':
		switch arg {
		case "", "pid":
			return extra("pid")
		case "tid", "hextid":
			return extra("tid")
		}
	case 'q':
		return known("query_string", fQueryMark)
	case 'r':
		return known("request", fRequest)
	case 'R':
		return extra("handler")
	case 's':
		return known("status", fStatus)
	case 't':
		switch strings.TrimPrefix(strings.TrimPrefix(arg, "begin:"), "end:") {
		case "sec":
			return known("msec", fEpochSec)
		case "msec":
			return known("msec", fEpochMsec)
		case "usec":
			return known("msec", fEpochUsec)
		}
	case 'u':
		return known("remote_user", fRemoteUser)
	case 'U':
		return known("uri", fPath)
	case 'v', 'V':
		return known("host", fHost)
	case 'X':
		return extra("connection_status")
	case 'i':
		switch strings.ToLower(arg) {
		case "referer":
			return known("http_referer", fReferer)
		case "user-agent":
			return known("http_user_agent", fUserAgent)
		}
		return header("http_")
	case 'o':
		return header("sent_http_")
	case 'C':
		return header("cookie_")
	case 'e':
		return header("env_")
	case 'n':
		return header("note_")
	}
	return item{}, false
}
