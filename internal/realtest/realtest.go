// Package realtest starts the real programs that the end-to-end tests of
// the library, of package tail and of the ingest command run against:
// nginx, logrotate, rsyslogd, logger, with their own configuration, temp
// directories and pid files, on free loopback ports; and it makes the
// certificates their TLS needs. Every process is stopped by its process
// id when the test ends, never by name.
//
// A test that needs a program calls Need, which skips the test when the
// program is missing, or fails it when the environment has CI=true: CI
// installs them (.ci/run).
package realtest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Paths of the programs, as Debian installs them.
const (
	Nginx     = "/usr/sbin/nginx"     // nginx-light
	Logrotate = "/usr/sbin/logrotate" // logrotate
	Rsyslogd  = "/usr/sbin/rsyslogd"  // rsyslog
	LoggerBin = "/usr/bin/logger"     // bsdutils (util-linux)
)

// Timeout bounds every wait of the package: generous, for a loaded
// machine.
const Timeout = 20 * time.Second

// Need returns path when it is an executable file, and otherwise skips t,
// or fails it when the environment has CI=true.
func Need(t testing.TB, path, what string) string {
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

// NeedGTLS skips t, or fails it on CI, unless rsyslog's TLS driver
// (rsyslog-gnutls) is installed.
func NeedGTLS(t testing.TB) {
	t.Helper()
	if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
		Need(t, "/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so", "rsyslog-gnutls")
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitFor polls cond until it holds, or fails t after Timeout.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WriteFile writes b to dir/name with mode 0600 and returns its path.
func WriteFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Proc is a process a test started, with its output.
type Proc struct {
	Cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
	stop syscall.Signal
	once sync.Once
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

// Start starts name with args, and env added to the environment. Stop,
// or the end of the test, sends stop to that process id, and SIGKILL
// after 10 s. When the test failed, the output is logged.
func Start(t testing.TB, stop syscall.Signal, env []string, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Cmd: exec.Command(name, args...), done: make(chan struct{}), stop: stop}
	p.Cmd.Env = append(os.Environ(), env...)
	p.Cmd.Stdout, p.Cmd.Stderr = &p.out, &p.out
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s (pid %d) output:\n%s", filepath.Base(name), p.Pid(), p.Output())
		}
	})
	return p
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Output returns what the process wrote to stdout and stderr so far.
func (p *Proc) Output() string { return p.out.String() }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop sends the stop signal and waits for the process to exit, killing
// it after 10 s. Calling it again does nothing.
func (p *Proc) Stop() {
	p.once.Do(func() {
		p.Cmd.Process.Signal(p.stop)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.Cmd.Process.Kill()
			<-p.done
		}
	})
}

// Check fails t when the process has exited.
func (p *Proc) Check(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("%s exited: %v\n%s", p.Cmd.Path, p.Cmd.ProcessState, p.Output())
	default:
	}
}
