package ingest

import (
	"bytes"
	"os"
	"testing"
	"time"
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

// benchAlternating parses line with p in chunks of 20,000 lines, calling
// set(p, false) before even chunks and set(p, true) before odd ones, and
// reports the time per line of each side (<off>-ns/line, <on>-ns/line) and
// their ratio (<on>/<off>). Alternating within one process cancels the
// drift in machine speed that comparing two runs would measure along with
// the code: on a shared VM the same binary's speed moves by a third within
// minutes.
func benchAlternating(b *testing.B, p *Parser, line []byte, set func(p *Parser, on bool), off, on string) {
	const chunk = 20000
	var r Request
	var spent [2]time.Duration
	var lines [2]int
	for i := 0; b.Loop(); i++ {
		side := i % 2
		set(p, side == 1)
		start := time.Now()
		for range chunk {
			if err := p.Parse(&r, line); err != nil || r.Status != 200 {
				b.Fatalf("parse: err=%v status=%d", err, r.Status)
			}
		}
		spent[side] += time.Since(start)
		lines[side] += chunk
	}
	if lines[0] == 0 || lines[1] == 0 {
		return // b.Loop's first, single iteration
	}
	offNs := float64(spent[0].Nanoseconds()) / float64(lines[0])
	onNs := float64(spent[1].Nanoseconds()) / float64(lines[1])
	b.ReportMetric(offNs, off+"-ns/line")
	b.ReportMetric(onNs, on+"-ns/line")
	b.ReportMetric(onNs/offNs, on+"/"+off)
}

// BenchmarkParseCompiledRatio measures the compiled nginx combined format
// against the hand-written parser on the same lines, alternating the two in
// one process (benchAlternating): the compiled/hand metric is the ratio
// that separate rows of BenchmarkParse, a minute apart, cannot give on a
// machine whose speed drifts.
func BenchmarkParseCompiledRatio(b *testing.B) {
	combined, err := CompileNginx(nginxCombined)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"short", "path2k"} {
		line := readFixture(b, name)
		b.Run(name, func(b *testing.B) {
			benchAlternating(b, new(Parser), line, func(p *Parser, compiled bool) {
				p.Format = nil
				if compiled {
					p.Format = combined
				}
			}, "hand", "compiled")
		})
	}
}
