package keyed_test

import (
	"cmp"
	"fmt"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/keyed"
)

// Hits is what the example keeps per path.
type Hits struct{ Requests, Bytes int64 }

// Example counts requests and bytes per path in a Table of at most 2
// paths: /a and /b take the two entries, /c comes when the table is full
// and is counted in other, so the totals stay exact.
func Example() {
	paths, err := keyed.New(keyed.Config[Hits]{
		MaxEntries: 2,
		Merge:      func(into, from *Hits) { into.Requests += from.Requests; into.Bytes += from.Bytes },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var p ingest.Parser
	var r ingest.Request
	for _, line := range []string{
		`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 200 100 "-" "curl/8.5"`,
		`203.0.113.7 - - [10/Oct/2026:13:55:37 +0000] "GET /b HTTP/1.1" 200 20 "-" "curl/8.5"`,
		`203.0.113.7 - - [10/Oct/2026:13:55:38 +0000] "GET /a?x=1 HTTP/1.1" 200 100 "-" "curl/8.5"`,
		`203.0.113.7 - - [10/Oct/2026:13:55:39 +0000] "GET /c HTTP/1.1" 404 3 "-" "curl/8.5"`,
	} {
		if p.Parse(&r, []byte(line)) != nil {
			continue
		}
		// r.Path is a view into line: the Table copies a key it keeps.
		paths.Update(r.Path, func(h *Hits) { h.Requests++; h.Bytes += r.BodyBytesSent })
	}
	top, other := paths.Top(nil, 10, func(a, b *Hits) int { return cmp.Compare(b.Requests, a.Requests) })
	for _, e := range top {
		fmt.Println(e.Key, e.Value.Requests, e.Value.Bytes)
	}
	fmt.Println("other", other.Requests, other.Bytes)
	// Output:
	// /a 2 200
	// /b 1 20
	// other 1 3
}
