package route

// AppendMatch appends the route of (method, path) to dst, as Append does,
// and reports whether one of the Templater's patterns gave it: a route that
// an operator wrote down, as opposed to one the automatic classes made
// from the path. It does not allocate when dst has room for MaxRouteLen
// more bytes, and it retains neither method nor path.
func (t *Templater) AppendMatch(dst, method, path []byte) (route []byte, pattern bool) {
	if len(path) == 0 || path[0] != '/' {
		return append(dst, Other...), false
	}
	if len(t.nodes) > 0 {
		if i := t.match(method, path); i >= 0 {
			return append(dst, t.routes[i]...), true
		}
	}
	dst, _, _ = t.appendSegments(dst, path)
	return dst, false
}
