//go:build !race

package forward

import (
	"testing"
	"time"
)

var sinkBytes []byte

func testAllocs(t *testing.T, name string, fn func()) {
	t.Helper()
	if n := testing.AllocsPerRun(200, fn); n != 0 {
		t.Errorf("%s: %v allocations per run, want 0", name, n)
	}
}

// TestNoAllocs: encoding a record, and ServeLine while the open batch has
// room, cost no allocation.
func TestNoAllocs(t *testing.T) {
	f := mustFormat(t)
	lines := map[string]string{
		"combined250": line250,
		"upstream2k":  string(appendLine(nil, 7, time.Now(), 2048)),
	}
	for _, url := range []string{"jsonline+http://127.0.0.1:1/insert/jsonline", "es+http://127.0.0.1:1/logs", "kafka://127.0.0.1:1/t"} {
		for _, unix := range []TimeFormat{TimeRFC3339, TimeUnixNano} {
			fw := testForwarder(t, url, Options{Time: unix, BatchBytes: 4 << 20, shards: 1})
			for name, line := range lines {
				format := f
				if name == "combined250" {
					format = nil
				}
				r := parse(t, format, line)
				buf := make([]byte, 0, 64<<10)
				enc, w := fw.shards[0].enc, &fw.sinks[0].wire
				enc.append(buf, r, w) // learn the format's keys
				testAllocs(t, url+" encode "+name, func() { sinkBytes = enc.append(buf[:0], r, w) })
				fw.ServeLine(r) // open the batch
				testAllocs(t, url+" ServeLine "+name, func() { fw.ServeLine(r) })
			}
		}
	}
}
