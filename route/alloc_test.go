//go:build !race

package route

import (
	"strings"
	"testing"
)

var sinkString string

func testAllocs(t *testing.T, name string, fn func()) {
	t.Helper()
	if n := testing.AllocsPerRun(100, fn); n != 0 {
		t.Errorf("%s: %v allocations per run, want 0", name, n)
	}
}

func TestNoAllocs(t *testing.T) {
	tp := mustNew(t, Config{Patterns: benchPatterns(200)})
	auto := mustNew(t, Config{})
	buf := make([]byte, 0, MaxRouteLen)
	get := []byte("GET")
	cases := map[string][]byte{
		"short":       []byte(shortPath),
		"junk2k":      junk2k,
		"noslash2k":   noSlash2k,
		"patterns200": []byte(patternPath),
		"other":       []byte("*"),
		"classes":     []byte("/a/9f1c0b7e-3c1a-4f0e-9d0b-2a6c1e5f7a10/3f9a8b7c1d2e/jane%40example.com/dGhpcyBpcyBhIHRva2Vu"),
		"long":        []byte("/" + strings.Repeat("abcdefghij", 30)),
	}
	for name, p := range cases {
		for _, x := range []*Templater{tp, auto} {
			testAllocs(t, "Append "+name, func() { buf = x.Append(buf[:0], get, p) })
			x.Route(get, p) // the interner keeps a route from its second sighting
			x.Route(get, p)
			testAllocs(t, "Route "+name, func() { sinkString = x.Route(get, p) })
		}
	}
}
