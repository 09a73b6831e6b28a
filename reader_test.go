package ingest

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// The bad input a datagram can be: empty, truncated, binary, and as large
// as UDP allows over IPv4 and IPv6. Each is counted, none is lost silently.

// badLineCall is one call of Config.OnBadLine.
type badLineCall struct {
	line   string
	from   netip.AddrPort
	err    error
	reason string
}

// badLineRecorder collects OnBadLine's calls.
type badLineRecorder struct {
	mu    sync.Mutex
	calls []badLineCall
}

func (b *badLineRecorder) onBadLine(line []byte, from netip.AddrPort, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, badLineCall{string(line), from, err, ErrorReason(err)})
}

func (b *badLineRecorder) got() []badLineCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]badLineCall(nil), b.calls...)
}

// TestServerEmptyDatagrams: a datagram of zero bytes, or of line endings
// only, is counted in EmptyDatagrams and nowhere else.
func TestServerEmptyDatagrams(t *testing.T) {
	checkLeaks(t)
	rec := &recorder{}
	ts := startServer(t, Config{Handler: rec})
	c := dial(t, ts.addr)
	send(t, c, "", "\n", "\r\n\r\n", line("/a"), "", line("/b")+"\n\n")
	st := ts.waitStats(t, "every datagram", func(s Stats) bool { return s.Datagrams == 6 })
	if st.EmptyDatagrams != 4 || st.Lines != 2 || st.Parsed != 2 || st.ParseErrors != 0 {
		t.Errorf("%v; want 4 empty datagrams, 2 lines parsed", st)
	}
	if s := st.String(); !strings.Contains(s, "empty_datagrams=4") {
		t.Errorf("String() = %q, want empty_datagrams=4", s)
	}
}

// TestServerTruncatedOnBadLine: OnBadLine gets a truncated datagram's
// first line, at most 256 bytes of it, with its sender and ErrTruncated.
func TestServerTruncatedOnBadLine(t *testing.T) {
	checkLeaks(t)
	bad := &badLineRecorder{}
	ts := startServer(t, Config{Handler: &recorder{}, MaxDatagram: 600, OnBadLine: bad.onBadLine, BadLineInterval: -1})
	c := dial(t, ts.addr)
	long := line("/" + strings.Repeat("x", 2048))
	send(t, c, long, "short first line\n"+long, line("/ok"))
	ts.waitStats(t, "every datagram", func(s Stats) bool { return s.Datagrams == 3 })
	from := c.LocalAddr().(*net.UDPAddr).AddrPort()
	want := []string{long[:256], "short first line"}
	calls := bad.got()
	if len(calls) != len(want) {
		t.Fatalf("OnBadLine called %d times, want %d: %+v", len(calls), len(want), calls)
	}
	for i, call := range calls {
		if call.line != want[i] || call.from != from || !errors.Is(call.err, ErrTruncated) || call.reason != "truncated" {
			t.Errorf("call %d: %+v, want line %q from %v, ErrTruncated, reason truncated", i, call, want[i], from)
		}
	}
	st := ts.Stats()
	if st.Truncated != 2 || st.Parsed != 1 || st.ParseErrors != 0 || st.ParseErrorsFor("truncated") != 0 {
		t.Errorf("%v; want 2 truncated, not counted as parse errors", st)
	}
}

// TestServerLargestDatagrams sends binary datagrams as large as UDP
// carries over IPv4 (65,507 bytes) and IPv6 (65,527), which the default
// MaxDatagram (65,527) takes whole: every line fails as not_access_line,
// and the datagram is counted whole. One byte more does not leave the
// sender (EMSGSIZE on Linux).
func TestServerLargestDatagrams(t *testing.T) {
	for _, c := range []struct {
		network string
		ip      net.IP
		max     int
	}{{"udp4", net.IPv4(127, 0, 0, 1), 65507}, {"udp6", net.IPv6loopback, 65527}} {
		t.Run(c.network, func(t *testing.T) {
			checkLeaks(t)
			conn, err := net.ListenUDP(c.network, &net.UDPAddr{IP: c.ip})
			if err != nil {
				t.Skipf("no %s loopback: %v", c.network, err)
			}
			bad := &badLineRecorder{}
			ts := serveConn(t, Config{Handler: &recorder{}, ReceiveBuffer: 1 << 20, OnBadLine: bad.onBadLine, BadLineInterval: -1}, conn)
			client, err := net.DialUDP(c.network, nil, ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			// Binary: every byte value but '\n', so the datagram is one line.
			junk := make([]byte, c.max)
			for i := range junk {
				junk[i] = byte(i * 7)
				if junk[i] == '\n' {
					junk[i] = 0
				}
			}
			if _, err := client.Write(junk); err != nil {
				t.Fatal(err)
			}
			if _, err := client.Write(append(junk, 'x')); err == nil && runtime.GOOS == "linux" {
				t.Errorf("a datagram of %d bytes left the sender", c.max+1)
			}
			// Two lines of binary, and an empty datagram.
			half := append(append(bytes.Clone(junk[:1000]), '\n'), junk[:1000]...)
			if _, err := client.Write(half); err != nil {
				t.Fatal(err)
			}
			if _, err := client.Write(nil); err != nil {
				t.Fatal(err)
			}
			st := ts.waitStats(t, "every datagram", func(s Stats) bool { return s.Datagrams == 3 })
			if st.Bytes != uint64(c.max+len(half)) || st.Truncated != 0 || st.EmptyDatagrams != 1 ||
				st.Lines != 3 || st.ParseErrorsFor("not_access_line") != 3 {
				t.Errorf("%v; want %d bytes, 1 empty datagram, 3 lines not access lines", st, c.max+len(half))
			}
			for _, call := range bad.got() {
				if call.reason != "not_access_line" || call.from != client.LocalAddr().(*net.UDPAddr).AddrPort() {
					t.Errorf("OnBadLine got %q from %v", call.reason, call.from)
				}
			}
		})
	}
}
