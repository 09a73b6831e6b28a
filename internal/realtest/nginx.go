package realtest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
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

// NginxSite is a real nginx on loopback: one server per site, each on a
// port of its own, answering 200 "ok\n" to every request.
type NginxSite struct {
	Dir   string // its prefix: configuration, pid file, error log, temp directories
	Logs  string // Dir/logs, for access logs
	Ports []int  // site i listens on 127.0.0.1:Ports[i]
	proc  *Proc
}

// NewNginx makes nginx's directories; Start starts it.
func NewNginx(t testing.TB) *NginxSite {
	t.Helper()
	dir := t.TempDir()
	n := &NginxSite{Dir: dir, Logs: filepath.Join(dir, "logs")}
	for _, d := range []string{"logs", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// FileLogs returns the access_log parameters of sites sites that log, in
// the combined format, to Logs/a.access.log, Logs/b.access.log, ...
func (n *NginxSite) FileLogs(sites int) []string {
	out := make([]string, sites)
	for i := range out {
		out[i] = filepath.Join(n.Logs, siteName(i)+".access.log") + " combined"
	}
	return out
}

// LogFile returns the access log of site i of FileLogs.
func (n *NginxSite) LogFile(i int) string { return filepath.Join(n.Logs, siteName(i)+".access.log") }

func siteName(i int) string { return string(rune('a' + i)) }

// Start starts nginx (master and 2 workers) with one site per element of
// accessLogs, each the parameters of that site's access_log directive
// ("/path/a.log combined", "syslog:server=unix:/path/ingest.sock combined"),
// and waits until every port accepts connections. nginx stops (SIGQUIT,
// which lets the workers write their last lines) when the test ends, or
// at Stop.
func (n *NginxSite) Start(t testing.TB, accessLogs ...string) {
	t.Helper()
	Need(t, Nginx, "nginx (nginx-light)")
	for attempt := 0; ; attempt++ {
		n.Ports = n.Ports[:0]
		user := ""
		if os.Geteuid() == 0 {
			// The workers reopen the logs after USR1 and write to
			// sockets in the test's directories.
			user = "user root;"
		}
		var servers strings.Builder
		for _, log := range accessLogs {
			n.Ports = append(n.Ports, FreePort(t))
			fmt.Fprintf(&servers, `server {
		listen 127.0.0.1:%d;
		access_log %s;
		location / { return 200 "ok\n"; }
	}
	`, n.Ports[len(n.Ports)-1], log)
		}
		conf := fmt.Sprintf(`%s
daemon off;
master_process on;
worker_processes 2;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 128; }
http {
	client_body_temp_path %[2]s/tmp/body;
	proxy_temp_path %[2]s/tmp/proxy;
	fastcgi_temp_path %[2]s/tmp/fastcgi;
	uwsgi_temp_path %[2]s/tmp/uwsgi;
	scgi_temp_path %[2]s/tmp/scgi;
	%[3]s
}
`, user, n.Dir, servers.String())
		confPath := WriteFile(t, n.Dir, "nginx.conf", []byte(conf))
		n.proc = Start(t, syscall.SIGQUIT, nil, Nginx, "-p", n.Dir, "-c", confPath, "-e", filepath.Join(n.Dir, "error.log"))
		if n.listening() {
			return
		}
		n.proc.Stop() // a port taken meanwhile: try others
		if attempt == 3 {
			t.Fatalf("nginx did not start: %s", n.ErrorLog())
		}
	}
}

// Pid returns the master's process id.
func (n *NginxSite) Pid() int { return n.proc.Pid() }

// Stop stops nginx with SIGQUIT and waits for it to exit.
func (n *NginxSite) Stop() { n.proc.Stop() }

// ErrorLog returns nginx's error log.
func (n *NginxSite) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "error.log"))
	return string(b)
}

// listening waits until every port accepts connections, or nginx exits.
func (n *NginxSite) listening() bool {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.proc.Done():
			return false
		default:
		}
		if n.up() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (n *NginxSite) up() bool {
	for _, p := range n.Ports {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), time.Second)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// Get requests path from site i and fails t unless nginx answers 200.
func (n *NginxSite) Get(t testing.TB, client *http.Client, site int, path string) {
	t.Helper()
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", n.Ports[site], path))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: status %d", path, resp.StatusCode)
	}
}

// Rotate runs logrotate on Logs/*.access.log: rename and create, then
// USR1 to the master (logrotate's default and Debian's nginx
// configuration), or copytruncate. Rotated files are kept, uncompressed.
func (n *NginxSite) Rotate(t testing.TB, copyTruncate bool) {
	t.Helper()
	Need(t, Logrotate, "logrotate")
	how := fmt.Sprintf("create\n\tsharedscripts\n\tpostrotate\n\t\tkill -USR1 %d\n\tendscript", n.Pid())
	if copyTruncate {
		how = "copytruncate"
	}
	conf := fmt.Sprintf("%s/*.access.log {\n\trotate 100\n\tmissingok\n\tnocompress\n\t%s\n}\n", n.Logs, how)
	confPath := filepath.Join(n.Dir, "logrotate.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(Logrotate, "-f", "-s", filepath.Join(n.Dir, "logrotate.state"), confPath).CombinedOutput()
	if err != nil {
		t.Fatalf("logrotate: %v: %s", err, out)
	}
}

// LinesOnDisk counts the lines in the access log files of FileLogs,
// rotated ones included, by site.
func (n *NginxSite) LinesOnDisk(t testing.TB) []int {
	t.Helper()
	counts := make([]int, len(n.Ports))
	entries, err := os.ReadDir(n.Logs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		site, _, ok := strings.Cut(e.Name(), ".access.log")
		if !ok || len(site) != 1 || int(site[0]-'a') >= len(counts) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(n.Logs, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		counts[site[0]-'a'] += bytes.Count(b, []byte("\n"))
	}
	return counts
}

// Load sends requests to the sites in turn, one at a time, until stopped:
// request i goes to site i % len(Ports), for the path Path(site, i).
type Load struct {
	mu       sync.Mutex // held by Quiesced
	sent     []int      // answered 200, by site
	answered []int64    // when each was answered, unix ns
	next     int
	stopped  chan struct{}
	done     chan struct{}
	err      error
}

// MaxRequests bounds a Load.
const MaxRequests = 200_000

// RequestPath is the path of request i by default: /r/<i>.
func RequestPath(_, i int) string { return "/r/" + strconv.Itoa(i) }

// StartLoad starts sending requests to n's sites, with the paths path
// gives (RequestPath when nil), at most MaxRequests.
func StartLoad(n *NginxSite, path func(site, i int) string) *Load {
	if path == nil {
		path = RequestPath
	}
	l := &Load{sent: make([]int, len(n.Ports)), stopped: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(l.done)
		defer client.CloseIdleConnections()
		for l.next < MaxRequests {
			select {
			case <-l.stopped:
				return
			default:
			}
			l.mu.Lock()
			site := l.next % len(n.Ports)
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", n.Ports[site], path(site, l.next)))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			if err != nil {
				l.err = err
				l.mu.Unlock()
				return
			}
			l.sent[site]++
			l.answered = append(l.answered, time.Now().UnixNano())
			l.next++
			l.mu.Unlock()
		}
	}()
	return l
}

// Stop stops the load and fails t when a request failed.
func (l *Load) Stop(t testing.TB) {
	t.Helper()
	close(l.stopped)
	<-l.done
	if l.err != nil {
		t.Fatalf("load: %v", l.err)
	}
}

// Quiesced pauses the load until every request answered is in a log file
// of FileLogs, and runs f. copytruncate loses what nginx writes between the
// copy and the truncation (logrotate's own window, see its manual); with no
// writes then, the count stays exact, and anything missing is the
// reader's doing.
func (l *Load) Quiesced(t testing.TB, n *NginxSite, f func()) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	WaitFor(t, "nginx to log every request", func() bool { return slices.Equal(n.LinesOnDisk(t), l.sent) })
	f()
}

// Sent returns the requests answered, by site.
func (l *Load) Sent() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.sent...)
}

// Total returns the requests answered.
func (l *Load) Total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

// AnsweredBetween returns the requests answered after from and at or
// before to.
func (l *Load) AnsweredBetween(from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, at := range l.answered {
		if at > from.UnixNano() && at <= to.UnixNano() {
			n++
		}
	}
	return n
}

// Rotations is how many times RotateAll rotates: it alternates
// rename-and-reopen and copytruncate.
const Rotations = 20

// RotateAll rotates n's logs Rotations times, 100 ms apart, while l runs,
// calling between(i) after the i-th rotation when between is not nil.
// Each copytruncate runs with the load quiesced.
func RotateAll(t testing.TB, n *NginxSite, l *Load, between func(i int)) {
	t.Helper()
	for i := range Rotations {
		time.Sleep(100 * time.Millisecond)
		if i%2 == 1 {
			l.Quiesced(t, n, func() { n.Rotate(t, true) })
		} else {
			n.Rotate(t, false)
		}
		if between != nil {
			between(i)
		}
	}
	time.Sleep(100 * time.Millisecond)
}
