package routemetrics

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzObserve feeds arbitrary labels and upstream values into a store of
// two keys, so that lines overflow into the catch-all series: nothing
// panics, the store stays within its budget, every line is counted once,
// the lines whose key was not created are the overflows, and the
// exposition is valid UTF-8 with one sample per line.
func FuzzObserve(f *testing.F) {
	f.Add([]byte("shop.example"), []byte("/users/{id}"), []byte("GET"), 200, []byte("0.002, 0.010 : 0.001"))
	f.Add([]byte("a\"b\\c\nd"), []byte("/x\xff"), []byte("BREW"), 1000, []byte("-"))
	f.Add([]byte{}, []byte{}, []byte{}, -1, []byte("-0.5"))
	f.Add(bytes.Repeat([]byte{0xc3}, 200), bytes.Repeat([]byte("/\xe2\x82"), 100), []byte("POST"), 503, []byte("999999999, 999999999"))
	f.Fuzz(func(t *testing.T, vhost, route, method []byte, status int, upstream []byte) {
		const maxSeries = 2
		// First come, first served: every route admitted on its first
		// line, none evicted (FuzzModel covers admission and eviction).
		s, err := New(Config{MaxSeries: maxSeries, AdmitAfter: 1, NoEviction: true})
		if err != nil {
			t.Fatal(err)
		}
		up, has, ok := parseUpstream(upstream)
		if ok && (up < 0 || has && up == 0 && bytes.ContainsAny(upstream, "123456789")) {
			t.Fatalf("parseUpstream(%q) = %v %v %v", upstream, up, has, ok)
		}
		// Five lines: two routes by two statuses, then the first key
		// again. A budget of two keys leaves room for one key with its
		// own route and the catch-all: every line of another key
		// overflows.
		const lines = 5
		var first []byte
		wantOverflows := 0
		for i := range lines {
			j := i % 4
			rt := append(route[:len(route):len(route)], byte('a'+j/2))
			o := &Observation{VHost: vhost, Route: rt, Method: method, Status: status + j%2,
				Upstream: up, HasUpstream: ok && has, Duration: time.Duration(status), HasDuration: true}
			key := s.appendKey(nil, o.VHost, o.Route, methodIndex(o.Method))
			key = append(key, byte(statusKey(o.Status)>>8), byte(statusKey(o.Status)))
			if i == 0 {
				first = key
			} else if !bytes.Equal(key, first) {
				wantOverflows++
			}
			s.Observe(o)
		}
		st := s.Stats()
		if st.Series > maxSeries || int(st.Overflows) != wantOverflows {
			t.Fatalf("%d series, %d overflows, want at most %d series and %d overflows",
				st.Series, st.Overflows, maxSeries, wantOverflows)
		}
		var b bytes.Buffer
		if err := s.WritePrometheus(&b); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if !utf8.ValidString(out) {
			t.Fatalf("exposition is not valid UTF-8")
		}
		var sum, series int
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if strings.HasPrefix(line, "http_requests_total{") {
				var n int
				for _, c := range line[strings.LastIndexByte(line, ' ')+1:] {
					n = n*10 + int(c-'0')
				}
				sum += n
				series++
			}
		}
		if sum != lines || series != st.Series {
			t.Fatalf("%d requests counted in %d series, want %d in %d:\n%s", sum, series, lines, st.Series, out)
		}
	})
}
