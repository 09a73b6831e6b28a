//go:build !race

package ingest_test

import (
	"testing"
	"time"

	"github.com/flatheap/ingest"
)

// jsonSink keeps the compiler from optimizing away the results.
var jsonSink []byte

func TestAppendJSONNoAllocs(t *testing.T) {
	r := jsonRequest()
	r.Time = time.Date(2026, 10, 10, 13, 55, 36, 123456789, time.FixedZone("", 2*3600))
	r.UserAgent = []byte("Mozilla \\x22q\\x22 \"\t\x01 caf\xc3\xa9 \xff \u2028")
	r.Envelope = ingest.EnvelopeRFC3164
	r.SyslogPriority = 190
	r.SyslogHost = []byte("web01")
	r.SyslogTag = []byte("nginx")
	buf := make([]byte, 0, 1024)
	s := string(r.UserAgent)

	for name, fn := range map[string]func(){
		"AppendJSON":               func() { jsonSink = r.AppendJSON(buf[:0]) },
		"AppendJSONString([]byte)": func() { jsonSink = ingest.AppendJSONString(buf[:0], r.UserAgent) },
		"AppendJSONString(string)": func() { jsonSink = ingest.AppendJSONString(buf[:0], s) },
	} {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
}
