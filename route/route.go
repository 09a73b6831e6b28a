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
	"encoding/binary"
	"math/bits"

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
	// InternEntries bounds the strings Route keeps for routes made by the
	// automatic classes, default 4096 (about 64 bytes of string data each
	// on average, and a few dozen of table). Routes of patterns are always
	// kept, one string per pattern.
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
	return t.appendSegments(dst, path, nil)
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
	r := t.appendSegments(buf[:0], path, nil)
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
// the automatic classes (or the literal segments). When ex is not nil it
// records each segment's class in it.
//
// Runs of literal segments are copied in one piece: path[lit:j-1] is the
// part of the route not yet appended, always a copy of the path.
func (t *Templater) appendSegments(dst, path []byte, ex *Explanation) []byte {
	out := 0 // the route's length so far, appended or pending
	lit := 0 // where the pending literal run starts in path
	j := 1   // the current segment's first byte
	for nseg := 1; ; nseg++ {
		if nseg == t.maxSeg {
			// The last segment allowed: it is kept only if it is the
			// path's last. A remainder longer than MaxClassLen cannot be
			// one kept segment, so it is not searched.
			if len(path)-j > MaxClassLen || bytes.IndexByte(path[j:], '/') >= 0 {
				return cut(append(dst, path[lit:j-1]...), path[j:], cutSegments, ex)
			}
		}
		// Scan the segment: its end and the classes of its bytes.
		lim := min(len(path), j+MaxClassLen)
		k, m := scan(path[:lim], j)
		if k == lim && k < len(path) && path[k] != '/' {
			return cut(append(dst, path[lit:j-1]...), path[j:], cutLong, ex)
		}
		if m&cBad != 0 {
			return cut(append(dst, path[lit:j-1]...), path[j:], cutBytes, ex)
		}
		n := k - j
		class := classLiteral
		if t.auto && n > 0 {
			// Short segments without an at sign are numbers or literals;
			// the other classes need 12 bytes or more.
			if m == cDigit {
				class = classID
			} else if n >= minHexLen || m&(cAt|cPct) != 0 {
				class = classify(path[j:k], m)
			}
		}
		if class != classLiteral {
			n = len(classText[class])
		}
		last := k == len(path)
		room := MaxRouteLen - len(restSuffix)
		if last {
			room = MaxRouteLen
		}
		if out+1+n > room {
			return cut(append(dst, path[lit:j-1]...), path[j:], cutLength, ex)
		}
		out += 1 + n
		if ex != nil {
			ex.Segments = append(ex.Segments, Segment{Text: clip(path[j:k]), Class: className[class]})
		}
		if class != classLiteral {
			dst = append(dst, path[lit:j]...)
			dst = append(dst, classText[class]...)
			lit = k
		}
		if last {
			return append(dst, path[lit:]...)
		}
		j = k + 1
	}
}

// cut ends a route in "/{rest...}".
func cut(dst, rest []byte, why segmentCut, ex *Explanation) []byte {
	if ex != nil {
		ex.Segments = append(ex.Segments, Segment{Text: clip(rest), Class: "rest", Cut: why.String()})
	}
	return append(dst, restSuffix...)
}

// scan returns the index of the first '/' in p at or after j, or len(p),
// and the OR of the classes of the bytes before it. It reads 8 bytes at a
// time while they are in p. It is not inlined: in its caller the mask
// would live on the stack.
//
//go:noinline
func scan(p []byte, j int) (int, uint16) {
	var m uint16
	k := j
	for ; k+8 <= len(p); k += 8 {
		w := binary.LittleEndian.Uint64(p[k:])
		x := w ^ ('/' * ones)
		// The lowest high bit of z marks the first '/' (the others may be
		// false, after it).
		if z := (x - ones) &^ x & highs; z != 0 {
			n := bits.TrailingZeros64(z) >> 3
			if n == 0 {
				return k, m
			}
			// Fill the bytes from the '/' on with the first byte, whose
			// class is counted anyway.
			keep := uint64(1)<<(8*n) - 1
			w = w&keep | (w&0xff)*ones&^keep
			return k + n, m | classes(w)
		}
		m |= classes(w)
	}
	for ; k < len(p); k++ {
		c := p[k]
		if c == '/' {
			return k, m
		}
		m |= byteClass[c]
	}
	return len(p), m
}

const ones, highs = 0x0101010101010101, 0x8080808080808080

// classes returns the OR of the classes of w's 8 bytes.
func classes(w uint64) uint16 {
	a := byteClass[byte(w)] | byteClass[byte(w>>8)] | byteClass[byte(w>>16)] | byteClass[byte(w>>24)]
	b := byteClass[byte(w>>32)] | byteClass[byte(w>>40)] | byteClass[byte(w>>48)] | byteClass[byte(w>>56)]
	return a | b
}
