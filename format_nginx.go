package ingest

import (
	"strconv"
	"strings"
)

// nginxFields maps the nginx variables that fill Request fields.
var nginxFields = map[string]field{
	"remote_addr":     fRemoteAddr,
	"remote_user":     fRemoteUser,
	"time_local":      fTimeLocal,
	"time_iso8601":    fTimeISO,
	"msec":            fMsec,
	"request":         fRequest,
	"request_method":  fMethod,
	"request_uri":     fRequestURI,
	"uri":             fPath,
	"args":            fQuery,
	"query_string":    fQuery,
	"server_protocol": fProtocol,
	"status":          fStatus,
	"body_bytes_sent": fBodyBytes,
	"bytes_sent":      fBytesSent,
	"http_referer":    fReferer,
	"http_user_agent": fUserAgent,
	"request_time":    fReqTime,
	"host":            fHost,
	"is_args":         fIsArgs,
}

// CompileNginx compiles an nginx log_format into a Format for Parser and
// Config. logFormat is what follows "log_format" in nginx.conf, or the whole
// directive:
//
//	log_format main escape=json '{"addr":"$remote_addr",'
//	                            '"time":"$time_iso8601"}';
//
// An optional "log_format NAME" and "escape=default|json|none" come first.
// When the rest starts with a quote it is read as nginx reads it: strings,
// quoted or not, separated by white space, backslash escapes decoded, joined
// without separators, an optional ';' at the end. Otherwise the rest is the
// format itself, taken verbatim, so '$remote_addr - $remote_user ...' works
// as well. (A verbatim format that starts with a quote must be quoted.)
//
// The variables listed in the Request field comments fill those fields;
// every other variable is captured by name (Request.Var). Variables end
// where nginx ends them: at a byte not in [A-Za-z0-9_], at the end of a
// string, or at the '}' of "${name}".
//
// Each value ends at the first occurrence of the literal text that follows
// it in the format. A value followed by '"' ends at the first '"' not
// escaped by a backslash (nginx escapes a quote in a value as \x22, or \"
// with escape=json); a quoted $request keeps the built-in parser's
// tolerance for a bare quote inside it. Values of $remote_addr,
// $http_x_forwarded_for and $upstream_* may be lists: a space after a ','
// (and, for $upstream_*, around a " : ") does not end them. The last value
// of a format that ends with a variable runs to the end of the line; text
// after a format's final literal is ignored, as the built-ins ignore fields
// appended after theirs. "-" is an empty value, except with escape=json.
//
// Compilation fails with a *FormatError for two variables with nothing
// between them (unless the first has a fixed width: $time_local,
// $time_iso8601), more than MaxFormatVars extra variables, a format with no
// variable, an unknown escape= value, an unterminated "${" or quoted string,
// and a '$' without a name.
func CompileNginx(logFormat string) (*Format, error) {
	name := "nginx"
	src := logFormat
	i := skipSpace(src, 0)
	if strings.HasPrefix(src[i:], "log_format") && i+10 < len(src) && isSpace(src[i+10]) {
		i = skipSpace(src, i+10)
		j := i
		for j < len(src) && !isSpace(src[j]) && src[j] != '\'' && src[j] != '"' {
			j++
		}
		if j == i {
			return nil, formatErr(i, "log_format without a name")
		}
		name = src[i:j]
		i = skipSpace(src, j)
	}
	esc := escapeDefault
	if strings.HasPrefix(src[i:], "escape=") {
		j := i + len("escape=")
		k := j
		for k < len(src) && !isSpace(src[k]) {
			k++
		}
		switch src[j:k] {
		case "default":
		case "json":
			esc = escapeJSON
		case "none":
			esc = escapeNone
		default:
			return nil, formatErr(j, "unknown escape="+strconv.Quote(src[j:k])+": want default, json or none")
		}
		i = skipSpace(src, k)
	}
	if i == len(src) {
		return nil, formatErr(i, "empty format")
	}
	var items []item
	var err error
	if src[i] == '\'' || src[i] == '"' {
		items, err = nginxStrings(src, i)
	} else {
		items, err = nginxString(nil, src[i:], offsetsFrom(i, len(src)-i))
	}
	if err != nil {
		return nil, err
	}
	return link(name, items, esc)
}

// nginxStrings reads the strings of a log_format directive from src[i:],
// as nginx's configuration reader does, and compiles each in turn.
func nginxStrings(src string, i int) ([]item, error) {
	var items []item
	for {
		i = skipSpace(src, i)
		if i == len(src) {
			return items, nil
		}
		if src[i] == ';' {
			if j := skipSpace(src, i+1); j != len(src) {
				return nil, formatErr(j, "text after ';'")
			}
			return items, nil
		}
		var text []byte
		var offs []int
		quote := byte(0)
		if src[i] == '\'' || src[i] == '"' {
			quote = src[i]
			i++
		}
		start := i
		for {
			if i == len(src) {
				if quote != 0 {
					return nil, formatErr(start-1, "unterminated quoted string")
				}
				break
			}
			c := src[i]
			if quote != 0 && c == quote {
				i++
				if i < len(src) && !isSpace(src[i]) && src[i] != ';' {
					return nil, formatErr(i, "unexpected "+strconv.Quote(src[i:i+1])+" after a quoted string")
				}
				break
			}
			if quote == 0 && (isSpace(c) || c == ';') {
				break
			}
			if c == '\\' && i+1 < len(src) {
				d := src[i+1]
				switch d {
				case '"', '\'', '\\':
					text, offs = append(text, d), append(offs, i+1)
					i += 2
					continue
				case 't', 'r', 'n':
					text, offs = append(text, controlEscape(d)), append(offs, i)
					i += 2
					continue
				}
				// Any other escaped byte is kept, backslash and all; the
				// backslash only stops it from ending the string.
				text, offs = append(text, c, d), append(offs, i, i+1)
				i += 2
				continue
			}
			text, offs = append(text, c), append(offs, i)
			i++
		}
		var err error
		if items, err = nginxString(items, string(text), offs); err != nil {
			return nil, err
		}
	}
}

// nginxString compiles one string of a log_format; offs[k] is the source
// offset of s[k].
func nginxString(items []item, s string, offs []int) ([]item, error) {
	at := func(k int) int {
		if k < len(offs) {
			return offs[k]
		}
		if len(offs) > 0 {
			return offs[len(offs)-1] + 1
		}
		return 0
	}
	for k := 0; k < len(s); {
		if s[k] != '$' {
			j := strings.IndexByte(s[k:], '$')
			if j < 0 {
				j = len(s) - k
			}
			items = append(items, item{lit: []byte(s[k : k+j]), off: at(k)})
			k += j
			continue
		}
		start := k
		k++
		bracket := k < len(s) && s[k] == '{'
		if bracket {
			k++
		}
		n := k
		for k < len(s) && isVarByte(s[k]) {
			k++
		}
		name := s[n:k]
		if bracket {
			if k == len(s) || s[k] != '}' {
				return nil, formatErr(at(start), "unterminated \"${\": no '}' after the variable name")
			}
			k++
		}
		if name == "" {
			return nil, formatErr(at(start), "'$' without a variable name")
		}
		f, known := nginxFields[name]
		if !known {
			f = fExtra
		}
		items = append(items, item{name: name, label: "$" + name, field: f, off: at(start)})
	}
	return items, nil
}

// controlEscape returns the byte that \t, \r or \n stands for.
func controlEscape(c byte) byte {
	switch c {
	case 't':
		return '\t'
	case 'r':
		return '\r'
	}
	return '\n'
}

func isVarByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// listVar reports whether nginx may log the variable as a ", "-joined list,
// and whether the list may also hold " : " (upstreams across internal
// redirects).
func listVar(name string) (list, redir bool) {
	if strings.HasPrefix(name, "upstream_") {
		return true, true
	}
	switch name {
	case "remote_addr", "http_x_forwarded_for", "proxy_add_x_forwarded_for", "realip_remote_addr":
		return true, false
	}
	return false, false
}
