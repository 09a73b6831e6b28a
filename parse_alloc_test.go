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

func TestCompiledNoAllocs(t *testing.T) {
	cases := []struct {
		name    string
		format  *Format
		fixture string
	}{
		{"combined-short", mustNginx(t, nginxCombined), "short"},
		{"combined-path2k", mustNginx(t, nginxCombined), "path2k"},
		{"combined-rfc3164", mustNginx(t, nginxCombined), "rfc3164"},
		{"upstreaminfo", mustNginx(t, upstreamInfo), "upstreaminfo"},
		{"json", mustNginx(t, nginxJSON), "json"},
	}
	for _, c := range cases {
		line := readFixture(t, c.fixture)
		p := Parser{Format: c.format}
		var r Request
		testAllocs(t, c.name, func() { sinkErr = p.Parse(&r, line) })
		if sinkErr != nil {
			t.Fatalf("%s: %v", c.name, sinkErr)
		}
	}
	// Failing lines, reading variables, and unescaping into a buffer with room.
	p := Parser{Format: mustNginx(t, upstreamInfo)}
	var r Request
	bad := [][]byte{
		[]byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-" 1 x [u] [] a 1 0.1 200 id`),
		[]byte(`203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "-" 1`),
		[]byte(`{"x":1}`),
	}
	i := 0
	testAllocs(t, "errors", func() {
		sinkErr = p.Parse(&r, bad[i%len(bad)])
		i++
	})
	if sinkErr == nil {
		t.Fatal("bad line parsed")
	}
	line := readFixture(t, "upstreaminfo")
	if err := p.Parse(&r, line); err != nil {
		t.Fatal(err)
	}
	n := 0
	testAllocs(t, "Var and Vars", func() {
		n = len(r.Var("upstream_addr"))
		for _, v := range r.Vars() {
			n += len(v)
		}
	})
	if n == 0 {
		t.Fatal("no variables read")
	}
	buf := make([]byte, 0, 1024)
	testAllocs(t, "AppendUnescapedJSON", func() { buf = AppendUnescapedJSON(buf[:0], `say \"hi\" \u00e9\ud83d\ude00`) })
	testAllocs(t, "AppendJSON", func() { buf = r.AppendJSON(buf[:0]) })
}
