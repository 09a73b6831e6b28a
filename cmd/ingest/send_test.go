package main

import (
	"bytes"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flatheap/ingest"
	"github.com/flatheap/ingest/internal/udptest"
)

// lineSink counts the lines and distinct paths that reach a loopback UDP
// socket.
type lineSink struct {
	addr string

	mu    sync.Mutex
	lines int
	paths map[string]int
	bad   int // lines that did not parse
}

func newLineSink(t *testing.T) *lineSink {
	t.Helper()
	conn := udptest.Listen(t, "udp4", "127.0.0.1:0")
	s := &lineSink{addr: conn.LocalAddr().String(), paths: map[string]int{}}
	var p ingest.Parser
	var r ingest.Request
	udptest.Receive(t, conn, func(dg []byte, _ netip.AddrPort) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for line := range bytes.SplitSeq(dg, []byte{'\n'}) {
			s.lines++
			if p.Parse(&r, line) != nil {
				s.bad++
				continue
			}
			if len(s.paths) < 1<<16 {
				s.paths[string(r.Path)]++
			}
		}
	})
	return s
}

// wait returns the lines, distinct paths and unparsed lines received once
// lines lines have arrived, or what arrived within a few seconds.
func (s *lineSink) wait(lines int) (got, paths, bad int) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		got, paths, bad = s.lines, len(s.paths), s.bad
		s.mu.Unlock()
		if got >= lines || time.Now().After(deadline) {
			return got, paths, bad
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSend_Command(t *testing.T) {
	rcv := newLineSink(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"send", "--addr", rcv.addr + ", " + rcv.addr, "--count", "50", "--rate", "0", "--syslog", "3164", "--paths", "3", "--path-length", "64"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("%v: code = %v, want 0", stderr.String(), code)
	}
	if got := stderr.String(); got != "" {
		t.Errorf("stderr = %q, want empty", got)
	}
	out := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(out) != 3 {
		t.Fatalf("%v: len(out) = %d, want 3", stdout.String(), len(out))
	}
	if re := `^sent lines=50 datagrams=50 bytes=[0-9]+ errors=0 elapsed=[0-9.]+[mµn]?s rate=[0-9]+ lines/s targets=2$`; !regexp.MustCompile(re).MatchString(out[0]) {
		t.Errorf("out[0] = %q, want a match for %s", out[0], re)
	}
	for _, o := range out[1:] {
		if re := `^target ` + regexp.QuoteMeta(rcv.addr) + ` lines=50 datagrams=50 bytes=[0-9]+ errors=0 calls=[0-9]+ rate=[0-9]+ lines/s$`; !regexp.MustCompile(re).MatchString(o) {
			t.Errorf("o = %q, want a match for %s", o, re)
		}
	}
	lines, paths, bad := rcv.wait(100)
	if lines != 100 {
		t.Errorf("lines = %v, want 100", lines)
	}
	if paths != 3 {
		t.Errorf("paths = %v, want 3", paths)
	}
	if bad != 0 {
		t.Errorf("bad = %v, want 0", bad)
	}

	// Refused datagrams: exit 1, with the summary.
	stdout.Reset()
	stderr.Reset()
	code = runSend([]string{"--addr", udptest.DeadAddr(t), "--count", "200", "--rate", "20000"}, nil, &stdout, &stderr)
	if code != 1 {
		t.Errorf("%v: code = %v, want 1", stderr.String(), code)
	}
	if got := stdout.String(); !strings.Contains(got, "sent lines=200 ") {
		t.Errorf("stdout = %q, want it to contain %q", got, "sent lines=200 ")
	}
}

func TestSend_FlagErrors(t *testing.T) {
	f := func(wantErr string, args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := runSend(args, nil, &stdout, &stderr)
		if code != 2 {
			t.Errorf("args %q: code = %v, want 2", args, code)
		}
		if got := stdout.String(); got != "" {
			t.Errorf("stdout = %q, want empty", got)
		}
		if got := stderr.String(); !strings.Contains(got, wantErr) {
			t.Errorf("args %q: stderr = %q, want it to contain %q", args, got, wantErr)
		}
	}
	f("must be bounded: set --count, --duration or both")
	f("must be bounded", "--rate", "10")
	f("rate -1 out of range", "--count", "1", "--rate", "-1")
	f("count -5 out of range", "--count", "-5")
	f("duration -1s out of range", "--duration", "-1s")
	f("duration 48h0m0s out of range", "--duration", "48h")
	f(`unknown syslog header "1234": want none, 3164 or 5424`, "--count", "1", "--syslog", "1234")
	f("unique 2 out of range", "--count", "1", "--unique", "2")
	f("unique NaN out of range", "--count", "1", "--unique", "NaN")
	f("--paths 0 out of range", "--count", "1", "--paths", "0")
	f("--batch 0 out of range", "--count", "1", "--batch", "0")
	f("--sources 0 out of range", "--count", "1", "--sources", "0")
	f("sources 300 out of range", "--count", "1", "--sources", "300")
	f("paths 3 with routes", "--count", "1", "--routes-mix", "--paths", "3")
	f("batch 2000 out of range", "--count", "1", "--batch", "2000")
	f("--lines-per-datagram -1 out of range", "--count", "1", "--lines-per-datagram", "-1")
	f("path length 10 out of range: want 18", "--count", "1", "--path-length", "10", "--unique", "0.1")
	f("path length 3 out of range: want 4", "--count", "1", "--path-length", "3", "--paths", "17")
	f("path length 70000 out of range", "--count", "1", "--path-length", "70000")
	f("empty target address", "--count", "1", "--addr", "127.0.0.1:5514,")
	f(`unexpected argument "extra"`, "--count", "1", "extra")
	f("flag provided but not defined: -bogus", "--bogus")
	f("invalid value", "--count", "ten")
	// A target that cannot be resolved is an error too, after the summary.
	var stdout, stderr bytes.Buffer
	if code := runSend([]string{"--count", "1", "--addr", "no-such-host.invalid:1"}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
	if got := stderr.String(); !strings.Contains(got, "ingest send: ") {
		t.Errorf("stderr = %q, want it to contain %q", got, "ingest send: ")
	}
}

func TestSend_Help(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"help", "send"}, nil, &stdout, &stderr); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if got := stderr.String(); !strings.Contains(got, "Usage: ingest send") {
		t.Errorf("stderr = %q, want it to contain %q", got, "Usage: ingest send")
	}
	if got := stderr.String(); !strings.Contains(got, "-lines-per-datagram") {
		t.Errorf("stderr = %q, want it to contain %q", got, "-lines-per-datagram")
	}
	stdout.Reset()
	if code := run([]string{"help"}, nil, &stdout, &stderr); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if got := stdout.String(); !strings.Contains(got, "send     send generated access-log lines over UDP (load generator)") {
		t.Errorf("stdout = %q, want it to contain %q", got, "send     send generated access-log lines over UDP (load generator)")
	}
}

// TestSend_HelpExample runs the example load of send's usage, with
// --count 200 --rate 20000 in place of its minute at 1,500 lines/s, and
// checks that every line arrives and parses.
func TestSend_HelpExample(t *testing.T) {
	example := regexp.MustCompile(`(?m)^  ingest send (--rate 1500 --duration 60s .*)$`).FindStringSubmatch(sendUsage)
	if example == nil {
		t.Fatal("no example load in send's usage")
	}
	args := strings.Fields(strings.NewReplacer("--rate 1500", "--rate 20000", "--duration 60s", "--count 200").Replace(example[1]))
	rcv := newLineSink(t)
	var stdout, stderr bytes.Buffer
	if code := runSend(append(args, "--addr", rcv.addr), nil, &stdout, &stderr); code != 0 {
		t.Fatalf("send %q: exit status %d, want 0; stderr: %s", args, code, stderr.String())
	}
	if lines, _, bad := rcv.wait(200); lines != 200 || bad != 0 {
		t.Errorf("send %q: received %d lines, %d unparsed; want 200, 0", args, lines, bad)
	}
}

func TestSend_RoutesMix(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if got := run([]string{"send", "--print-format"}, nil, &stdout, &stderr); got != 0 {
		t.Fatalf("%v: got %v, want 0", stderr.String(), got)
	}
	format := strings.TrimSuffix(stdout.String(), "\n")
	_, err := ingest.CompileNginx(format)
	if err != nil {
		t.Fatalf("%v: %v", format, err)
	}

	rcv := newLineSink(t)
	stdout.Reset()
	code := run([]string{"send", "--addr", rcv.addr, "--count", "400", "--rate", "0", "--routes-mix",
		"--unique", "0.25", "--sources", "3", "--syslog", "3164"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("%v: code = %v, want 0", stderr.String(), code)
	}
	out := stdout.String()
	if re := `(?m)^route /api/v1/users/\{id\}/orders/\{uuid\} lines=[0-9]+$`; !regexp.MustCompile(re).MatchString(out) {
		t.Errorf("out = %q, want a match for %s", out, re)
	}
	if re := `(?m)^junk lines=100$`; !regexp.MustCompile(re).MatchString(out) {
		t.Errorf("out = %q, want a match for %s", out, re)
	}
	var sum int
	for _, m := range regexp.MustCompile(`(?m)^(?:route \S+|junk) lines=([0-9]+)$`).FindAllStringSubmatch(out, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatal(err)
		}
		sum += n
	}
	if sum != 400 {
		t.Errorf("the routes and the junk add up to the lines sent: sum = %v, want 400", sum)
	}
	// The combined parser reads these lines too: the extra fields come
	// after the user agent.
	lines, _, bad := rcv.wait(400)
	if lines != 400 {
		t.Errorf("lines = %v, want 400", lines)
	}
	if bad != 0 {
		t.Errorf("bad = %v, want 0", bad)
	}
}
