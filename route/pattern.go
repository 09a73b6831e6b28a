package route

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PatternError is the error of New for a bad pattern.
type PatternError struct {
	Pattern string // the pattern as given
	Index   int    // its index in Config.Patterns
	Offset  int    // the byte offset in Pattern where the fault is
	Reason  string // what is wrong
}

// Error returns "route: pattern N "P": at byte O: reason".
func (e *PatternError) Error() string {
	return "route: pattern " + strconv.Itoa(e.Index) + " " + strconv.Quote(e.Pattern) +
		": at byte " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// node is a node of the pattern trie. A path segment leads from a node to a
// child: the literal child whose text equals it, or the wildcard child when
// it is not empty. Patterns stop at a node (end) or take the rest of the
// path there (multi).
type node struct {
	lit   map[string]int32 // literal children by segment text, when many
	keys  []string         // else the literal children's texts
	kids  []int32          // and nodes, in the same order
	wild  int32            // the {name} child; 0 for none (the root is no child)
	end   []term           // patterns that end at this node
	multi []term           // patterns with {name...} or a trailing '/' here
	min   int32            // the least pattern index in this subtree
}

// term is a pattern stopping at a node, with its method ("" for any).
type term struct {
	idx    int32
	method string
}

// smallChildren is the most literal children a node keeps in slices
// rather than a map.
const smallChildren = 8

// segKind is the kind of a pattern segment.
type segKind uint8

const (
	segLit   segKind = iota
	segWild          // {name}
	segMulti         // {name...} or the empty segment after a trailing '/'
)

type patSeg struct {
	kind segKind
	text string // the literal
}

// compile parses the patterns and builds the trie.
func (t *Templater) compile() error {
	if len(t.patterns) == 0 {
		return nil
	}
	t.nodes = []node{{}}
	t.routes = make([]string, len(t.patterns))
	for i, p := range t.patterns {
		method, path, segs, err := parsePattern(p, t.maxSeg)
		if err != nil {
			err.Index = i
			return err
		}
		t.routes[i] = path
		if err := t.insert(int32(i), method, segs); err != nil {
			err.Index, err.Pattern, err.Offset = i, p, 0
			return err
		}
		t.depth = max(t.depth, len(segs))
		for _, s := range segs {
			if s.kind == segLit {
				t.maxLit = max(t.maxLit, len(s.text))
			}
		}
	}
	t.setMin(0)
	for i := range t.nodes {
		// A few children are found faster by comparing them in turn.
		if nd := &t.nodes[i]; len(nd.lit) <= smallChildren {
			for key, c := range nd.lit {
				nd.keys = append(nd.keys, key)
				nd.kids = append(nd.kids, c)
			}
			nd.lit = nil
		}
	}
	return nil
}

// insert adds pattern idx to the trie.
func (t *Templater) insert(idx int32, method string, segs []patSeg) *PatternError {
	n := int32(0)
	for k, s := range segs {
		last := k == len(segs)-1
		switch s.kind {
		case segMulti:
			return t.addTerm(&t.nodes[n].multi, idx, method)
		case segWild:
			if t.nodes[n].wild == 0 {
				t.nodes = append(t.nodes, node{})
				t.nodes[n].wild = int32(len(t.nodes) - 1)
			}
			n = t.nodes[n].wild
		case segLit:
			c, ok := t.nodes[n].lit[s.text]
			if !ok {
				t.nodes = append(t.nodes, node{})
				c = int32(len(t.nodes) - 1)
				if t.nodes[n].lit == nil {
					t.nodes[n].lit = make(map[string]int32)
				}
				t.nodes[n].lit[s.text] = c
			}
			n = c
		}
		if last {
			return t.addTerm(&t.nodes[n].end, idx, method)
		}
	}
	return nil
}

// addTerm appends pattern idx to a node's list, unless an earlier pattern
// there takes every method it takes (the same method, no method, or GET
// before HEAD): the later one could never match.
func (t *Templater) addTerm(list *[]term, idx int32, method string) *PatternError {
	for _, e := range *list {
		if e.method == method {
			return &PatternError{Reason: "duplicates pattern " + strconv.Itoa(int(e.idx)) + " " + strconv.Quote(t.patterns[e.idx])}
		}
		if e.method == "" || e.method == "GET" && method == "HEAD" {
			return &PatternError{Reason: "never matches: pattern " + strconv.Itoa(int(e.idx)) + " " +
				strconv.Quote(t.patterns[e.idx]) + " comes first and takes the same paths and methods"}
		}
	}
	*list = append(*list, term{idx: idx, method: method})
	return nil
}

// setMin computes the min fields of n's subtree and returns n's.
func (t *Templater) setMin(n int32) int32 {
	m := int32(len(t.patterns))
	for _, e := range t.nodes[n].end {
		m = min(m, e.idx)
	}
	for _, e := range t.nodes[n].multi {
		m = min(m, e.idx)
	}
	if w := t.nodes[n].wild; w != 0 {
		m = min(m, t.setMin(w))
	}
	for _, c := range t.nodes[n].lit {
		m = min(m, t.setMin(c))
	}
	t.nodes[n].min = m
	return m
}

// parsePattern splits a pattern into its method, its path (the route) and
// the path's segments. Its error leaves Index to the caller.
func parsePattern(p string, maxSeg int) (method, path string, segs []patSeg, perr *PatternError) {
	fail := func(off int, reason string) (string, string, []patSeg, *PatternError) {
		return "", "", nil, &PatternError{Pattern: p, Offset: off, Reason: reason}
	}
	off := 0
	if !strings.HasPrefix(p, "/") {
		i := strings.IndexAny(p, " \t")
		if i < 0 {
			if p == "" {
				return fail(0, "empty pattern")
			}
			return fail(0, "a pattern begins with '/' or a method and a space")
		}
		method = p[:i]
		if method == "" {
			return fail(0, "a pattern begins with '/' or a method and a space")
		}
		for k := 0; k < len(method); k++ {
			if !isTokenChar(method[k]) {
				return fail(k, "bad method "+strconv.Quote(method))
			}
		}
		off = i
		for off < len(p) && (p[off] == ' ' || p[off] == '\t') {
			off++
		}
		if off == len(p) || p[off] != '/' {
			return fail(off, "the path must begin with '/' (host names are not supported)")
		}
	}
	path = p[off:]
	if len(path) > MaxRouteLen {
		return fail(off+MaxRouteLen, "the path is longer than "+strconv.Itoa(MaxRouteLen)+" bytes")
	}
	if n := strings.Count(path, "/"); n > maxSeg {
		return fail(off, "the path has "+strconv.Itoa(n)+" segments, more than MaxSegments "+strconv.Itoa(maxSeg))
	}
	var names []string
	pos := off + 1 // the offset of the current segment
	rest := path[1:]
	for {
		s, more := rest, false
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			s, rest, more = rest[:i], rest[i+1:], true
		}
		for k := 0; k < len(s); k++ {
			if c := s[k]; c < 0x21 || c >= 0x7f {
				return fail(pos+k, "byte "+strconv.QuoteRune(rune(c))+" is not printable ASCII")
			}
		}
		switch {
		case s == "" && !more:
			segs = append(segs, patSeg{kind: segMulti})
			return method, path, segs, nil
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if name == "$" {
				if more {
					return fail(pos, "{$} must end the pattern")
				}
				segs = append(segs, patSeg{kind: segLit, text: ""})
				return method, path, segs, nil
			}
			kind := segWild
			if n, ok := strings.CutSuffix(name, "..."); ok {
				if more {
					return fail(pos, "a {name...} wildcard must end the pattern")
				}
				name, kind = n, segMulti
			}
			if !isWildcardName(name) {
				return fail(pos+1, "bad wildcard name "+strconv.Quote(name))
			}
			if slices.Contains(names, name) {
				return fail(pos+1, "duplicate wildcard name "+strconv.Quote(name))
			}
			names = append(names, name)
			segs = append(segs, patSeg{kind: kind})
		default:
			if i := strings.IndexAny(s, "{}"); i >= 0 {
				return fail(pos+i, "a wildcard must be a whole segment")
			}
			segs = append(segs, patSeg{kind: segLit, text: s})
		}
		if !more {
			return method, path, segs, nil
		}
		pos += len(s) + 1
	}
}

// isWildcardName reports whether s is a Go identifier, as ServeMux wants.
func isWildcardName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == utf8.RuneError {
			return false
		}
		if !unicode.IsLetter(r) && r != '_' && (i == 0 || !unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c may be in an HTTP method (RFC 9110 tchar).
func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// segs holds the positions of the first slashes of a path: slash[d] is the
// index of the '/' before segment d, for d < n.
type segs struct {
	slash [MaxMaxSegments + 1]int32
	n     int
}

// match returns the index of the first pattern that matches (method, path),
// or -1. path begins with '/'.
func (t *Templater) match(method, path []byte) int {
	var s segs
	s.slash[0] = 0
	s.n = 1
	for s.n <= t.depth {
		p := int(s.slash[s.n-1]) + 1
		i := bytes.IndexByte(path[p:], '/')
		if i < 0 {
			break
		}
		s.slash[s.n] = int32(p + i)
		s.n++
	}
	best := t.walk(0, method, path, &s, 0, int32(len(t.patterns)))
	if int(best) == len(t.patterns) {
		return -1
	}
	return int(best)
}

// walk returns the least index below best of a pattern that matches the
// path from segment d on, having reached node n; or best.
func (t *Templater) walk(n int32, method, path []byte, s *segs, d int, best int32) int32 {
	nd := &t.nodes[n]
	if nd.min >= best {
		return best
	}
	if d == s.n {
		return pickTerm(nd.end, method, best)
	}
	best = pickTerm(nd.multi, method, best)
	from := int(s.slash[d]) + 1
	to := len(path)
	if d+1 < s.n {
		to = int(s.slash[d+1])
	}
	seg := path[from:to]
	if len(seg) <= t.maxLit {
		if nd.lit != nil {
			if c, ok := nd.lit[string(seg)]; ok {
				best = t.walk(c, method, path, s, d+1, best)
			}
		} else {
			for i, key := range nd.keys {
				if key == string(seg) {
					best = t.walk(nd.kids[i], method, path, s, d+1, best)
					break
				}
			}
		}
	}
	if nd.wild != 0 && len(seg) > 0 {
		best = t.walk(nd.wild, method, path, s, d+1, best)
	}
	return best
}

// pickTerm returns the least index below best in list whose method matches,
// or best. A GET pattern matches HEAD too, as in ServeMux.
func pickTerm(list []term, method []byte, best int32) int32 {
	for _, e := range list {
		if e.idx < best && (e.method == "" || e.method == string(method) ||
			e.method == "GET" && string(method) == "HEAD") {
			best = e.idx
		}
	}
	return best
}
