//go:build !race

package routemetrics

import (
	"bytes"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/flatheap/ingest"
)

var sinkErr error

func testAllocs(t *testing.T, name string, want float64, fn func()) {
	t.Helper()
	if n := testing.AllocsPerRun(1000, fn); n != want {
		t.Errorf("%s: %v allocs per run, want %v", name, n, want)
	}
}

func TestNoAllocs(t *testing.T) {
	f, err := ingest.CompileNginx(`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent ` +
		`"$http_referer" "$http_user_agent" $host $request_time $request_length "$upstream_response_time"`)
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.Parser{Format: f}
	var r ingest.Request
	if err := p.Parse(&r, []byte(`10.0.0.1 - - [25/Nov/2026:21:22:09 +0000] "GET /users/123/orders HTTP/1.1" 200 512 "-" "ua" a.example 0.005 300 "0.002, 0.003 : 0.001"`)); err != nil {
		t.Fatal(err)
	}
	s := mustNew(t, Config{MaxSeries: 100})
	s.ServeLine(&r)
	s.ServeLine(&r) // admitted on its second line
	testAllocs(t, "ServeLine, existing key", 0, func() { s.ServeLine(&r) })

	o := obs("a.example", "/users/{id}", "GET", 200)
	o.Duration, o.HasDuration = time.Millisecond, true
	s.Observe(o)
	s.Observe(o)
	testAllocs(t, "Observe, existing key", 0, func() { sinkErr = s.Observe(o) })

	// Invalid UTF-8 that would outgrow its bound once replaced is counted
	// as Other without being expanded first.
	bad := obs(string(bytes.Repeat([]byte{0xff}, 200)), "/users/{id}", "GET", 200)
	s.Observe(bad)
	s.Observe(bad)
	testAllocs(t, "Observe, long invalid vhost", 0, func() { sinkErr = s.Observe(bad) })
	badRoute := obs("a.example", "/"+string(bytes.Repeat([]byte{0xfe}, 200)), "GET", 200)
	s.Observe(badRoute)
	s.Observe(badRoute)
	testAllocs(t, "Observe, long invalid route", 0, func() { sinkErr = s.Observe(badRoute) })
	rb := r
	rb.Host = bad.VHost
	s.ServeLine(&rb)
	testAllocs(t, "ServeLine, long invalid vhost", 0, func() { s.ServeLine(&rb) })

	// A new path each time, seen once: recorded by the admission filter
	// and counted in the existing {unadmitted} series.
	junkReq := r
	junkReq.Path = []byte("/wp-admin/aaaaaaaaaa.php")
	junkReq.Status = 404
	s.ServeLine(&junkReq)
	n := 1
	testAllocs(t, "ServeLine, new path seen once", 0, func() {
		junkPath10(junkReq.Path, n)
		n++
		s.ServeLine(&junkReq)
	})
	newRoute := obs("a.example", "/n/aaaaaaaaaa", "GET", 404)
	s.Observe(newRoute)
	testAllocs(t, "Observe, new route seen once", 0, func() {
		setLetters(newRoute.Route[3:], n)
		n++
		sinkErr = s.Observe(newRoute)
	})

	// A collapsed status of an unmatched route.
	c := mustNew(t, Config{MaxSeries: 100, CollapseUnmatched: []int{404}})
	c.ServeLine(&junkReq)
	testAllocs(t, "ServeLine, collapsed", 0, func() {
		junkPath10(junkReq.Path, n)
		n++
		c.ServeLine(&junkReq)
	})

	// A full budget of hot routes: a route seen for the second time is a
	// candidate that samples the coldest route, loses to it, and is
	// counted in an existing {overflow} series.
	full := mustNew(t, Config{MaxSeries: 100})
	for i := range 200 {
		for range 20 {
			full.Observe(obs("a.example", "/r"+strconv.Itoa(i), "GET", 200))
		}
	}
	cand := obs("a.example", "/c/aaaaaaaaaa", "GET", 200)
	full.Observe(cand)
	full.Observe(cand)
	evicted, overflows := full.Stats().Evicted, full.Stats().Overflows
	testAllocs(t, "Observe, candidate that loses", 0, func() {
		// A new route, seen twice: the first sighting is unadmitted.
		setLetters(cand.Route[3:], n)
		n++
		full.Observe(cand)
		sinkErr = full.Observe(cand)
	})
	if st := full.Stats(); st.Evicted != evicted || st.Overflows < overflows+1000 {
		t.Errorf("candidates seen twice: %d evictions, %d overflows, want none and 1,000", st.Evicted-evicted, st.Overflows-overflows)
	}

	// First come, first served: fill the budget; a new key then goes to
	// an existing overflow series.
	s = mustNew(t, Config{MaxSeries: 100, AdmitAfter: 1, NoEviction: true})
	for i := range 200 {
		s.Observe(obs("a.example", "/r"+strconv.Itoa(i), "GET", 200))
	}
	junk := obs("a.example", "/new", "GET", 200)
	testAllocs(t, "Observe, overflow", 0, func() { sinkErr = s.Observe(junk) })

	// A scrape allocates nothing once its snapshot slice has grown.
	s.WritePrometheus(io.Discard)
	testAllocs(t, "WritePrometheus", 0, func() { sinkErr = s.WritePrometheus(io.Discard) })
	testAllocs(t, "Usage", 0, func() { s.Usage() })
}
