package ingest_test

import (
	"fmt"

	"github.com/flatheap/ingest"
)

// A daemon keeps the user agent of each slow request it reports: the
// interned string pins nothing of the line it came from, and a value seen
// again is stored once and returned without a copy. InternStored says
// which calls returned the stored string. (To count per key, use a
// keyed.Table.)
func ExampleInterner() {
	agents := ingest.NewInterner(ingest.InternerConfig{MaxEntries: 1024, MaxLen: 256})
	var slow []string
	for _, ua := range []string{"curl/8.5", "curl/8.5", "Mozilla/5.0", "curl/8.5"} {
		line := []byte(ua) // a view into a receive buffer, in a daemon
		s, stored := agents.InternStored(line)
		slow = append(slow, s)
		fmt.Println(s, stored)
	}
	st := agents.Stats()
	fmt.Println(len(slow), "kept;", st.Entries, "stored")
	// Output:
	// curl/8.5 false
	// curl/8.5 true
	// Mozilla/5.0 false
	// curl/8.5 true
	// 4 kept; 1 stored
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
