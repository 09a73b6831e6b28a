package route

// Explanation says how a Templater made a route, for a debugging endpoint.
// It encodes as JSON.
type Explanation struct {
	// Route is the route, as Append and Route give it.
	Route string `json:"route"`
	// Rule is "pattern" when a pattern gave the route, "segments" when the
	// path's segments did (with the automatic classes, unless switched
	// off), and "other" when the path is not a path.
	Rule string `json:"rule"`
	// Pattern is the matching pattern as written, with its method, and
	// PatternIndex its index in Config.Patterns; -1 when no pattern
	// matched.
	Pattern      string `json:"pattern,omitempty"`
	PatternIndex int    `json:"pattern_index"`
	// Segments lists, when Rule is "segments", each segment of the path
	// and what became of it.
	Segments []Segment `json:"segments,omitempty"`
}

// Segment is one path segment in an Explanation.
type Segment struct {
	// Text is the segment as written, cut to its first MaxRouteLen bytes;
	// for Class "rest", the rest of the path, cut the same way.
	Text string `json:"text"`
	// Class is "literal" (kept as written), "id", "uuid", "hex", "token",
	// "email", or "rest" when the route was cut there.
	Class string `json:"class"`
	// Cut says, for Class "rest", why the route was cut: "max_segments",
	// "max_route_len", "max_class_len" or "not_printable".
	Cut string `json:"cut,omitempty"`
}

// Explain returns how the route of (method, path) is made: the pattern that
// matched, or each segment's class, or that the path is not a path. It
// allocates; its Route equals Route's.
func (t *Templater) Explain(method, path []byte) Explanation {
	if len(path) == 0 || path[0] != '/' {
		return Explanation{Route: Other, Rule: "other", PatternIndex: -1}
	}
	if len(t.nodes) > 0 {
		if i := t.match(method, path); i >= 0 {
			return Explanation{Route: t.routes[i], Rule: "pattern", Pattern: t.patterns[i], PatternIndex: i}
		}
	}
	r, kept, why := t.appendSegments(nil, path)
	ex := Explanation{Route: string(r), Rule: "segments", PatternIndex: -1}
	var spans [MaxMaxSegments]span
	split(path, t.maxSeg, &spans)
	j := 1
	for _, sp := range spans[:kept] {
		k := int(sp.end)
		ex.Segments = append(ex.Segments, Segment{Text: clip(path[j:k]), Class: className[t.class(path[j:k], sp.mask)]})
		j = k + 1
	}
	if why != cutNone {
		ex.Segments = append(ex.Segments, Segment{Text: clip(path[j:]), Class: "rest", Cut: why.String()})
	}
	return ex
}

// clip returns a copy of b's first MaxRouteLen bytes.
func clip(b []byte) string {
	return string(b[:min(len(b), MaxRouteLen)])
}
