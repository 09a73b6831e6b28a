package ingest_test

import (
	"fmt"
	"maps"
	"slices"

	"github.com/flatheap/ingest"
)

// A daemon counts requests per path. The counters map is keyed by interned
// strings, so a key pins nothing of the line it came from, and it holds at
// most maxKeys paths: once it is full, new paths are counted under
// "<other>". The Interner bounds the strings; maxKeys bounds the map.
func ExampleInterner() {
	lines := []string{
		`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 200 12 "-" "curl/8.5"`,
		`203.0.113.7 - - [10/Oct/2026:13:55:37 +0000] "GET /b HTTP/1.1" 200 12 "-" "curl/8.5"`,
		`203.0.113.7 - - [10/Oct/2026:13:55:38 +0000] "GET /a HTTP/1.1" 200 12 "-" "curl/8.5"`,
		`203.0.113.7 - - [10/Oct/2026:13:55:39 +0000] "GET /c?x=1 HTTP/1.1" 200 12 "-" "curl/8.5"`,
		`203.0.113.7 - - [10/Oct/2026:13:55:40 +0000] "GET /d HTTP/1.1" 404 0 "-" "curl/8.5"`,
		`203.0.113.7 - - [10/Oct/2026:13:55:41 +0000] "GET /e HTTP/1.1" 404 0 "-" "curl/8.5"`,
		`203.0.113.7 - - [10/Oct/2026:13:55:42 +0000] "GET /a HTTP/1.1" 200 12 "-" "curl/8.5"`,
	}
	const maxKeys = 3
	paths := ingest.NewInterner(ingest.InternerConfig{MaxEntries: 1024, MaxLen: 256})
	counts := make(map[string]*int, maxKeys+1)

	var p ingest.Parser
	var r ingest.Request
	for _, line := range lines {
		if err := p.Parse(&r, []byte(line)); err != nil {
			continue
		}
		// A path already counted is found without allocating.
		if n := counts[string(r.Path)]; n != nil {
			*n++
			continue
		}
		key := "<other>"
		if len(counts) < maxKeys {
			key = paths.Intern(r.Path)
		}
		if counts[key] == nil {
			counts[key] = new(int)
		}
		*counts[key]++
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Println(k, *counts[k])
	}
	// Output:
	// /a 3
	// /b 1
	// /c 1
	// <other> 2
}

// A handler keeps a request beyond its call: Clone copies it into one
// buffer that nothing else references, and Release returns the buffer.
func ExampleRequest_Clone() {
	var p ingest.Parser
	var r ingest.Request
	line := []byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /slow HTTP/1.1" 200 12 "-" "curl/8.5"`)
	if err := p.Parse(&r, line); err != nil {
		panic(err)
	}
	kept := r.Clone()
	copy(line, "the buffer is reused for the next datagram")
	fmt.Printf("%s %s\n", kept.Method, kept.Path)
	kept.Release() // kept and its slices must not be used after this
	// Output: GET /slow
}
