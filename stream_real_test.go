//go:build linux

package ingest

// Real senders, started by the tests on loopback with their own
// configuration, temp directories and pid files, and stopped by their
// process ids: nginx logging to a unix socket, rsyslog forwarding over TCP
// (both framings, three forward templates) and TLS (gtls), and syslog-ng's
// network() and syslog() destinations. Each Server must count exactly the
// lines sent. A test skips when its program is missing, unless CI=true.

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/flatheap/ingest/internal/realtest"
)

// accessLines returns n combined lines from 192.0.2.1 with the paths
// /<prefix>/0 ... /<prefix>/n-1.
func accessLines(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = `192.0.2.1 - - [06/Dec/2026:10:00:00 +0000] "GET /` + prefix + "/" + strconv.Itoa(i) + ` HTTP/1.1" 200 12 "-" "x"`
	}
	return out
}

// relayRecorder keeps the path of every line, and checks that each came
// with the tag "nginx" and the remote address of accessLines.
type relayRecorder struct {
	mu    sync.Mutex
	paths []string
	bad   []string
}

func (r *relayRecorder) ServeLine(req *Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.paths = append(r.paths, string(req.Path))
	if string(req.SyslogTag) != "nginx" || string(req.RemoteAddr) != "192.0.2.1" || req.Status != 200 {
		r.bad = append(r.bad, string(req.Line))
	}
}

// check fails t unless r saw exactly the paths of want, once each.
func (r *relayRecorder) check(t *testing.T, name string, want []string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	got := slices.Clone(r.paths)
	slices.Sort(got)
	w := slices.Clone(want)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Errorf("%s: %d paths, want %d", name, len(got), len(w))
	}
	for _, l := range r.bad {
		t.Errorf("%s: wrong tag or fields: %q", name, l)
	}
}

func pathsOf(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "/" + prefix + "/" + strconv.Itoa(i)
	}
	return out
}

// TestRealNginxUnix: nginx logs to the Server's unix socket.
func TestRealNginxUnix(t *testing.T) {
	realtest.Need(t, realtest.Nginx, "nginx")
	checkLeaks(t)
	sock := filepath.Join(t.TempDir(), "ingest.sock")
	rec := &recorder{}
	ts := startUnix(t, sock, Config{Handler: rec})

	ng := realtest.NewNginx(t)
	ng.Start(t, "syslog:server=unix:"+sock+" combined")

	client := &http.Client{Timeout: waitTimeout}
	defer client.CloseIdleConnections()
	const n = 300
	for i := range n {
		ng.Get(t, client, 0, "/users/"+strconv.Itoa(i))
		// The socket queues 10 datagrams (net.unix.max_dgram_qlen): keep
		// fewer in flight, so that a loaded machine loses none.
		if i%5 == 4 {
			ts.waitStats(t, "the lines so far", func(s Stats) bool { return s.Parsed == uint64(i+1) })
		}
	}
	st := ts.waitStats(t, "every line", func(s Stats) bool { return s.Parsed == n })
	got := rec.got()
	slices.Sort(got)
	want := pathsOf("users", n)
	slices.Sort(want)
	if !slices.Equal(got, want) || st.ParseErrors != 0 || st.Datagrams != n || st.Transport != "unix" {
		t.Errorf("%d paths; stats %+v", len(got), st)
	}
	if log := ng.ErrorLog(); strings.Contains(log, "syslog") {
		t.Errorf("nginx's error log speaks of syslog:\n%s", log)
	}
}

// TestRealRsyslogTCP: rsyslog forwards what logger sent it (RFC 5424 and
// RFC 3164, tag "nginx") over TCP with each of its forward templates and
// both framings, one Server each; every line arrives and parses.
func TestRealRsyslogTCP(t *testing.T) {
	realtest.Need(t, realtest.Rsyslogd, "rsyslogd")
	checkLeaks(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.sock")
	type target struct {
		template, framing string
		rec               *relayRecorder
		ts                *testStream
	}
	var targets []*target
	var actions strings.Builder
	for _, tmpl := range []string{"RSYSLOG_TraditionalForwardFormat", "RSYSLOG_ForwardFormat", "RSYSLOG_SyslogProtocol23Format"} {
		for _, framing := range []string{"octet-counted", "traditional"} {
			tg := &target{template: tmpl, framing: framing, rec: &relayRecorder{}}
			tg.ts = startStream(t, Config{Handler: tg.rec, OnBadLine: func(l []byte, _ netip.AddrPort, err error) {
				t.Logf("%s/%s: a line fails (sampled): %v: %q", tmpl, framing, err, l)
			}})
			_, port, _ := net.SplitHostPort(tg.ts.addr)
			actions.WriteString(realtest.RsyslogForward(port, framing, tmpl, false))
			targets = append(targets, tg)
		}
	}
	p := realtest.StartRsyslogd(t, dir, realtest.RsyslogInput(in)+actions.String())
	const n = 200
	realtest.Logger(t, dir, in, true, accessLines("rfc5424", n))
	realtest.Logger(t, dir, in, false, accessLines("rfc3164", n))
	want := append(pathsOf("rfc5424", n), pathsOf("rfc3164", n)...)
	for _, tg := range targets {
		name := tg.template + "/" + tg.framing
		st := tg.ts.waitStats(t, name+": every line", func(s Stats) bool {
			p.Check(t)
			return s.Lines >= 2*n
		})
		tg.rec.check(t, name, want)
		if st.Lines != 2*n || st.Parsed != 2*n || st.FramesCut+st.FramesTooLong+st.FramingErrors != 0 {
			t.Errorf("%s: stats %+v", name, st)
		}
	}
}

// TestRealRsyslogTLS: rsyslog forwards over TLS with its gtls driver, with
// a client certificate, to a Server that requires one.
func TestRealRsyslogTLS(t *testing.T) {
	realtest.Need(t, realtest.Rsyslogd, "rsyslogd")
	realtest.NeedGTLS(t)
	checkLeaks(t)
	dir := t.TempDir()
	ca := newTestCA(t, "test CA")
	certFile, keyFile, caFile := tlsFiles(t, dir, ca, 1)
	clientCert, clientKey := ca.issue(t, 2)
	rec := &relayRecorder{}
	ts := startStream(t, Config{Addr: "tls://127.0.0.1:0", Handler: rec,
		TLSCertFile: certFile, TLSKeyFile: keyFile, TLSClientCAFile: caFile})
	_, port, _ := net.SplitHostPort(ts.addr)
	in := filepath.Join(dir, "in.sock")
	p := realtest.StartRsyslogd(t, dir,
		realtest.RsyslogTLSGlobal(caFile, writeFile(t, dir, "client.pem", clientCert), writeFile(t, dir, "client-key.pem", clientKey))+
			realtest.RsyslogInput(in)+realtest.RsyslogForward(port, "octet-counted", "", true))
	const n = 300
	realtest.Logger(t, dir, in, true, accessLines("tls", n))
	st := ts.waitStats(t, "every line", func(s Stats) bool {
		p.Check(t)
		return s.Lines >= n
	})
	rec.check(t, "gtls", pathsOf("tls", n))
	if st.Parsed != n || st.Transport != "tls" || st.TLSHandshakeErrors != 0 || st.ConnectionsOpened == 0 {
		t.Errorf("stats %+v", st)
	}
}

// sngRoot is where syslog-ng is extracted (not installed: it conflicts
// with rsyslog), unless INGEST_SYSLOG_NG_ROOT says otherwise: dpkg -x of
// syslog-ng-core and its libraries.
const sngRoot = "/work/tools/sng"

// TestRealSyslogNG: syslog-ng's network() destination (BSD format, LF
// framing) and syslog() destination (RFC 5424, octet counting) forward
// what logger sent it; every line arrives and parses.
func TestRealSyslogNG(t *testing.T) {
	root := os.Getenv("INGEST_SYSLOG_NG_ROOT")
	if root == "" {
		root = sngRoot
	}
	bin := realtest.Need(t, filepath.Join(root, "usr/sbin/syslog-ng"), "syslog-ng (extracted)")
	// The modules' directory is named after the version, which the
	// configuration must name too.
	dirs, _ := filepath.Glob(filepath.Join(root, "usr/lib/syslog-ng/[0-9]*.[0-9]*"))
	if len(dirs) != 1 {
		realtest.Need(t, filepath.Join(root, "usr/lib/syslog-ng/<version>"), "syslog-ng's modules (extracted)")
	}
	modules, version := dirs[0], filepath.Base(dirs[0])
	checkLeaks(t)
	dir := t.TempDir()
	netRec, sysRec := &relayRecorder{}, &relayRecorder{}
	netTS := startStream(t, Config{Handler: netRec})
	sysTS := startStream(t, Config{Handler: sysRec})
	_, netPort, _ := net.SplitHostPort(netTS.addr)
	_, sysPort, _ := net.SplitHostPort(sysTS.addr)
	in3164, in5424 := filepath.Join(dir, "in3164.sock"), filepath.Join(dir, "in5424.sock")
	conf := fmt.Sprintf(`@version: %s
options { keep-hostname(yes); time-reopen(1); log-fifo-size(10000); };
source s3164 { unix-dgram(%q flags(expect-hostname)); };
source s5424 { unix-dgram(%q flags(syslog-protocol)); };
destination dnet { network("127.0.0.1" port(%s) transport("tcp")); };
destination dsys { syslog("127.0.0.1" port(%s) transport("tcp")); };
log { source(s3164); source(s5424); destination(dnet); destination(dsys); };
`, version, in3164, in5424, netPort, sysPort)
	f := writeFile(t, dir, "syslog-ng.conf", []byte(conf))
	libs, _ := filepath.Glob(filepath.Join(root, "usr/lib/*-linux-gnu"))
	env := []string{"LD_LIBRARY_PATH=" + strings.Join(append(libs, filepath.Join(root, "usr/lib/syslog-ng")), ":")}
	p := realtest.Start(t, syscall.SIGTERM, env, bin, "-F", "-e", "--module-path", modules, "-f", f,
		"--persist-file", filepath.Join(dir, "persist"), "--pidfile", filepath.Join(dir, "pid"),
		"--control", filepath.Join(dir, "ctl"))
	const n = 200
	realtest.Logger(t, dir, in5424, true, accessLines("rfc5424", n))
	realtest.Logger(t, dir, in3164, false, accessLines("rfc3164", n))
	want := append(pathsOf("rfc5424", n), pathsOf("rfc3164", n)...)
	for _, d := range []struct {
		name string
		ts   *testStream
		rec  *relayRecorder
	}{{"network()", netTS, netRec}, {"syslog()", sysTS, sysRec}} {
		st := d.ts.waitStats(t, d.name+": every line", func(s Stats) bool {
			p.Check(t)
			return s.Lines >= 2*n
		})
		d.rec.check(t, d.name, want)
		if st.Parsed != 2*n || st.FramesCut+st.FramesTooLong+st.FramingErrors != 0 {
			t.Errorf("%s: stats %+v", d.name, st)
		}
	}
}
