package ingest

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// TestCountersWholeBatches: Stats never sums part of a batch. One goroutine
// publishes batches whose datagrams, lines and parsed lines are equal, the
// way a reader does; another reads the counters all the while and must
// always find the three equal.
func TestCountersWholeBatches(t *testing.T) {
	var c counters
	const batches = 100_000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var t tally
		for i := range batches {
			n := uint64(1 + i%16)
			t.datagrams, t.lines, t.parsed = n, n, n
			c.publish(&t)
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	reads, torn := 0, 0
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true // one last read after the last publish
		default:
		}
		var s Stats
		c.addTo(&s)
		reads++
		if s.Datagrams != s.Lines || s.Lines != s.Parsed {
			torn++
			if torn == 1 {
				t.Errorf("read part of a batch: datagrams %d, lines %d, parsed %d", s.Datagrams, s.Lines, s.Parsed)
			}
		}
	}
	var s Stats
	c.addTo(&s)
	if want := uint64(batches / 16 * (16 * 17 / 2)); s.Datagrams != want || s.Parsed != want {
		t.Errorf("final datagrams %d, parsed %d, want %d", s.Datagrams, s.Parsed, want)
	}
	t.Logf("%d reads during %d publishes, %d torn", reads, batches, torn)
}

// TestStatsString: every exported counter and size of Stats is named in
// String, for TLS where every field is shown, and the line stays bounded
// with every counter at its largest.
func TestStatsString(t *testing.T) {
	var s Stats
	v := reflect.ValueOf(&s).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.Uint64:
			f.SetUint(math.MaxUint64)
		case reflect.Int:
			f.SetInt(math.MaxInt)
		}
	}
	s.Transport = "tls"
	for i := range s.parseErrors {
		s.parseErrors[i] = math.MaxUint64
	}
	got := s.String()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() || f.Name == "Transport" {
			continue
		}
		if name := snake(f.Name); !strings.Contains(got, " "+name+"=") {
			t.Errorf("String() does not name %s (%s): %s", f.Name, name, got)
		}
	}
	for label := range s.ParseErrorsByReason() {
		if !strings.Contains(got, label+"=") {
			t.Errorf("String() does not name the parse errors of %q", label)
		}
	}
	if len(got) > 1600 {
		t.Errorf("len(String()) = %d, want at most 1600", len(got))
	}
	t.Logf("%d bytes", len(got))

	udp := Stats{Transport: "udp", Datagrams: 3, Lines: 3, Parsed: 2, ParseErrors: 1}
	udp.parseErrors[reasonStatus] = 1
	want := "udp: datagrams=3 bytes=0 lines=3 parsed=2 parse_errors=1 (status=1) truncated=0 empty_datagrams=0 " +
		"dropped_queue_full=0 dropped_kernel=0 dropped_source=0 dropped_closed=0 handler_panics=0 read_errors=0 stop_errors=0 " +
		"sockets=0 receive_buffer=0 read_buffer_bytes=0 queue_datagrams=0 queue_bytes=0 queue_max_bytes=0"
	if got := fmt.Sprintf("%+v", udp); got != want {
		t.Errorf("%%+v of Stats =\n%s\nwant\n%s", got, want)
	}
}

// snake turns a field name into String's name for it: ReadErrors is
// read_errors, TLSCertReloads tls_cert_reloads, DroppedQueueFull
// dropped_queue_full.
func snake(name string) string {
	var b strings.Builder
	for i, r := range name {
		upper := r >= 'A' && r <= 'Z'
		if upper && i > 0 {
			prevLower := name[i-1] >= 'a' && name[i-1] <= 'z'
			nextLower := i+1 < len(name) && name[i+1] >= 'a' && name[i+1] <= 'z'
			if prevLower || nextLower && name[i-1] >= 'A' && name[i-1] <= 'Z' {
				b.WriteByte('_')
			}
		}
		b.WriteString(strings.ToLower(string(r)))
	}
	return b.String()
}
