package route

import (
	"regexp"
	"strings"
	"testing"
)

// The reference below is a slow, direct reading of the rules: patterns tried
// one by one in order on split strings, and classes by regular expressions.
// The Templater must agree with it on every input.

var (
	refUUID   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	refHex    = regexp.MustCompile(`^[0-9a-fA-F]{12,}$`)
	refLocal  = regexp.MustCompile(`^[A-Za-z0-9._%+-]{1,64}$`)
	refDomain = regexp.MustCompile(`^([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$`)
	refToken  = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)?={0,2}$`)
	refDigit  = regexp.MustCompile(`[0-9]`)
	refLower  = regexp.MustCompile(`[a-z]`)
	refUpper  = regexp.MustCompile(`[A-Z]`)
	refLetter = regexp.MustCompile(`[a-fA-F]`)
	refSlug   = regexp.MustCompile(`^([A-Z]?[a-z]*|[A-Z]*)[0-9]*([-_]([A-Z]?[a-z]*|[A-Z]*)[0-9]*)*$`)
	refLowID  = regexp.MustCompile(`^[a-z0-9]+$`)
	refUpID   = regexp.MustCompile(`^[A-Z0-9]+$`)
)

func refClass(s string) string {
	switch {
	case s == "":
		return s
	case strings.Trim(s, "0123456789") == "":
		return "{id}"
	case refUUID.MatchString(s):
		return "{uuid}"
	case refHex.MatchString(s) && refDigit.MatchString(s) && refLetter.MatchString(s):
		return "{hex}"
	}
	if len(s) <= 254 {
		at, sep := strings.IndexByte(s, '@'), 1
		if i := strings.Index(s, "%40"); i >= 0 && (at < 0 || i < at) {
			at, sep = i, 3
		}
		if at >= 0 && refLocal.MatchString(s[:at]) && refDomain.MatchString(s[at+sep:]) {
			return "{email}"
		}
	}
	if len(s) >= 16 && refToken.MatchString(s) && refDigit.MatchString(s) && refLower.MatchString(s) && refUpper.MatchString(s) {
		body := strings.TrimSuffix(strings.TrimSuffix(s, "="), "=")
		if strings.Contains(body, ".") && strings.HasPrefix(body, "eyJ") ||
			!strings.Contains(body, ".") && !refSlug.MatchString(body) {
			return "{token}"
		}
	}
	if len(s) >= 20 && (refLowID.MatchString(s) || refUpID.MatchString(s)) && refDigit.MatchString(s) &&
		(refLower.MatchString(s) || refUpper.MatchString(s)) && !refSlug.MatchString(s) {
		return "{token}"
	}
	return s
}

func refPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func refSegments(path string, maxSeg int, auto bool) string {
	segs := strings.Split(path[1:], "/")
	out := ""
	for i, s := range segs {
		last := i == len(segs)-1
		if i == maxSeg-1 && !last || len(s) > MaxClassLen || !refPrintable(s) {
			return out + "/{rest...}"
		}
		text := s
		if auto {
			text = refClass(s)
		}
		room := MaxRouteLen - len("/{rest...}")
		if last {
			room = MaxRouteLen
		}
		if len(out)+1+len(text) > room {
			return out + "/{rest...}"
		}
		out += "/" + text
	}
	return out
}

// refMatch reports whether pattern p matches (method, path).
func refMatch(p, method, path string) bool {
	pm := ""
	if !strings.HasPrefix(p, "/") {
		i := strings.IndexAny(p, " \t")
		pm, p = p[:i], strings.TrimLeft(p[i:], " \t")
	}
	if pm != "" && pm != method && !(pm == "GET" && method == "HEAD") {
		return false
	}
	ps := strings.Split(p[1:], "/")
	xs := strings.Split(path[1:], "/")
	for k, s := range ps {
		last := k == len(ps)-1
		if last && (s == "" || strings.HasSuffix(s, "...}")) {
			return len(xs) > k
		}
		if k >= len(xs) {
			return false
		}
		switch {
		case s == "{$}":
			return xs[k] == "" && len(xs) == k+1
		case strings.HasPrefix(s, "{"):
			if xs[k] == "" {
				return false
			}
		case xs[k] != s:
			return false
		}
	}
	return len(xs) == len(ps)
}

func refRoute(cfg Config, method, path string) string {
	if !strings.HasPrefix(path, "/") {
		return Other
	}
	for _, p := range cfg.Patterns {
		if refMatch(p, method, path) {
			if strings.HasPrefix(p, "/") {
				return p
			}
			return strings.TrimLeft(p[strings.IndexAny(p, " \t"):], " \t")
		}
	}
	maxSeg := cfg.MaxSegments
	if maxSeg <= 0 {
		maxSeg = DefaultMaxSegments
	}
	return refSegments(path, min(maxSeg, MaxMaxSegments), !cfg.NoAutoClasses)
}

// fuzzPatterns are pattern sets the fuzz target picks from; set 0 is none.
var fuzzPatterns = [][]string{
	nil,
	{"GET /health", "/users/{id}/orders/{order}", "/users/me/{x}", "/users/{id}", "/static/{f...}",
		"POST /api/", "/api/v1/{$}", "/{a}/{b}/c", "/a/{b}/{c}", "HEAD /a/b/c", "/{$}"},
	{"/", "/a/"},
	{"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", "/x/{y...}", "DELETE /x"},
}

func FuzzRoute(f *testing.F) {
	f.Add("GET", "/users/84213/orders/9f1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a10", uint8(0), "")
	f.Add("GET", "/users/me/orders/7", uint8(1), "")
	f.Add("HEAD", "/health", uint8(1), "")
	f.Add("", "/a/b/c", uint8(1), "")
	f.Add("POST", "/api/v1/", uint8(1), "/api/{x}\nGET /api/v1/{y...}")
	f.Add("", "//x//", uint8(2), "")
	f.Add("PUT", "/1/2/3/4/5/6/7/8/9", uint8(3), "")
	f.Add("GET", "/a/jane%40example.com/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJ", uint8(0), "")
	f.Add("", "*", uint8(0), "")
	f.Add("GET", "/App.3f9a8b7c1d2e.js/Getting-Started-With-Go-2024/01ARZ3NDEKTSV4RRFFQ69G5FAV", uint8(0), "")
	f.Add("", "/"+strings.Repeat("ab3/", 600), uint8(4), "/{a...}")
	f.Fuzz(func(t *testing.T, method, path string, sel uint8, extra string) {
		cfg := Config{
			Patterns:      fuzzPatterns[int(sel)%len(fuzzPatterns)],
			NoAutoClasses: sel&0x40 != 0,
			MaxSegments:   int(sel>>4) % 5 * 3, // 0 (the default), 3, 6, 9, 12
		}
		if extra != "" {
			cfg.Patterns = append(append([]string(nil), cfg.Patterns...), strings.Split(extra, "\n")...)
		}
		tp, err := New(cfg)
		if err != nil {
			if _, ok := err.(*PatternError); !ok {
				t.Fatalf("New: %T %v", err, err)
			}
			return
		}
		m, p := []byte(method), []byte(path)
		got := string(tp.Append(nil, m, p))
		if len(got) > MaxRouteLen {
			t.Fatalf("route of %d bytes: %q", len(got), got)
		}
		if n := strings.Count(got, "/"); n > tp.MaxSegments() {
			t.Fatalf("route with %d segments, MaxSegments %d: %q", n, tp.MaxSegments(), got)
		}
		if !refPrintable(got) {
			t.Fatalf("route not printable ASCII: %q", got)
		}
		if want := refRoute(cfg, method, path); got != want {
			t.Fatalf("Append(%q, %q) = %q, reference %q", method, path, got, want)
		}
		if again := string(tp.Append(nil, m, p)); again != got {
			t.Fatalf("second Append = %q, first %q", again, got)
		}
		if r := tp.Route(m, p); r != got {
			t.Fatalf("Route = %q, Append %q", r, got)
		}
		fresh, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if r := string(fresh.Append(nil, m, p)); r != got {
			t.Fatalf("a fresh Templater gives %q, want %q", r, got)
		}
		if ex := tp.Explain(m, p); ex.Route != got {
			t.Fatalf("Explain.Route = %q, want %q", ex.Route, got)
		}
	})
}
