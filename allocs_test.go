//go:build !race

package ingest

import "testing"

// testAllocs fails the test when fn allocates on average.
func testAllocs(t *testing.T, name string, fn func()) {
	t.Helper()
	if n := testing.AllocsPerRun(100, fn); n != 0 {
		t.Errorf("%s: %v allocations per run, want 0", name, n)
	}
}

var sinkErr error

func TestParseNoAllocs(t *testing.T) {
	for _, name := range benchFixtures {
		line := readFixture(t, name)
		var p Parser
		var r Request
		testAllocs(t, name, func() { sinkErr = p.Parse(&r, line) })
		if sinkErr != nil {
			t.Fatalf("%s: %v", name, sinkErr)
		}
	}
	// A new offset on every line: the zone cache fills once per offset.
	lines := [][]byte{
		[]byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0530] "GET / HTTP/1.1" 200 1 "-" "-"`),
		[]byte(`203.0.113.7 - - [10/Oct/2026:13:55:37 -0800] "GET / HTTP/1.1" 200 1 "-" "-"`),
		[]byte(`<190>1 2026-11-25T21:22:09Z web01 nginx 12 - [a b="c"] ` + "\xEF\xBB\xBF" + `203.0.113.7 - - [10/Oct/2026:13:55:38 +0100] "GET / HTTP/1.1" 200 1 "-" "-"`),
	}
	var p Parser
	var r Request
	i := 0
	testAllocs(t, "changing offsets", func() {
		sinkErr = p.Parse(&r, lines[i%len(lines)])
		i++
	})
	if sinkErr != nil {
		t.Fatal(sinkErr)
	}
	// Failing lines do not allocate either.
	bad := [][]byte{
		[]byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 2000 1 "-" "-"`),
		[]byte(`<190>Oct 10 13:55:36 web01 nginx:`),
		[]byte(``),
		[]byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /`),
	}
	testAllocs(t, "errors", func() {
		sinkErr = p.Parse(&r, bad[i%len(bad)])
		i++
	})
	if sinkErr == nil {
		t.Fatal("bad line parsed")
	}
	testAllocs(t, "ErrorReason", func() { sinkString = ErrorReason(sinkErr) })
}

var sinkString string
