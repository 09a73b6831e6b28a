package loadgen

import (
	"bytes"
	"context"
	"net/netip"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/internal/udptest"
)

// receiver collects the datagrams sent to a loopback UDP socket.
type receiver struct {
	addr string

	mu    sync.Mutex
	dgs   [][]byte
	lines int
}

// maxReceived bounds what a receiver keeps, so a runaway sender cannot
// exhaust memory in a test.
const maxReceived = 1 << 20

func newReceiver(t *testing.T, network, addr string) *receiver {
	t.Helper()
	conn := udptest.Listen(t, network, addr)
	r := &receiver{addr: conn.LocalAddr().String()}
	udptest.Receive(t, conn, func(dg []byte, _ netip.AddrPort) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.dgs) < maxReceived {
			r.dgs = append(r.dgs, bytes.Clone(dg))
			r.lines += bytes.Count(dg, []byte{'\n'}) + 1
		}
	})
	return r
}

// wait returns the datagrams received once lines lines have arrived, or
// what arrived within a few seconds.
func (r *receiver) wait(lines int) [][]byte {
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		n := r.lines
		r.mu.Unlock()
		if n >= lines || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Anything beyond lines would be a bug: give it a moment to show.
	time.Sleep(20 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.dgs...)
}

// received is what a test learns from the datagrams of one receiver.
type received struct {
	datagrams int
	bytes     int
	lines     []string
	reqs      []ingest.Request // views into lines
	paths     map[string]int
}

// parseReceived parses every line of dgs and fails the test on a line
// that does not parse.
func parseReceived(t *testing.T, dgs [][]byte) received {
	t.Helper()
	rc := received{datagrams: len(dgs), paths: map[string]int{}}
	var p ingest.Parser
	for _, d := range dgs {
		rc.bytes += len(d)
		for line := range strings.SplitSeq(string(d), "\n") {
			var r ingest.Request
			require.NoError(t, p.Parse(&r, []byte(line)), "line %q", line)
			rc.lines = append(rc.lines, line)
			rc.reqs = append(rc.reqs, r)
			rc.paths[string(r.Path)]++
		}
	}
	return rc
}

// noLeaks checks, after the test and its cleanups, that no goroutine
// started during the test is left.
func noLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func sendOK(t *testing.T, cfg Config) Result {
	t.Helper()
	res, err := Send(context.Background(), cfg, nil)
	require.NoError(t, err)
	return res
}

func TestSendLoad_LinesArriveAndParse(t *testing.T) {
	noLeaks(t)
	host := regexp.QuoteMeta(SyslogHostname())
	headers := map[string]*regexp.Regexp{
		"none": regexp.MustCompile(`^[0-9.]+ - - \[`),
		"3164": regexp.MustCompile(`^<190>[A-Z][a-z]{2} [ 123][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} ` + host + ` nginx: [0-9.]+ - - \[`),
		"5424": regexp.MustCompile(`^<190>1 [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} ` + host + ` nginx - - - [0-9.]+ - - \[`),
	}
	envelopes := map[string]ingest.Envelope{"none": ingest.EnvelopeNone, "3164": ingest.EnvelopeRFC3164, "5424": ingest.EnvelopeRFC5424}
	for _, mode := range []string{"none", "3164", "5424"} {
		t.Run(mode, func(t *testing.T) {
			rcv := newReceiver(t, "udp4", "127.0.0.1:0")
			start := time.Now()
			res := sendOK(t, Config{
				Targets: []string{rcv.addr}, Rate: 20000, Count: 600, PathLength: 100,
				Paths: 7, Unique: 0.5, Syslog: mode, LinesPerDatagram: 3, Seed: 42,
			})
			assert.Equal(t, int64(600), res.Lines)
			assert.Equal(t, int64(200), res.Datagrams)
			assert.Zero(t, res.SendErrors)
			require.Len(t, res.PerTarget, 1)
			assert.Equal(t, TargetResult{Addr: rcv.addr, Lines: 600, Datagrams: 200, Bytes: res.Bytes, Calls: res.PerTarget[0].Calls}, res.PerTarget[0])

			got := parseReceived(t, rcv.wait(600))
			require.Len(t, got.lines, 600)
			assert.Equal(t, 200, got.datagrams)
			assert.Equal(t, res.Bytes, int64(got.bytes))
			for i, r := range got.reqs {
				assert.Regexp(t, headers[mode], got.lines[i])
				assert.Equal(t, envelopes[mode], r.Envelope)
				assert.Len(t, r.Path, 100)
				assert.Equal(t, "HTTP/1.1", string(r.Protocol))
				assert.NotEmpty(t, r.UserAgent)
				assert.WithinDuration(t, start, r.Time, 3*time.Second)
				if mode != "none" {
					assert.Equal(t, 190, r.SyslogPriority)
					assert.Equal(t, "nginx", string(r.SyslogTag))
				}
			}
			// Half the paths are unique, the rest cycle through 7.
			assert.Len(t, got.paths, 300+7)
		})
	}
}

func TestSendLoad_EveryTargetGetsTheLoad(t *testing.T) {
	noLeaks(t)
	a := newReceiver(t, "udp4", "127.0.0.1:0")
	b := newReceiver(t, "udp4", "127.0.0.1:0")
	res := sendOK(t, Config{Targets: []string{a.addr, b.addr}, Rate: 20000, Count: 500, Unique: 1})
	assert.Equal(t, int64(500), res.Lines)
	require.Len(t, res.PerTarget, 2)
	for i, r := range []*receiver{a, b} {
		got := parseReceived(t, r.wait(500))
		assert.Len(t, got.lines, 500, "target %d", i)
		assert.Equal(t, r.addr, res.PerTarget[i].Addr)
		assert.Equal(t, int64(500), res.PerTarget[i].Lines)
		assert.Equal(t, int64(got.bytes), res.PerTarget[i].Bytes)
		assert.Len(t, got.paths, 500, "target %d: every path unique", i)
	}
	// The same load to both: the same lines in the same order.
	assert.Equal(t, parseReceived(t, a.wait(500)).lines, parseReceived(t, b.wait(500)).lines)
}

func TestSendLoad_IPv6Loopback(t *testing.T) {
	rcv := newReceiver(t, "udp6", "[::1]:0")
	res := sendOK(t, Config{Targets: []string{rcv.addr}, Count: 100, Rate: 20000})
	assert.Equal(t, int64(100), res.PerTarget[0].Lines)
	assert.Len(t, parseReceived(t, rcv.wait(100)).lines, 100)
}

func TestSendLoad_LinesPerDatagram(t *testing.T) {
	t.Run("remainder", func(t *testing.T) {
		rcv := newReceiver(t, "udp4", "127.0.0.1:0")
		res := sendOK(t, Config{Targets: []string{rcv.addr}, Count: 95, LinesPerDatagram: 10, Rate: 20000})
		assert.Equal(t, int64(10), res.Datagrams)
		dgs := rcv.wait(95)
		require.Len(t, dgs, 10)
		counts := map[int]int{}
		for _, d := range dgs {
			counts[bytes.Count(d, []byte{'\n'})+1]++
			assert.False(t, bytes.HasSuffix(d, []byte{'\n'}), "lines are joined, not terminated")
		}
		assert.Equal(t, map[int]int{10: 9, 5: 1}, counts)
		assert.Len(t, parseReceived(t, dgs).lines, 95)
	})
	t.Run("split at the datagram limit", func(t *testing.T) {
		rcv := newReceiver(t, "udp4", "127.0.0.1:0")
		const pathLen = 20000
		res := sendOK(t, Config{Targets: []string{rcv.addr}, Count: 12, LinesPerDatagram: 10, PathLength: pathLen, Syslog: "5424", Rate: 5000})
		got := parseReceived(t, rcv.wait(12))
		require.Len(t, got.lines, 12)
		for _, r := range got.reqs {
			assert.Len(t, r.Path, pathLen)
		}
		// Three 20 KB lines fill a datagram; a fourth would not fit.
		assert.Equal(t, int64(4), res.Datagrams)
		assert.Equal(t, 4, got.datagrams)
		for _, d := range rcv.wait(12) {
			assert.LessOrEqual(t, len(d), MaxDatagramPayload)
		}
	})
	t.Run("longest path", func(t *testing.T) {
		rcv := newReceiver(t, "udp4", "127.0.0.1:0")
		res := sendOK(t, Config{Targets: []string{rcv.addr}, Count: 3, LinesPerDatagram: 2, PathLength: MaxPathLength, Syslog: "5424", Unique: 1})
		assert.Equal(t, int64(3), res.Datagrams)
		got := parseReceived(t, rcv.wait(3))
		require.Len(t, got.lines, 3)
		assert.Len(t, got.reqs[2].Path, MaxPathLength)
	})
}

func TestSendLoad_PathCardinality(t *testing.T) {
	f := func(paths int, unique float64, count int64, wantDistinct, wantUnique int) {
		t.Helper()
		rcv := newReceiver(t, "udp4", "127.0.0.1:0")
		sendOK(t, Config{Targets: []string{rcv.addr}, Count: count, Paths: paths, Unique: unique, PathLength: 40, LinesPerDatagram: 8, Rate: 50000})
		got := parseReceived(t, rcv.wait(int(count)))
		require.Len(t, got.lines, int(count))
		assert.Len(t, got.paths, wantDistinct, "paths %d unique %v", paths, unique)
		u := 0
		for p, n := range got.paths {
			assert.Len(t, p, 40)
			if strings.HasPrefix(p, "/u") {
				u++
				assert.Equal(t, 1, n, "unique path %s sent twice", p)
			}
		}
		assert.InDelta(t, wantUnique, u, 1, "unique paths")
	}
	f(1, 0, 1000, 1, 0)
	f(50, 0, 1000, 50, 0)
	f(1, 1, 1000, 1000, 1000)
	f(10, 0.25, 1000, 250+10, 250)
	f(5000, 0, 1000, 1000, 0) // a pool larger than the run
}

func TestLineGen_Deterministic(t *testing.T) {
	now := time.Date(2026, 11, 5, 0, 30, 0, 123e6, time.UTC)
	lines := func(seed int64) []string {
		cfg, err := Config{Count: 1, Paths: 3, Unique: 0.5, Seed: seed}.Normalize()
		require.NoError(t, err)
		g := newLineGen(cfg, "web01")
		var out []string
		for range 12 {
			out = append(out, string(g.AppendLine(nil, now)))
		}
		return out
	}
	a := lines(1)
	assert.Equal(t, a, lines(1))
	assert.NotEqual(t, a, lines(2))
}

func TestLineGen_Format(t *testing.T) {
	now := time.Date(2026, 11, 5, 0, 30, 7, 45e6, time.UTC)
	f := func(syslog, wantPrefix string) {
		t.Helper()
		cfg, err := Config{Count: 1, Syslog: syslog, PathLength: 24}.Normalize()
		require.NoError(t, err)
		g := newLineGen(cfg, "web01")
		line := string(g.AppendLine(nil, now))
		assert.True(t, strings.HasPrefix(line, wantPrefix), "%q does not start with %q", line, wantPrefix)
		assert.Contains(t, line, " - - [05/Nov/2026:00:30:07 +0000] \"")
		assert.Regexp(t, `" [0-9]{3} [0-9]+ "[^"]*" "Mozilla/5.0 [^"]*|curl/8.5.0"$`, line)
		var p ingest.Parser
		var r ingest.Request
		require.NoError(t, p.Parse(&r, []byte(line)))
		assert.Equal(t, now.Truncate(time.Second), r.Time.UTC())
		assert.Len(t, r.Path, 24)
		assert.True(t, strings.HasPrefix(string(r.Path), "/"), "%s", r.Path)
	}
	f("none", "")
	f("3164", "<190>Nov  5 00:30:07 web01 nginx: ")
	f("5424", "<190>1 2026-11-05T00:30:07.045+00:00 web01 nginx - - - ")

	// One path of length 1 is "/", the path of soak's short-paths scenario.
	cfg, err := Config{Count: 1, PathLength: 1}.Normalize()
	require.NoError(t, err)
	line := string(newLineGen(cfg, "web01").AppendLine(nil, now))
	assert.Contains(t, line, ` / HTTP/1.1"`)
	// Several paths are told apart by their index.
	cfg, err = Config{Count: 1, PathLength: 24, Paths: 2}.Normalize()
	require.NoError(t, err)
	line = string(newLineGen(cfg, "web01").AppendLine(nil, now))
	assert.Contains(t, line, ` /p0`)
}

// TestLineGen_MaxLine checks that maxLine bounds every line, the bound
// the datagram slots rely on, with the longest host name.
func TestLineGen_MaxLine(t *testing.T) {
	host := strings.Repeat("h", MaxHostLength)
	now := time.Date(2026, 12, 31, 23, 59, 59, 999e6, time.FixedZone("", -(9*3600+30*60)))
	for _, syslog := range []string{"none", "3164", "5424"} {
		for _, pathLen := range []int{18, 2048, MaxPathLength} {
			cfg, err := Config{Count: 1, Syslog: syslog, PathLength: pathLen, Paths: MaxPaths, Unique: 0.3}.Normalize()
			require.NoError(t, err)
			g := newLineGen(cfg, host)
			var p ingest.Parser
			var r ingest.Request
			var buf []byte
			for i := range 2000 {
				buf = g.AppendLine(buf[:0], now.Add(time.Duration(i)*time.Millisecond))
				require.LessOrEqual(t, len(buf), g.maxLine)
				require.NoError(t, p.Parse(&r, buf), "%s", buf)
				require.Len(t, r.Path, pathLen)
			}
			assert.LessOrEqual(t, g.maxLine, min(MaxDatagramPayload, ingest.MaxLineLength))
		}
	}
}

func TestSendLoad_Pacing(t *testing.T) {
	noLeaks(t)
	rcv := newReceiver(t, "udp4", "127.0.0.1:0")
	// 600 lines at 2000 lines/s: the last is due 0.3 s after the first. The
	// sender may be late on a busy machine, never early.
	res := sendOK(t, Config{Targets: []string{rcv.addr}, Rate: 2000, Count: 600})
	assert.Equal(t, int64(600), res.Lines)
	assert.GreaterOrEqual(t, res.Elapsed, 290*time.Millisecond)
	assert.Less(t, res.Elapsed, 10*time.Second)
	assert.Len(t, parseReceived(t, rcv.wait(600)).lines, 600)
}

func TestSendLoad_Duration(t *testing.T) {
	noLeaks(t)
	rcv := newReceiver(t, "udp4", "127.0.0.1:0")
	res := sendOK(t, Config{Targets: []string{rcv.addr}, Rate: 1000, Duration: 300 * time.Millisecond})
	assert.GreaterOrEqual(t, res.Elapsed, 300*time.Millisecond)
	assert.Less(t, res.Elapsed, 5*time.Second)
	// Never ahead of the rate: at most 0.3 s of lines plus the batch due at
	// the start. Behind is allowed, within reason.
	assert.LessOrEqual(t, res.Lines, int64(301))
	assert.Greater(t, res.Lines, int64(30))
}

func TestSendLoad_CountUnpaced(t *testing.T) {
	noLeaks(t)
	rcv := newReceiver(t, "udp4", "127.0.0.1:0")
	res := sendOK(t, Config{Targets: []string{rcv.addr}, Count: 10007, LinesPerDatagram: 3})
	assert.Equal(t, int64(10007), res.Lines)
	assert.Equal(t, int64(3336), res.Datagrams)
	assert.Equal(t, int64(10007), res.PerTarget[0].Lines)
}

func TestSendLoad_ConnectionRefusedIsCounted(t *testing.T) {
	noLeaks(t)
	for _, batch := range []int{1, 32} {
		t.Run(strconv.Itoa(batch), func(t *testing.T) {
			addr := udptest.DeadAddr(t)
			res := sendOK(t, Config{Targets: []string{addr}, Count: 300, Batch: batch, Rate: 30000})
			assert.Equal(t, int64(300), res.Lines)
			assert.Positive(t, res.SendErrors)
			tr := res.PerTarget[0]
			assert.Equal(t, res.SendErrors, tr.SendErrors)
			assert.Equal(t, int64(300), tr.Lines+tr.SendErrors, "every datagram accepted or refused")
		})
	}
}

func TestSendLoad_Cancel(t *testing.T) {
	noLeaks(t)
	rcv := newReceiver(t, "udp4", "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var progress bytes.Buffer
	res, err := Send(ctx, Config{Targets: []string{rcv.addr}, Rate: 1000, Duration: time.Minute}, &progress)
	require.NoError(t, err)
	assert.Less(t, res.Elapsed, 5*time.Second)
	assert.Positive(t, res.Lines)
	assert.Empty(t, progress.String(), "no progress line before the first second")
}

func TestSendLoad_Progress(t *testing.T) {
	rcv := newReceiver(t, "udp4", "127.0.0.1:0")
	var progress bytes.Buffer
	res := func() Result {
		res, err := Send(context.Background(), Config{Targets: []string{rcv.addr}, Rate: 500, Duration: 2100 * time.Millisecond}, &progress)
		require.NoError(t, err)
		return res
	}()
	lines := strings.Split(strings.TrimSuffix(progress.String(), "\n"), "\n")
	require.Len(t, lines, 2, "%s", progress.String())
	assert.Regexp(t, `^ingest send: 1\.[0-9]{3}s: [0-9]+ lines, [0-9]+ lines/s, 0 send errors$`, lines[0])
	assert.Regexp(t, `^ingest send: 2\.[0-9]{3}s: [0-9]+ lines, [0-9]+ lines/s, 0 send errors$`, lines[1])
	assert.Positive(t, res.Lines)
}

func TestSendLoad_SendmmsgBatches(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sendmmsg is Linux's")
	}
	rcv := newReceiver(t, "udp4", "127.0.0.1:0")
	res := sendOK(t, Config{Targets: []string{rcv.addr}, Count: 3200, Batch: 32})
	tr := res.PerTarget[0]
	assert.Equal(t, int64(3200), tr.Datagrams)
	// 100 full batches; a partial send would add a call, never remove one.
	assert.GreaterOrEqual(t, tr.Calls, int64(100))
	assert.Less(t, tr.Calls, int64(400), "sendmmsg should send many datagrams per call")

	res = sendOK(t, Config{Targets: []string{rcv.addr}, Count: 100, Batch: 1})
	assert.Equal(t, int64(100), res.PerTarget[0].Calls, "batch 1 is one write per datagram")
}
