//go:build !race

package route

import "testing"

func TestAppendMatchNoAllocs(t *testing.T) {
	tp := mustNew(t, Config{Patterns: benchPatterns(200)})
	buf := make([]byte, 0, MaxRouteLen)
	get := []byte("GET")
	for _, p := range [][]byte{[]byte(shortPath), junk2k, []byte(patternPath), []byte("*")} {
		testAllocs(t, "AppendMatch", func() { buf, _ = tp.AppendMatch(buf[:0], get, p) })
	}
}
