package main

import (
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeBatchDelayUsage: a --batch-delay outside 0..1s exits 2 with one
// line that names the flag.
func TestServeBatchDelayUsage(t *testing.T) {
	for _, d := range []string{"-1ms", "1001ms"} {
		code, stderr := runServeTimeout(t, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--batch-delay", d)
		assert.Equal(t, 2, code, d)
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "%s: %q", d, stderr)
		assert.Contains(t, stderr, "--batch-delay", d)
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
		assert.Contains(t, log.find("msg=serving"), tc.startLine, "%v", tc.args)
		sendLines(t, udpAddr, serveLine("/a", 200), serveLine("/b", 200), serveLine("/c", 200))
		m := scrapeWhenLines(t, httpAddr, 3)
		assert.Equal(t, 3.0, m["ingest_parsed_total"], "%v", tc.args)
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, cmd.Wait())
		if tc.warns {
			assert.Contains(t, log.find("receive buffer too small for BatchDelay"), "granted=", "%v", tc.args)
		}
	}
}
