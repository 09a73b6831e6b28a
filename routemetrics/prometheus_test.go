package routemetrics

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPromtool checks the exposition with promtool when it is installed.
func TestPromtool(t *testing.T) {
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH")
	}
	// Admission, eviction and collapsing on: every kind of catch-all
	// series is written.
	s := mustNew(t, Config{MaxSeries: 200, CollapseUnmatched: []int{404}})
	for i := range 900 {
		o := obs("h"+strconv.Itoa(i%3)+`.ex"am\ple`, "/r"+strconv.Itoa(i)+"/{id}", []string{"GET", "POST", "BREW"}[i%3], []int{200, 404, 503, 0}[i%4])
		o.ResponseBytes = int64(i)
		o.RequestBytes, o.HasRequestBytes = int64(i), i%2 == 0
		o.Duration, o.HasDuration = time.Duration(i)*time.Millisecond, true
		o.Upstream, o.HasUpstream = time.Duration(i)*time.Millisecond, i%3 == 0
		o.Pattern = i%5 == 0
		s.Observe(o)
		if i%2 == 0 {
			s.Observe(o) // admitted
		}
	}
	s.Observe(obs("bad\xffutf8\nnewline", "/r\xc3", "GET", 200))
	var b bytes.Buffer
	if err := s.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`route="{unadmitted}"`, `route="{unmatched}"`, `route="{overflow}"`, `status="2xx"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no series with %s", want)
		}
	}
	if s.Stats().Evicted == 0 {
		t.Error("nothing evicted")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = &b
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	if len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool: %s", out)
	}
}

// TestHelpOncePerFamily checks that each family has one HELP and one TYPE
// line, before its samples, and that its samples are contiguous.
func TestHelpOncePerFamily(t *testing.T) {
	s := mustNew(t, firstCome(Config{}))
	for i := range 50 {
		o := obs("v", "/r"+strconv.Itoa(i%7), "GET", 200+i%3*100)
		o.Duration, o.HasDuration = time.Millisecond, true
		o.Upstream, o.HasUpstream = time.Millisecond, true
		o.HasRequestBytes = true
		s.Observe(o)
	}
	var b bytes.Buffer
	s.WritePrometheus(&b)
	typed := map[string]bool{}
	done := map[string]bool{}
	current := ""
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name = name[:strings.IndexByte(name, ' ')]
			if typed[name] {
				t.Errorf("TYPE %s twice", name)
			}
			typed[name] = true
			if current != "" {
				done[current] = true
			}
			current = name
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		fam := name
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if f, ok := strings.CutSuffix(name, suf); ok && typed[f] {
				fam = f
			}
		}
		if fam != current || done[fam] {
			t.Errorf("sample %q outside its family (current %q)", line, current)
		}
	}
	for _, fam := range []string{"http_requests_total", "http_response_size_bytes_total", "http_request_size_bytes_total",
		"http_request_duration_seconds", "http_upstream_duration_seconds", "ingest_series", "ingest_series_overflow_total",
		"ingest_series_expired_total", "ingest_series_evicted_total", "ingest_series_unadmitted_total",
		"ingest_series_collapsed_total", "ingest_route_value_errors_total"} {
		if !typed[fam] {
			t.Errorf("no family %s", fam)
		}
	}
}
