// Package route turns request paths into deterministic route templates:
// /users/84213/orders/9f1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a10 becomes
// /users/{id}/orders/{uuid}. A daemon that counts requests per route keeps
// its counts bounded this way, and they still mean something.
//
// The route of a path depends only on the path, the method and the
// Templater's Config: never on which paths came before, how many there were,
// or in which order. Two processes with the same Config give the same route
// for the same request, so per-route counters of several instances can be
// summed.
//
// A Templater first tries the user's patterns, written in the syntax of
// net/http.ServeMux ("GET /users/{id}/orders/{order}", "/static/{file...}");
// the first pattern that matches, in the order given, is the route. When none
// matches, each segment of the path is kept as written or, when it is a
// decimal number, a UUID, a long hex string, an opaque token or an e-mail
// address, replaced by {id}, {uuid}, {hex}, {token} or {email}. See Config and
// the package's docs/routes.md for the exact rules.
//
// Every route is bounded: at most MaxRouteLen bytes of printable ASCII and at
// most Config.MaxSegments segments, whatever the input. Paths are never
// decoded or cleaned: percent-escapes, empty segments and trailing slashes
// are kept as written.
package route

import (
	"bytes"

	"github.com/flatheap/ingest"
)

const (
	// MaxRouteLen is the longest route in bytes.
	MaxRouteLen = 256
	// Other is the route of a path that is not a path: empty, "*",
	// "host:443", or anything else that does not begin with '/'.
	Other = "{other}"
	// Rest ends a route that was cut: after MaxSegments-1 segments, before
	// a segment that would make the route longer than MaxRouteLen, before a
	// segment longer than MaxClassLen, and before a segment holding a byte
	// that is not printable ASCII.
	Rest = "{rest...}"
	// MaxClassLen is the longest segment the automatic classes look at; a
	// longer segment ends the route in /{rest...}.
	MaxClassLen = 1024
	// DefaultMaxSegments is the MaxSegments of a zero Config.
	DefaultMaxSegments = 8
	// MaxMaxSegments bounds Config.MaxSegments.
	MaxMaxSegments = 64
	// DefaultInternEntries is the InternEntries of a zero Config.
	DefaultInternEntries = 4096
)

// restSuffix is what a cut route ends with.
const restSuffix = "/" + Rest

// Config configures a Templater. The zero value is usable: automatic
// classes on, MaxSegments 8, no patterns.
type Config struct {
	// Patterns are tried in order, and the first that matches gives the
	// route: its path as written, without the method. The syntax is
	// net/http.ServeMux's: "[METHOD ]/path", where a segment is a literal,
	// a wildcard "{name}" (one non-empty segment), or, as the last
	// segment, "{name...}" (the rest of the path, possibly empty) or "{$}"
	// (the end of the path, after a trailing slash). A pattern ending in
	// '/' matches every path below it, as in ServeMux. A GET pattern also
	// matches HEAD; a pattern without a method matches every method.
	// Host names are not supported. Unlike ServeMux, which prefers the
	// most specific pattern, the first match wins, and paths are matched
	// as written, without cleaning or decoding.
	Patterns []string
	// NoAutoClasses switches off {id} {uuid} {hex} {token} {email}: a path
	// that no pattern matches keeps its segments as written (within the
	// bounds).
	NoAutoClasses bool
	// MaxSegments is the most segments in a route, default 8; values
	// above 64 are lowered to 64. A path with more segments keeps its first
	// MaxSegments-1 and ends in "/{rest...}". A pattern with more segments
	// is an error.
	MaxSegments int
	// InternEntries bounds the strings Route keeps for routes made from
	// segments, default 4096. Their bytes are bounded by 64 times
	// InternEntries, and the table costs at most 48 bytes per entry more
	// (see ingest.Interner). Routes of patterns are kept apart, one
	// string per pattern.
	InternEntries int
}

// Templater maps (method, path) to a route. It is safe for concurrent use
// after New.
type Templater struct {
	maxSeg   int
	auto     bool
	patterns []string // as given
	routes   []string // the path part of each pattern: its route
	nodes    []node   // the pattern trie; nodes[0] is the root
	depth    int      // the most segments a match needs to look at
	maxLit   int      // the longest literal segment in the trie
	intern   *ingest.Interner
}

// New returns a Templater for cfg. A bad pattern gives a *PatternError that
// names it, its index, the byte offset of the fault and what is wrong.
func New(cfg Config) (*Templater, error) {
	t := &Templater{
		maxSeg:   cfg.MaxSegments,
		auto:     !cfg.NoAutoClasses,
		patterns: append([]string(nil), cfg.Patterns...),
	}
	if t.maxSeg <= 0 {
		t.maxSeg = DefaultMaxSegments
	}
	t.maxSeg = min(t.maxSeg, MaxMaxSegments)
	if err := t.compile(); err != nil {
		return nil, err
	}
	entries := cfg.InternEntries
	if entries <= 0 {
		entries = DefaultInternEntries
	}
	t.intern = ingest.NewInterner(ingest.InternerConfig{
		MaxEntries: entries,
		MaxBytes:   entries * 64,
		MaxLen:     MaxRouteLen,
	})
	return t, nil
}

// MaxSegments returns the Templater's bound on segments per route.
func (t *Templater) MaxSegments() int { return t.maxSeg }

// Append appends the route of (method, path) to dst and returns the extended
// slice. path is the raw path, without the query; it is neither decoded nor
// cleaned. method may be empty: it then matches only patterns without a
// method. Append does not allocate when dst has room for MaxRouteLen more
// bytes, and it retains neither method nor path.
func (t *Templater) Append(dst, method, path []byte) []byte {
	if len(path) == 0 || path[0] != '/' {
		return append(dst, Other...)
	}
	if len(t.nodes) > 0 {
		if i := t.match(method, path); i >= 0 {
			return append(dst, t.routes[i]...)
		}
	}
	dst, _, _ = t.appendSegments(dst, path)
	return dst
}

// Route returns the route of (method, path) as a string; see Append. The
// string never aliases path. It does not allocate when the route is a
// pattern's or Other, nor when it is kept in the Templater's bounded table of
// routes, which holds a route from its second sighting on (see
// ingest.Interner; InternEntries bounds it).
func (t *Templater) Route(method, path []byte) string {
	if len(path) == 0 || path[0] != '/' {
		return Other
	}
	if len(t.nodes) > 0 {
		if i := t.match(method, path); i >= 0 {
			return t.routes[i]
		}
	}
	var buf [MaxRouteLen]byte
	r, _, _ := t.appendSegments(buf[:0], path)
	return t.intern.Intern(r)
}

// Patterns returns a copy of the patterns the Templater was made with.
func (t *Templater) Patterns() []string { return append([]string(nil), t.patterns...) }

// segmentCut says why a route was cut.
type segmentCut uint8

const (
	cutNone     segmentCut = iota
	cutSegments            // more than MaxSegments segments
	cutLength              // the route would exceed MaxRouteLen
	cutLong                // a segment longer than MaxClassLen
	cutBytes               // a byte outside printable ASCII
)

func (c segmentCut) String() string {
	switch c {
	case cutSegments:
		return "max_segments"
	case cutLength:
		return "max_route_len"
	case cutLong:
		return "max_class_len"
	case cutBytes:
		return "not_printable"
	}
	return ""
}

// appendSegments appends the route of path, which begins with '/', made by
// the automatic classes (or the literal segments). It returns the route,
// the number of the path's segments it holds, and why the route was cut
// after them, if it was.
//
// Runs of literal segments are copied in one piece: path[lit:j-1] is the
// part of the route not yet appended, always a copy of the path.
func (t *Templater) appendSegments(dst, path []byte) ([]byte, int, segmentCut) {
	out := 0 // the route's length so far, appended or pending
	lit := 0 // where the pending literal run starts in path
	j := 1   // the current segment's first byte
	nseg := 0
	why := cutNone
	lastSeg, auto := t.maxSeg-1, t.auto
	for {
		// Skip the plain literal segments from j on in one call.
		var k int
		var m uint16
		j, nseg, out, k, m = skipLiterals(path, j, nseg, out, lastSeg, auto)
		if nseg == lastSeg && lastTooFar(path, j) {
			why = cutSegments
			break
		}
		if k < 0 {
			k, m = scanSegment(path, j)
		}
		if k < 0 {
			why = cutLong
			break
		}
		if m&cBad != 0 {
			why = cutBytes
			break
		}
		n := k - j
		class := classLiteral
		if auto && n > 0 {
			// The fast cases of t.class, which is not inlined.
			if m == cDigit {
				class = classID
			} else if n >= minHexLen || m&(cAt|cPct) != 0 {
				class = classify(path[j:k], m)
			}
		}
		if class != classLiteral {
			n = len(classText[class])
		}
		room := MaxRouteLen - len(restSuffix)
		if k == len(path) {
			room = MaxRouteLen
		}
		if out+1+n > room {
			why = cutLength
			break
		}
		out += 1 + n
		nseg++
		if class != classLiteral {
			dst = append(dst, path[lit:j]...)
			dst = append(dst, classText[class]...)
			lit = k
		}
		if k == len(path) {
			return append(dst, path[lit:]...), nseg, cutNone
		}
		j = k + 1
	}
	dst = append(dst, path[lit:j-1]...)
	return append(dst, restSuffix...), nseg, why
}

// skipLiterals passes over the segments from the one at j on that are
// kept as written and change nothing in the route but its length: not the
// path's last, not a candidate for a class, within the bounds. It returns
// the next segment's start, the updated count and length of the route and,
// when it scanned that segment (within its first 32 bytes), its end and
// mask; else -1 and 0. It is not inlined: in its caller the mask would live
// on the stack.
//
//go:noinline
func skipLiterals(path []byte, j, nseg, out, lastSeg int, auto bool) (int, int, int, int, uint16) {
	tab := &byteClass
	for nseg != lastSeg {
		head := path[j:min(len(path), j+32)]
		var m uint16
		i := 0
		for ; i < len(head); i++ {
			c := tab[head[i]]
			if c == cSlash {
				break
			}
			m |= c
		}
		if i == 32 {
			return j, nseg, out, -1, 0
		}
		k := j + i
		if k == len(path) || out+1+i > MaxRouteLen-len(restSuffix) || m&(cBad|cAt|cPct) != 0 ||
			auto && (i >= minHexLen || m == cDigit) {
			return j, nseg, out, k, m
		}
		out += 1 + i
		nseg++
		j = k + 1
	}
	return j, nseg, out, -1, 0
}

// lastTooFar reports whether the segment at j cannot be the path's last
// that a route keeps: a '/' follows it. A remainder longer than
// MaxClassLen is not searched: it cannot be one kept segment either.
func lastTooFar(path []byte, j int) bool {
	return len(path)-j > MaxClassLen || bytes.IndexByte(path[j:], '/') >= 0
}

// scanSegment returns the end of the segment that starts at path[j] (the
// index of the next '/' or len(path)) and the OR of its bytes' classes; or
// -1 when the segment is longer than MaxClassLen. It reads a byte at a time
// in the first 32 bytes, then uses IndexByte, so that a long segment that
// cannot be kept costs little. It is not inlined: in its caller the mask
// would live on the stack.
//
//go:noinline
func scanSegment(path []byte, j int) (int, uint16) {
	lim := min(len(path), j+MaxClassLen)
	var m uint16
	tab := &byteClass
	head := path[j:min(lim, j+32)]
	for i, b := range head {
		c := tab[b]
		if c == cSlash {
			return j + i, m
		}
		m |= c
	}
	k := j + len(head)
	if len(head) == 32 {
		if e := bytes.IndexByte(path[k:lim], '/'); e >= 0 {
			lim = k + e
		} else if lim < len(path) && path[lim] != '/' {
			return -1, 0
		}
		for _, c := range path[k:lim] {
			m |= byteClass[c]
		}
		k = lim
	}
	return k, m
}

// span is a segment found by split: the index just after it, and the OR of
// its bytes' classes.
type span struct {
	end  int32
	mask uint16
}

// split finds the segments of path, which begins with '/', as
// appendSegments does: it stores them in spans and returns their number and,
// when the path goes on after the last of them, why the route is cut there
// (cutBytes is left to the caller).
func split(path []byte, maxSeg int, spans *[MaxMaxSegments]span) (int, segmentCut) {
	n := 0
	j := 1 // the current segment's first byte
	for {
		if n == maxSeg-1 && lastTooFar(path, j) {
			return n, cutSegments
		}
		k, m := scanSegment(path, j)
		if k < 0 {
			return n, cutLong
		}
		spans[n] = span{end: int32(k), mask: m}
		n++
		if k == len(path) {
			return n, cutNone
		}
		j = k + 1
	}
}

// class returns the class of segment s, whose byte classes OR to m.
func (t *Templater) class(s []byte, m uint16) class {
	if !t.auto || len(s) == 0 {
		return classLiteral
	}
	if m == cDigit {
		return classID
	}
	if len(s) >= minHexLen || m&(cAt|cPct) != 0 {
		return classify(s, m)
	}
	return classLiteral
}
