//go:build !race

package ingest

import (
	"bytes"
	"os"
	"testing"
)

// TestParseRelayNoAllocs: the relays' headers (testdata/relay.log) parse
// without allocating, like nginx's own.
func TestParseRelayNoAllocs(t *testing.T) {
	b, err := os.ReadFile("testdata/relay.log")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var p Parser
		var r Request
		testAllocs(t, string(line[:40]), func() { sinkErr = p.Parse(&r, line) })
		if sinkErr != nil {
			t.Fatalf("%s: %v", line, sinkErr)
		}
	}
}
