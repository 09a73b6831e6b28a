//go:build linux

package ingest

// Real senders, started by the tests on loopback with their own
// configuration, temp directories and pid files, and stopped by their
// process ids: nginx logging to a unix socket, rsyslog forwarding over TCP
// (both framings, three forward templates) and TLS (gtls), and syslog-ng's
// network() and syslog() destinations. Each Server must count exactly the
// lines sent. A test skips when its program is missing, unless CI=true.

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// need returns path when it is an executable file, and otherwise skips t,
// or fails it when the environment has CI=true.
func need(t *testing.T, path, what string) string {
	t.Helper()
	if fi, err := os.Stat(path); err == nil && fi.Mode()&0o111 != 0 {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (%s) is missing; CI must install it", what, path)
	}
	t.Skipf("%s (%s) is missing", what, path)
	return ""
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a process a test started, with its output.
type proc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProc starts name with args and env added to the environment. When
// the test ends it sends stop (then SIGKILL after 10 s) to that process id.
func startProc(t *testing.T, stop syscall.Signal, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(name, args...), out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(stop)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), p.out)
		}
	})
	return p
}

// exited fails t when p has ended.
func (p *proc) check(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("%s exited: %v\n%s", p.cmd.Path, p.cmd.ProcessState, p.out)
	default:
	}
}

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
	nginx := need(t, "/usr/sbin/nginx", "nginx")
	checkLeaks(t)
	prefix := t.TempDir()
	sock := filepath.Join(prefix, "ingest.sock")
	rec := &recorder{}
	ts := startUnix(t, sock, Config{Handler: rec})

	port := freePort(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers write to the socket in the test's directory
	}
	for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		if err := os.Mkdir(filepath.Join(prefix, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`%s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 64; }
http {
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	access_log syslog:server=unix:%[3]s combined;
	server {
		listen 127.0.0.1:%[4]d;
		location / { return 200 "ok\n"; }
	}
}
`, user, prefix, sock, port)
	confFile := writeFile(t, prefix, "nginx.conf", []byte(conf))
	p := startProc(t, syscall.SIGQUIT, nil, nginx, "-p", prefix, "-c", confFile, "-e", "stderr")

	client := &http.Client{Timeout: waitTimeout}
	defer client.CloseIdleConnections()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, "nginx to listen", func() bool {
		p.check(t)
		c, err := net.Dial("tcp", base[len("http://"):])
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	const n = 300
	for i := range n {
		resp, err := client.Get(base + "/users/" + strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
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
	if log, _ := os.ReadFile(filepath.Join(prefix, "error.log")); bytes.Contains(log, []byte("syslog")) {
		t.Errorf("nginx's error log speaks of syslog:\n%s", log)
	}
}

// rsyslogd starts rsyslogd with conf (a workDirectory is added) in dir.
func rsyslogd(t *testing.T, dir, conf string) *proc {
	t.Helper()
	bin := need(t, "/usr/sbin/rsyslogd", "rsyslogd")
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	conf = fmt.Sprintf("global(workDirectory=%q)\n%s", work, conf)
	f := writeFile(t, dir, "rsyslog.conf", []byte(conf))
	if out, err := exec.Command(bin, "-N1", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1: %v\n%s", err, out)
	}
	return startProc(t, syscall.SIGTERM, nil, bin, "-n", "-f", f, "-i", filepath.Join(dir, "rsyslogd.pid"))
}

// loggerLines sends lines to the unix socket sock with util-linux logger,
// tag "nginx", in RFC 5424 or RFC 3164.
func loggerLines(t *testing.T, dir, sock string, rfc5424 bool, lines []string) {
	t.Helper()
	bin := need(t, "/usr/bin/logger", "util-linux logger")
	format := "--rfc3164"
	if rfc5424 {
		format = "--rfc5424"
	}
	f := writeFile(t, dir, "lines"+format, []byte(strings.Join(lines, "\n")+"\n"))
	waitFor(t, "the input socket", func() bool { _, err := os.Stat(sock); return err == nil })
	if out, err := exec.Command(bin, format, "--socket-errors=on", "-u", sock, "-t", "nginx", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("logger: %v\n%s", err, out)
	}
}

// TestRealRsyslogTCP: rsyslog forwards what logger sent it (RFC 5424 and
// RFC 3164, tag "nginx") over TCP with each of its forward templates and
// both framings, one Server each; every line arrives and parses.
func TestRealRsyslogTCP(t *testing.T) {
	need(t, "/usr/sbin/rsyslogd", "rsyslogd")
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
			fmt.Fprintf(&actions, "action(type=\"omfwd\" target=\"127.0.0.1\" port=%q protocol=\"tcp\" TCP_Framing=%q template=%q)\n",
				port, framing, tmpl)
			targets = append(targets, tg)
		}
	}
	p := rsyslogd(t, dir, fmt.Sprintf(`module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket=%q UseSpecialParser="off" ParseHostname="on" RateLimit.Interval="0")
%s`, in, actions.String()))
	const n = 200
	loggerLines(t, dir, in, true, accessLines("rfc5424", n))
	loggerLines(t, dir, in, false, accessLines("rfc3164", n))
	want := append(pathsOf("rfc5424", n), pathsOf("rfc3164", n)...)
	for _, tg := range targets {
		name := tg.template + "/" + tg.framing
		st := tg.ts.waitStats(t, name+": every line", func(s Stats) bool {
			p.check(t)
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
	need(t, "/usr/sbin/rsyslogd", "rsyslogd")
	if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
		need(t, "/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so", "rsyslog-gnutls")
	}
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
	p := rsyslogd(t, dir, fmt.Sprintf(`global(DefaultNetstreamDriverCAFile=%q DefaultNetstreamDriverCertFile=%q DefaultNetstreamDriverKeyFile=%q)
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket=%q UseSpecialParser="off" ParseHostname="on" RateLimit.Interval="0")
action(type="omfwd" target="127.0.0.1" port=%q protocol="tcp" TCP_Framing="octet-counted"
	StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost")
`, caFile, writeFile(t, dir, "client.pem", clientCert), writeFile(t, dir, "client-key.pem", clientKey), in, port))
	const n = 300
	loggerLines(t, dir, in, true, accessLines("tls", n))
	st := ts.waitStats(t, "every line", func(s Stats) bool {
		p.check(t)
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
	bin := need(t, filepath.Join(root, "usr/sbin/syslog-ng"), "syslog-ng (extracted)")
	// The modules' directory is named after the version, which the
	// configuration must name too.
	dirs, _ := filepath.Glob(filepath.Join(root, "usr/lib/syslog-ng/[0-9]*.[0-9]*"))
	if len(dirs) != 1 {
		need(t, filepath.Join(root, "usr/lib/syslog-ng/<version>"), "syslog-ng's modules (extracted)")
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
	p := startProc(t, syscall.SIGTERM, env, bin, "-F", "-e", "--module-path", modules, "-f", f,
		"--persist-file", filepath.Join(dir, "persist"), "--pidfile", filepath.Join(dir, "pid"),
		"--control", filepath.Join(dir, "ctl"))
	const n = 200
	loggerLines(t, dir, in5424, true, accessLines("rfc5424", n))
	loggerLines(t, dir, in3164, false, accessLines("rfc3164", n))
	want := append(pathsOf("rfc5424", n), pathsOf("rfc3164", n)...)
	for _, d := range []struct {
		name string
		ts   *testStream
		rec  *relayRecorder
	}{{"network()", netTS, netRec}, {"syslog()", sysTS, sysRec}} {
		st := d.ts.waitStats(t, d.name+": every line", func(s Stats) bool {
			p.check(t)
			return s.Lines >= 2*n
		})
		d.rec.check(t, d.name, want)
		if st.Parsed != 2*n || st.FramesCut+st.FramesTooLong+st.FramingErrors != 0 {
			t.Errorf("%s: stats %+v", d.name, st)
		}
	}
}
