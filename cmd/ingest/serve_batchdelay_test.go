package main

import (
	"strings"
	"syscall"
	"testing"
)

// TestServeBatchDelayUsage: a --batch-delay outside 0..1s exits 2 with one
// line that names the flag.
func TestServeBatchDelayUsage(t *testing.T) {
	for _, d := range []string{"-1ms", "1001ms"} {
		code, stderr := runServeTimeout(t, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--batch-delay", d)
		if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "--batch-delay") {
			t.Errorf("--batch-delay %s: status %d, %q; want 2 and one line naming the flag", d, code, stderr)
		}
	}
}

// TestServeBatchDelay: serve delays its reads by default, says so on its
// start-up line, warns when the receive buffer is too small for the delay,
// and counts every line, with and without a delay.
func TestServeBatchDelay(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		startLine string
		warns     bool
	}{
		{nil, "batch_delay=100ms", false},
		{[]string{"--batch-delay", "0"}, "batch_delay=0s", false},
		// 128 KiB holds no batch of 65,527-byte datagrams.
		{[]string{"--receive-buffer", "131072"}, "batch_delay=100ms", true},
		// Nor of 2,048-byte ones with 8 KiB.
		{[]string{"--receive-buffer", "8192", "--max-datagram", "2048", "--batch-delay", "1s"}, "batch_delay=1s", true},
	} {
		cmd, udpAddr, httpAddr, _, log := startServeLog(t, tc.args...)
		if line := log.find("msg=serving"); !strings.Contains(line, tc.startLine) {
			t.Errorf("%v: start-up line %q lacks %s", tc.args, line, tc.startLine)
		}
		sendLines(t, udpAddr, serveLine("/a", 200), serveLine("/b", 200), serveLine("/c", 200))
		m := scrapeWhenLines(t, httpAddr, 3)
		if got := m["ingest_parsed_total"]; got != 3 {
			t.Errorf("%v: ingest_parsed_total %v, want 3", tc.args, got)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("%v: serve exited with %v", tc.args, err)
		}
		if tc.warns {
			if w := log.find("receive buffer too small for BatchDelay"); !strings.Contains(w, "granted=") {
				t.Errorf("%v: no warning with the granted size: %q", tc.args, w)
			}
		}
	}
}
