package compare

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/VictoriaLogs/lib/logstorage"
	"github.com/flatheap/ingest"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/satyrius/gonx"
)

// result is what a peer extracts from one line. Access peers fill the
// access fields, and the header fields when the line has a syslog header;
// header-only peers fill the header fields alone. String fields are views
// (into the line or into the peer's own copy of it), valid until the next
// call of the same peer.
type result struct {
	addr, user   string
	time         time.Time
	method, path string
	query, proto string
	status       int
	bytes        int64
	referer, ua  string
	pri          int
	host, tag    string
	procID       string
	msg          string // the line after the syslog header
	hasHeader    bool
}

// parseFunc parses line into r, overwriting what r held.
type parseFunc func(line []byte, r *result) error

// peer is one parser under comparison. newParse gives a fresh parser state,
// like one reader goroutine would hold; cleanups go to tb.Cleanup.
type peer struct {
	name string
	// headerOnly peers parse the syslog header only and run on syslog
	// fixtures only. Their numbers are not comparable with the access
	// peers': they do a fraction of the work.
	headerOnly bool
	// bareOnly peers cannot parse a syslog header and run on bare fixtures only.
	bareOnly bool
	newParse func(tb testing.TB) parseFunc
}

func (p peer) runsOn(f fixture) bool {
	if f.syslog {
		return !p.bareOnly
	}
	return !p.headerOnly
}

var peers = []peer{
	{name: "ingest", newParse: newIngest},
	// gonx builds one anchored regexp from the log_format, so it cannot skip
	// a syslog header, and stripping the header for it would measure our
	// header code, not gonx: it is skipped on the syslog fixtures.
	{name: "gonx", bareOnly: true, newParse: newGonx},
	{name: "regexp", newParse: newRegexp},
	{name: "split", newParse: newSplit},
	// Header-only peers: they find the syslog fields and the message start,
	// and leave the access line inside the message unparsed.
	{name: "victorialogs", headerOnly: true, newParse: newVictoriaLogs},
	{name: "gosyslog", headerOnly: true, newParse: newGoSyslog},
}

// b2s returns a string that shares b's memory. It is valid only while b is
// reachable and unmodified.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// suffixFrom returns line from where field, a view into line, starts. For
// ingest the message after the syslog header is the suffix of Request.Line
// that starts at RemoteAddr, the access line's first field.
func suffixFrom(line, field []byte) []byte {
	off := uintptr(unsafe.Pointer(unsafe.SliceData(field))) - uintptr(unsafe.Pointer(unsafe.SliceData(line)))
	if len(field) == 0 || off > uintptr(len(line)) {
		return nil
	}
	return line[off:]
}

// newIngest parses with one reused ingest.Parser into one reused Request;
// copying the views into result costs a few word copies per line.
func newIngest(testing.TB) parseFunc {
	var p ingest.Parser
	var req ingest.Request
	return func(line []byte, r *result) error {
		if err := p.Parse(&req, line); err != nil {
			return err
		}
		*r = result{
			addr:    b2s(req.RemoteAddr),
			user:    b2s(req.RemoteUser),
			time:    req.Time,
			method:  b2s(req.Method),
			path:    b2s(req.Path),
			query:   b2s(req.Query),
			proto:   b2s(req.Protocol),
			status:  req.Status,
			bytes:   req.BodyBytesSent,
			referer: b2s(req.Referer),
			ua:      b2s(req.UserAgent),
		}
		if req.Envelope != ingest.EnvelopeNone {
			r.hasHeader = true
			r.pri = req.SyslogPriority
			r.host = b2s(req.SyslogHost)
			r.tag = b2s(req.SyslogTag)
			r.procID = b2s(req.SyslogProcID)
			r.msg = b2s(suffixFrom(req.Line, req.RemoteAddr))
		}
		return nil
	}
}

// combinedLogFormat is nginx's predefined "combined" log_format.
const combinedLogFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`

// newGonx parses with gonx.Parser.ParseString and reads the fields from the
// returned Entry. It gets string(line), the copy its own Reader makes with
// bufio.Scanner.Text. gonx leaves the request line, status, size and time as
// strings; they are decoded with the same code as the regexp and split peers.
func newGonx(testing.TB) parseFunc {
	p := gonx.NewParser(combinedLogFormat)
	return func(line []byte, r *result) error {
		e, err := p.ParseString(string(line))
		if err != nil {
			return err
		}
		var v [8]string
		for i, name := range [...]string{
			"remote_addr", "remote_user", "time_local", "request",
			"status", "body_bytes_sent", "http_referer", "http_user_agent",
		} {
			if v[i], err = e.Field(name); err != nil {
				return err
			}
		}
		*r = result{}
		return r.setAccess(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7])
	}
}

// combinedRE matches a combined line with an optional RFC 3164 header, as
// nginx writes it: "<PRI>Mmm dd hh:mm:ss host tag[pid]: ". Group 1 is the
// whole header, so the message is the line after len(group 1).
var combinedRE = regexp.MustCompile(`^(<(\d{1,3})>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (\S+) ([^\s:\[]+)(?:\[([^\]]*)\])?: )?` +
	`(\S+) \S+ (\S+) \[([^\]]+)\] "([^"]*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"`)

// newRegexp is the baseline most daemons write: string(line), one regexp
// with FindStringSubmatch, then the request split with strings functions.
func newRegexp(testing.TB) parseFunc {
	return func(line []byte, r *result) error {
		s := string(line)
		m := combinedRE.FindStringSubmatch(s)
		if m == nil {
			return errNoMatch
		}
		*r = result{}
		if m[1] != "" {
			pri, err := strconv.Atoi(m[2])
			if err != nil {
				return err
			}
			r.setHeader(pri, m[3], m[4], m[5], s[len(m[1]):])
		}
		return r.setAccess(m[6], m[7], m[8], m[9], m[10], m[11], m[12], m[13])
	}
}

// newSplit is the other common baseline: string(line), the header cut with
// strings.IndexByte and strings.SplitN, then the access line split on '"'
// and its unquoted parts split with strings.Fields.
func newSplit(testing.TB) parseFunc {
	return func(line []byte, r *result) error {
		s := string(line)
		*r = result{}
		if strings.HasPrefix(s, "<") {
			end := strings.IndexByte(s, '>')
			if end < 0 {
				return errNoMatch
			}
			pri, err := strconv.Atoi(s[1:end])
			if err != nil {
				return err
			}
			rest := s[end+1:]
			// The timestamp is always 15 bytes ("Oct  5 13:55:36"), then a space.
			if len(rest) < len(time.Stamp)+1 {
				return errNoMatch
			}
			parts := strings.SplitN(rest[len(time.Stamp)+1:], " ", 3) // host, "tag:", message
			if len(parts) != 3 || !strings.HasSuffix(parts[1], ":") {
				return errNoMatch
			}
			tag, procID := strings.TrimSuffix(parts[1], ":"), ""
			if i := strings.IndexByte(tag, '['); i >= 0 {
				tag, procID = tag[:i], strings.TrimSuffix(tag[i+1:], "]")
			}
			r.setHeader(pri, parts[0], tag, procID, parts[2])
			s = parts[2]
		}
		q := strings.Split(s, `"`) // head, request, status+size, referer, " ", user agent, tail
		if len(q) < 7 {
			return errNoMatch
		}
		head := strings.Fields(q[0]) // addr, ident, user, "[date", "zone]"
		code := strings.Fields(q[2]) // status, size
		if len(head) != 5 || len(code) != 2 {
			return errNoMatch
		}
		tm := strings.TrimPrefix(head[3], "[") + " " + strings.TrimSuffix(head[4], "]")
		return r.setAccess(head[0], head[2], tm, q[1], code[0], code[1], q[3], q[5])
	}
}

// newVictoriaLogs parses the header with one logstorage.SyslogParser held
// for the whole run (its server takes one from GetSyslogParser per line)
// and reads the fields from p.Fields. Parse takes a string; it gets a
// zero-copy view of the line, as VictoriaLogs' syslog server passes it.
// Header only: the access line is left in the "message" field.
func newVictoriaLogs(tb testing.TB) parseFunc {
	p := logstorage.GetSyslogParser(2026, time.UTC)
	tb.Cleanup(func() { logstorage.PutSyslogParser(p) })
	return func(line []byte, r *result) error {
		p.Parse(b2s(line))
		*r = result{hasHeader: true}
		pri := ""
		for _, f := range p.Fields {
			switch f.Name {
			case "priority":
				pri = f.Value
			case "hostname":
				r.host = f.Value
			case "app_name":
				r.tag = f.Value
			case "proc_id":
				r.procID = f.Value
			case "message":
				r.msg = f.Value
			}
		}
		var err error
		if r.pri, err = strconv.Atoi(pri); err != nil {
			return err
		}
		if r.msg == "" {
			return errNoMatch
		}
		return nil
	}
}

// newGoSyslog parses the header with the go-syslog RFC 3164 machine in its
// default strict mode (nginx's header needs no best effort); WithYear gives
// the yearless timestamp a year, as a daemon must. Header only: the access
// line is left in Message.
func newGoSyslog(testing.TB) parseFunc {
	m := rfc3164.NewMachine(rfc3164.WithYear(rfc3164.Year{YYYY: 2026}))
	return func(line []byte, r *result) error {
		msg, err := m.Parse(line)
		if err != nil {
			return err
		}
		sm, ok := msg.(*rfc3164.SyslogMessage)
		if !ok || sm.Priority == nil || sm.Message == nil {
			return errNoMatch
		}
		*r = result{hasHeader: true, pri: int(*sm.Priority), msg: *sm.Message}
		r.host = deref(sm.Hostname)
		r.tag = deref(sm.Appname)
		r.procID = deref(sm.ProcID)
		return nil
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

var errNoMatch = errors.New("compare: line does not match")

// timeLocal is the layout of nginx's $time_local and Apache's %t.
const timeLocal = "02/Jan/2006:15:04:05 -0700"

// setAccess decodes the access fields the way a daemon working on strings
// does: strings functions for the request line, strconv for the numbers,
// time.Parse for the time. "-" means empty, as in ingest.
func (r *result) setAccess(addr, user, tm, request, status, size, referer, ua string) error {
	var err error
	if r.time, err = time.Parse(timeLocal, tm); err != nil {
		return err
	}
	if r.status, err = strconv.Atoi(status); err != nil {
		return err
	}
	if size != "-" {
		if r.bytes, err = strconv.ParseInt(size, 10, 64); err != nil {
			return err
		}
	}
	r.addr, r.user = addr, dash(user)
	r.referer, r.ua = dash(referer), dash(ua)
	// "GET /a?b HTTP/1.1": method up to the first space, protocol after the
	// last one, the URI between them split at '?'.
	method, rest, ok := strings.Cut(request, " ")
	if !ok {
		return nil // not an HTTP request: no method or path
	}
	uri := rest
	if i := strings.LastIndexByte(rest, ' '); i >= 0 {
		uri, r.proto = rest[:i], rest[i+1:]
	}
	r.method = method
	r.path, r.query, _ = strings.Cut(uri, "?")
	return nil
}

func (r *result) setHeader(pri int, host, tag, procID, msg string) {
	r.hasHeader = true
	r.pri, r.host, r.tag, r.procID, r.msg = pri, host, tag, procID, msg
}

func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}
