package ingest

import (
	"bytes"
	"os"
	"testing"
)

// benchFixtures are the lines BenchmarkParse runs, one per file in testdata/:
//
//	short           an nginx combined line of 241 bytes
//	path2k          the same line with a 2,048-byte path
//	rfc3164         short inside "<190>Oct 10 13:55:36 web01 nginx: "
//	rfc3164-path2k  path2k inside the same header
//	upstreaminfo    short with the fields ingress-nginx's upstreaminfo format adds
//	json            the same request in an escape=json log_format (nginxJSON)
//
// FuzzParse and TestParseNoAllocs use the first four; the compiled formats
// use all six.
var benchFixtures = []string{"short", "path2k", "rfc3164", "rfc3164-path2k"}

// readFixture returns the first line of testdata/<name>.log without its
// line ending.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/" + name + ".log")
	if err != nil {
		tb.Fatal(err)
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return b
}

func BenchmarkParse(b *testing.B) {
	for _, name := range benchFixtures {
		line := readFixture(b, name)
		var p Parser
		var want Request
		if err := p.Parse(&want, line); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		wantPathLen := len(want.Path)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			var p Parser
			var r Request
			for b.Loop() {
				if err := p.Parse(&r, line); err != nil || r.Status != 200 || len(r.Path) != wantPathLen {
					b.Fatalf("parse: err=%v status=%d path=%d bytes", err, r.Status, len(r.Path))
				}
			}
		})
	}
	// Compiled formats: nginx's combined log_format on the same lines as
	// the hand-written parser above, then ingress-nginx's upstreaminfo and
	// an escape=json format.
	for _, c := range []struct {
		name, fixture, format, lastVar string
	}{
		{"compiled-combined-short", "short", nginxCombined, ""},
		{"compiled-combined-path2k", "path2k", nginxCombined, ""},
		{"compiled-upstreaminfo", "upstreaminfo", upstreamInfo, "req_id"},
		{"compiled-json", "json", nginxJSON, "http_x_forwarded_for"},
	} {
		format, err := CompileNginx(c.format)
		if err != nil {
			b.Fatal(err)
		}
		line := readFixture(b, c.fixture)
		var want Request
		if err := (&Parser{}).Parse(&want, readFixture(b, "short")); err != nil {
			b.Fatal(err)
		}
		if c.fixture == "path2k" {
			if err := (&Parser{}).Parse(&want, line); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			p := Parser{Format: format}
			var r Request
			for b.Loop() {
				if err := p.Parse(&r, line); err != nil || r.Status != 200 || len(r.Path) != len(want.Path) ||
					len(r.UserAgent) != len(want.UserAgent) || c.lastVar != "" && r.Var(c.lastVar) == nil {
					b.Fatalf("parse: err=%v status=%d path=%d bytes", err, r.Status, len(r.Path))
				}
			}
		})
	}
}

func BenchmarkParseParallel(b *testing.B) {
	for _, name := range benchFixtures {
		line := readFixture(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			b.RunParallel(func(pb *testing.PB) {
				var p Parser // per-goroutine state
				var r Request
				for pb.Next() {
					if err := p.Parse(&r, line); err != nil || r.Status != 200 {
						panic("parse failed")
					}
				}
			})
		})
	}
}
