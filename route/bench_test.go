package route

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

// shortPath is 40 bytes with two ID segments.
const shortPath = "/api/v2/users/84213/orders/1234567/items"

// patternPath is matched by pattern 137 of benchPatterns(200).
const patternPath = "/api/v1/svc137/items/84213/detail"

// junk2k is a 2 KiB path of the kind `ingest send --path-length 2048`
// makes: lowercase letters and digits in segments of 3 to 10 bytes.
var junk2k = func() []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	p := make([]byte, 2048)
	s := uint64(1)
	seg := 0
	for i := range p {
		s = s*6364136223846793005 + 1442695040888963407
		if i == 0 || seg >= 3 && (seg >= 10 || s>>60 < 4) {
			p[i] = '/'
			seg = 0
			continue
		}
		p[i] = alphabet[(s>>33)%uint64(len(alphabet))]
		seg++
	}
	return p
}()

// noSlash2k is a 2 KiB path of one segment of letters and digits.
var noSlash2k = func() []byte {
	p := bytes.Repeat([]byte("q7x9k2m4"), 256)
	p[0] = '/'
	return p
}()

// benchPatterns returns n patterns of the shape of a service's API.
func benchPatterns(n int) []string {
	ps := make([]string, 0, n)
	for i := range n {
		s := strconv.Itoa(i)
		switch i % 4 {
		case 0:
			ps = append(ps, "GET /api/v1/svc"+s+"/items")
		case 1:
			ps = append(ps, "/api/v1/svc"+s+"/items/{id}/detail")
		case 2:
			ps = append(ps, "/api/v2/svc"+s+"/{user}/orders/{order}")
		case 3:
			ps = append(ps, "/api/v1/svc"+s+"/files/{path...}")
		}
	}
	return ps
}

func BenchmarkRoute(b *testing.B) {
	auto, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	pats, err := New(Config{Patterns: benchPatterns(200)})
	if err != nil {
		b.Fatal(err)
	}
	get := []byte("GET")
	cases := []struct {
		name string
		tp   *Templater
		path []byte
		want string
	}{
		{"short", auto, []byte(shortPath), "/api/v2/users/{id}/orders/{id}/items"},
		{"junk2k", auto, junk2k, string(auto.Append(nil, nil, junk2k))},
		{"noslash2k", auto, noSlash2k, "/{rest...}"},
		{"patterns200", pats, []byte(patternPath), "/api/v1/svc137/items/{id}/detail"},
	}
	if len(shortPath) != 40 || len(junk2k) != 2048 {
		b.Fatal("fixture sizes")
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.path)))
			dst := make([]byte, 0, MaxRouteLen)
			for b.Loop() {
				dst = c.tp.Append(dst[:0], get, c.path)
				if string(dst) != c.want {
					b.Fatalf("route %q, want %q", dst, c.want)
				}
			}
		})
	}
	b.Run("indexbyte2k", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(junk2k)))
		for b.Loop() {
			if bytes.IndexByte(junk2k, '?') != -1 {
				b.Fatal("found '?'")
			}
		}
	})
}

// BenchmarkRouteString is Route, which returns an interned string.
func BenchmarkRouteString(b *testing.B) {
	auto, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	get := []byte("GET")
	p := []byte(shortPath)
	want := "/api/v2/users/{id}/orders/{id}/items"
	b.Run("short", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(p)))
		for b.Loop() {
			if auto.Route(get, p) != want {
				b.Fatal("wrong route")
			}
		}
	})
	b.Run("short-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(p)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if auto.Route(get, p) != want {
					panic("wrong route")
				}
			}
		})
	})
}

// BenchmarkRouteRatio times Append on junk2k and one bytes.IndexByte pass
// over the same path in alternating chunks, so that both see the same
// machine, and reports their ratio: the target is at most 2.
func BenchmarkRouteRatio(b *testing.B) {
	tp, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	const chunk = 10000
	want := string(tp.Append(nil, nil, junk2k))
	get := []byte("GET")
	dst := make([]byte, 0, MaxRouteLen)
	var route, index time.Duration
	b.ReportAllocs()
	b.SetBytes(2 * int64(len(junk2k)) * chunk)
	for b.Loop() {
		t0 := time.Now()
		for range chunk {
			dst = tp.Append(dst[:0], get, junk2k)
		}
		t1 := time.Now()
		if string(dst) != want {
			b.Fatalf("route %q, want %q", dst, want)
		}
		for range chunk {
			if bytes.IndexByte(junk2k, '?') != -1 {
				b.Fatal("found '?'")
			}
		}
		index += time.Since(t1)
		route += t1.Sub(t0)
	}
	n := float64(b.N) * chunk
	b.ReportMetric(float64(route.Nanoseconds())/n, "ns/route")
	b.ReportMetric(float64(index.Nanoseconds())/n, "ns/indexbyte")
	b.ReportMetric(float64(route)/float64(index), "route/indexbyte")
}
