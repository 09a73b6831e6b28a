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
	if prefix, ok := apacheHeaders[d]; ok {
		if d == 'i' {
			if f, ok := apacheRequestHeaders[strings.ToLower(arg)]; ok {
				return f, true
			}
		}
		if arg == "" {
			return item{}, false
		}
		return item{name: prefix + strings.ToLower(strings.ReplaceAll(arg, "-", "_")), field: fExtra}, true
	}
	if d == 't' {
		arg = strings.TrimPrefix(strings.TrimPrefix(arg, "begin:"), "end:")
	}
	if it, ok := apacheWithArg[apacheKey{d, arg}]; ok {
		return it, true
	}
	it, ok := apacheLetters[d]
	return it, ok
}

// apacheLetters maps the directives whose {argument}, if any, changes
// nothing, to the nginx variable they log and the Request field it fills
// (fExtra for none).
var apacheLetters = map[byte]item{
	'h': {name: "remote_addr", field: fRemoteAddr},
	'a': {name: "remote_addr", field: fRemoteAddr}, // but %{c}a: apacheWithArg
	'A': {name: "server_addr"},
	'b': {name: "body_bytes_sent", field: fBodyBytes},
	'B': {name: "body_bytes_sent", field: fBodyBytes},
	'O': {name: "bytes_sent", field: fBytesSent},
	'I': {name: "request_length"},
	'D': {name: "request_time", field: fReqTimeUsec},
	'f': {name: "request_filename"},
	'H': {name: "server_protocol", field: fProtocol},
	'k': {name: "connection_requests"},
	'l': {name: "remote_logname"},
	'L': {name: "request_log_id"},
	'm': {name: "request_method", field: fMethod},
	'q': {name: "query_string", field: fQueryMark},
	'r': {name: "request", field: fRequest},
	'R': {name: "handler"},
	's': {name: "status", field: fStatus},
	'u': {name: "remote_user", field: fRemoteUser},
	'U': {name: "uri", field: fPath},
	'v': {name: "host", field: fHost},
	'V': {name: "host", field: fHost},
	'X': {name: "connection_status"},
}

// apacheKey is a directive letter with its {argument}, "" for none.
type apacheKey struct {
	letter byte
	arg    string
}

// apacheWithArg maps the directives whose {argument} selects what they
// log. Other arguments of %T, %p, %P and %t are rejected (%t without one
// is the bracketed time, which apacheItems handles).
var apacheWithArg = map[apacheKey]item{
	{'a', "c"}:         {name: "realip_remote_addr"},
	{'T', ""}:          {name: "request_time", field: fReqTimeSec},
	{'T', "s"}:         {name: "request_time", field: fReqTimeSec},
	{'T', "ms"}:        {name: "request_time", field: fReqTimeMsec},
	{'T', "us"}:        {name: "request_time", field: fReqTimeUsec},
	{'p', ""}:          {name: "server_port"},
	{'p', "canonical"}: {name: "server_port"},
	{'p', "local"}:     {name: "server_port"},
	{'p', "remote"}:    {name: "remote_port"},
	{'P', ""}:          {name: "pid"},
	{'P', "pid"}:       {name: "pid"},
	{'P', "tid"}:       {name: "tid"},
	{'P', "hextid"}:    {name: "tid"},
	{'t', "sec"}:       {name: "msec", field: fEpochSec}, // begin: and end: removed
	{'t', "msec"}:      {name: "msec", field: fEpochMsec},
	{'t', "usec"}:      {name: "msec", field: fEpochUsec},
}

// apacheHeaders maps the directives that log a header, a cookie, an
// environment variable or a note named by their {argument} to the prefix
// of the nginx-style name they are captured under.
var apacheHeaders = map[byte]string{
	'i': "http_",
	'o': "sent_http_",
	'C': "cookie_",
	'e': "env_",
	'n': "note_",
}

// apacheRequestHeaders maps the request headers, lower-cased, that fill
// Request fields.
var apacheRequestHeaders = map[string]item{
	"referer":    {name: "http_referer", field: fReferer},
	"user-agent": {name: "http_user_agent", field: fUserAgent},
}
