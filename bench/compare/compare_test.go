package compare

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is one line from ../../testdata, without its line ending.
type fixture struct {
	name   string
	syslog bool // the line has an RFC 3164 header
	line   []byte
}

// fixtures are named after their files: short.log holds a ~240-byte combined
// line, path2k.log the same with a 2,048-byte path, and the rfc3164 files the
// same two inside nginx's syslog header.
var fixtures = []fixture{
	{name: "short"},
	{name: "path2k"},
	{name: "rfc3164", syslog: true},
	{name: "rfc3164-path2k", syslog: true},
}

func loadFixtures(tb testing.TB) []fixture {
	tb.Helper()
	fs := make([]fixture, len(fixtures))
	for i, f := range fixtures {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", f.name+".log"))
		if err != nil {
			tb.Fatal(err)
		}
		f.line = bytes.TrimRight(b, "\r\n")
		if len(f.line) == 0 || bytes.IndexByte(f.line, '\n') >= 0 {
			tb.Fatalf("%s: want exactly one line", f.name)
		}
		fs[i] = f
	}
	return fs
}

// BenchmarkCompare runs every peer that can parse a fixture on it, as
// BenchmarkCompare/<fixture>/<peer>. Each iteration checks the peer's
// result against the regexp baseline's (lengths and status, to keep the
// check cheap), so a peer that stops parsing fails instead of posting a
// good number. TestPeersAgree checks the full values.
func BenchmarkCompare(b *testing.B) {
	for _, f := range loadFixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			var want result
			if err := newRegexp(b)(f.line, &want); err != nil {
				b.Fatalf("reference parse: %v", err)
			}
			for _, p := range peers {
				if !p.runsOn(f) {
					continue
				}
				b.Run(p.name, func(b *testing.B) {
					parse := p.newParse(b)
					var r result
					b.ReportAllocs()
					b.SetBytes(int64(len(f.line)))
					for b.Loop() {
						if err := parse(f.line, &r); err != nil {
							b.Fatal(err)
						}
						if !sameShape(&r, &want, p.headerOnly) {
							b.Fatalf("result differs from the regexp baseline: %s", strings.Join(diff(&r, &want, p.headerOnly), "; "))
						}
					}
				})
			}
		})
	}
}

// sameShape is the per-iteration check: cheap comparisons that fail when a
// peer misses or misplaces a field.
func sameShape(got, want *result, headerOnly bool) bool {
	if got.hasHeader != want.hasHeader || len(got.msg) != len(want.msg) || len(got.host) != len(want.host) {
		return false
	}
	if headerOnly {
		return got.pri == want.pri && len(got.tag) == len(want.tag)
	}
	return got.status == want.status && len(got.path) == len(want.path) && len(got.ua) == len(want.ua)
}

// TestPeersAgree checks that every peer extracts the same values as ingest
// from every fixture it runs on, parsing each fixture twice in a row to
// catch state carried over between calls, so no peer is measured doing less.
func TestPeersAgree(t *testing.T) {
	fs := loadFixtures(t)
	parsers := make([]parseFunc, len(peers))
	for i, p := range peers {
		parsers[i] = p.newParse(t)
	}
	for _, f := range fs {
		var want result
		if err := parsers[0](f.line, &want); err != nil {
			t.Fatalf("%s: ingest: %v", f.name, err)
		}
		if want.status != 200 || len(want.path) < 2 || want.path[0] != '/' || want.ua == "" || want.hasHeader != f.syslog {
			t.Fatalf("%s: ingest result is not plausible: %+v", f.name, want)
		}
		ran := 0
		for i, p := range peers[1:] {
			if !p.runsOn(f) {
				continue
			}
			ran++
			for pass := 1; pass <= 2; pass++ {
				var got result
				if err := parsers[i+1](f.line, &got); err != nil {
					t.Errorf("%s/%s pass %d: %v", f.name, p.name, pass, err)
					continue
				}
				for _, d := range diff(&got, &want, p.headerOnly) {
					t.Errorf("%s/%s pass %d: %s", f.name, p.name, pass, d)
				}
			}
		}
		if ran < 3 {
			t.Errorf("%s: only %d peers besides ingest", f.name, ran)
		}
	}
}

// diff lists the fields where got and want differ: the syslog header for
// header-only peers, the access fields (and the header, if any) for the rest.
func diff(got, want *result, headerOnly bool) []string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %.80q, want %.80q", name, g, w))
		}
	}
	num := func(name string, g, w int64) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %d, want %d", name, g, w))
		}
	}
	if got.hasHeader != want.hasHeader {
		d = append(d, fmt.Sprintf("hasHeader = %v, want %v", got.hasHeader, want.hasHeader))
	}
	if want.hasHeader {
		num("pri", int64(got.pri), int64(want.pri))
		str("host", got.host, want.host)
		str("tag", got.tag, want.tag)
		str("procID", got.procID, want.procID)
		str("msg", got.msg, want.msg)
	}
	if headerOnly {
		return d
	}
	str("addr", got.addr, want.addr)
	str("user", got.user, want.user)
	if !got.time.Equal(want.time) {
		d = append(d, fmt.Sprintf("time = %v, want %v", got.time, want.time))
	}
	str("method", got.method, want.method)
	str("path", got.path, want.path)
	str("query", got.query, want.query)
	str("proto", got.proto, want.proto)
	num("status", int64(got.status), int64(want.status))
	num("bytes", got.bytes, want.bytes)
	str("referer", got.referer, want.referer)
	str("ua", got.ua, want.ua)
	return d
}
