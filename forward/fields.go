package forward

import (
	"slices"
	"strconv"

	"github.com/flatheap/ingest"
)

// AllFields are the names of the fields a record can carry besides the
// format's extra variables, in the order they are written. nil
// Options.Fields selects all of them but "request", whose parts method,
// path, query and protocol are fields of their own (msg holds the whole
// line).
//
//   - time: Request.Time (left out when zero); msg: Request.Line, the
//     line as received, syslog header included;
//   - remote_addr, remote_user, method, path, query, protocol, request
//     (the request line), referer, user_agent: the Request fields;
//   - status, body_bytes_sent: numbers, always written;
//     bytes_sent: a number, written when not 0; request_time: seconds, a
//     number, written when the line logged one;
//   - vhost: Request.Host, or Options.VHost when the line has none;
//   - route: the route template of method and path (package route);
//   - source: the address the datagram came from (Request.Source), when
//     known;
//   - syslog_priority (a number), syslog_time, syslog_host, syslog_tag,
//     syslog_procid, syslog_msgid: the syslog envelope, when the line
//     came in one.
//
// String fields that are empty are left out.
var AllFields = []string{
	"time", "msg", "remote_addr", "remote_user", "method", "path", "query", "protocol", "request",
	"status", "body_bytes_sent", "bytes_sent", "request_time", "referer", "user_agent", "vhost",
	"route", "source", "syslog_priority", "syslog_time", "syslog_host", "syslog_tag",
	"syslog_procid", "syslog_msgid",
}

// Indexes into AllFields, and bits of fieldSet.
const (
	fTime = iota
	fMsg
	fRemoteAddr
	fRemoteUser
	fMethod
	fPath
	fQuery
	fProtocol
	fRequest
	fStatus
	fBodyBytes
	fBytesSent
	fRequestTime
	fReferer
	fUserAgent
	fVHost
	fRoute
	fSource
	fSyslogPriority
	fSyslogTime
	fSyslogHost
	fSyslogTag
	fSyslogProcID
	fSyslogMsgID
	numFields
)

// numericField reports whether field f is written as a JSON number.
func numericField(f int) bool {
	switch f {
	case fStatus, fBodyBytes, fBytesSent, fRequestTime, fSyslogPriority:
		return true
	}
	return false
}

type fieldSet uint32

func (s fieldSet) has(f int) bool { return s&(1<<f) != 0 }

// defaultFields is every field but request.
const defaultFields = fieldSet(1<<numFields-1) &^ (1 << fRequest)

// selection is what a record carries, made once by New.
type selection struct {
	fields  fieldSet
	allVars bool     // every extra variable
	vars    []string // else these extra variables
	// keys[f] is `,"name":` for each field, followed by the quote that
	// opens the value for string fields (time and msg take the sink's
	// keys instead).
	keys [numFields]key
	// static is the pre-encoded static fields: `,"name":"value"`...
	static []byte
}

func newSelection(o *Options) (*selection, error) {
	s := &selection{}
	if o.Fields == nil {
		s.fields, s.allVars = defaultFields, true
	} else {
		for _, name := range o.Fields {
			if i := slices.Index(AllFields, name); i >= 0 {
				s.fields |= 1 << i
			} else if name == "" {
				return nil, configError("Fields", name, "empty field name")
			} else if !slices.Contains(s.vars, name) {
				s.vars = append(s.vars, name)
			}
		}
	}
	for i, name := range AllFields {
		k := appendKey(nil, name)
		if !numericField(i) {
			k = append(k, '"') // the quote that opens the value
		}
		s.keys[i] = newKey(k)
	}
	seen := map[string]bool{"_time": true, "_msg": true, "@timestamp": true, "message": true}
	for _, name := range AllFields[fMsg+1:] {
		seen[name] = true
	}
	for _, f := range o.Static {
		if f.Name == "" || seen[f.Name] {
			return nil, configError("Static", f.Name+"="+f.Value, "the name is empty or names another field")
		}
		seen[f.Name] = true
		s.static = appendKey(s.static, f.Name)
		s.static = ingest.AppendJSONString(s.static, f.Value)
	}
	return s, nil
}

// key is a pre-encoded key (`,"name":` and the quote that opens a string
// value), kept so that writing it is one fixed-size copy.
type key struct {
	n int      // its length; 0 for no key
	b [32]byte // its first 32 bytes
	s string   // the whole key, when it is longer than b
}

func newKey(k []byte) key {
	kk := key{n: len(k), s: string(k)}
	copy(kk.b[:], k)
	return kk
}

// put appends k to dst, which must have room for keySlack more bytes:
// a key of up to 32 bytes is written with one 32-byte copy.
func (k *key) put(dst []byte) []byte {
	if k.n > len(k.b) {
		return append(dst, k.s...)
	}
	n := len(dst)
	*(*[32]byte)(dst[n : n+32]) = k.b
	return dst[:n+k.n]
}

// keySlack is the room beyond a record's length that key.put and
// encoder.copyLine need.
const keySlack = 32

// appendKey appends `,"name":`.
func appendKey(dst []byte, name string) []byte {
	dst = append(dst, ',')
	dst = ingest.AppendJSONString(dst, name)
	return append(dst, ':')
}

// wantVar reports whether the extra variable name is selected.
func (s *selection) wantVar(name string) bool {
	return s.allVars || slices.Contains(s.vars, name)
}

// varKeys is the keys of one format's extra variables, each with the
// quote that opens the value, "" for those not selected; made when an
// encoder first meets the format. bytes is the sum of their lengths plus
// a closing quote each.
type varKeys struct {
	format *ingest.Format
	keys   []key // a zero key for a variable not selected
	bytes  int
}

func (s *selection) keysFor(f *ingest.Format) varKeys {
	names := f.VarNames()
	vk := varKeys{format: f, keys: make([]key, len(names))}
	for i, n := range names {
		if !s.wantVar(n) {
			continue
		}
		// A variable named like one of the record's own fields gets a '$'
		// in front, as Request.AppendJSON does.
		if slices.Contains(AllFields, n) || n == "message" {
			n = "$" + n
		}
		vk.keys[i] = newKey(append(appendKey(nil, n), '"'))
		vk.bytes += vk.keys[i].n + 1
	}
	return vk
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
