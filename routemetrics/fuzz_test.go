package routemetrics

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzObserve feeds arbitrary labels and upstream values: nothing panics,
// the store stays within its budget, every line is counted, and the
// exposition is valid UTF-8 with one sample per line.
func FuzzObserve(f *testing.F) {
	f.Add([]byte("shop.example"), []byte("/users/{id}"), []byte("GET"), 200, []byte("0.002, 0.010 : 0.001"))
	f.Add([]byte("a\"b\\c\nd"), []byte("/x\xff"), []byte("BREW"), 1000, []byte("-"))
	f.Add([]byte{}, []byte{}, []byte{}, -1, []byte("-0.5"))
	f.Add(bytes.Repeat([]byte{0xc3}, 200), bytes.Repeat([]byte("/\xe2\x82"), 100), []byte("POST"), 503, []byte("999999999, 999999999"))
	f.Fuzz(func(t *testing.T, vhost, route, method []byte, status int, upstream []byte) {
		s, err := New(Config{MaxSeries: 4})
		if err != nil {
			t.Fatal(err)
		}
		up, has, ok := parseUpstream(upstream)
		if ok && (up < 0 || has && up == 0 && bytes.ContainsAny(upstream, "123456789")) {
			t.Fatalf("parseUpstream(%q) = %v %v %v", upstream, up, has, ok)
		}
		for i := range 3 {
			o := &Observation{VHost: vhost, Route: append(route, byte('a'+i)), Method: method, Status: status + i,
				Upstream: up, HasUpstream: ok && has, Duration: time.Duration(status), HasDuration: true}
			s.Observe(o)
		}
		if n := s.Stats().Series; n > 4 {
			t.Fatalf("%d series", n)
		}
		var b bytes.Buffer
		if err := s.WritePrometheus(&b); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if !utf8.ValidString(out) {
			t.Fatalf("exposition is not valid UTF-8")
		}
		var sum int
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if strings.HasPrefix(line, "http_requests_total{") {
				var n int
				for _, c := range line[strings.LastIndexByte(line, ' ')+1:] {
					n = n*10 + int(c-'0')
				}
				sum += n
			}
		}
		if sum != 3 {
			t.Fatalf("%d requests counted, want 3:\n%s", sum, out)
		}
	})
}
