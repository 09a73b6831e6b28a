package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeInputUsageErrors: a bad --listen or --tail, a tls:// listener
// without its files, and a flag for an input that is not given each exit 2
// with one line that names the flag.
func TestServeInputUsageErrors(t *testing.T) {
	dir := t.TempDir()
	sock := "unix:" + filepath.Join(dir, "s.sock")
	f := func(want string, args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := runServe(append([]string{"--http", "127.0.0.1:0"}, args...), nil, &stdout, &stderr)
		if code != 2 {
			t.Errorf("%q: exit status %d, want 2", args, code)
		}
		got := stderr.String()
		if strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "ingest serve: ") || !strings.Contains(got, want) {
			t.Errorf("%q: stderr %q, want one line with %q", args, got, want)
		}
	}
	f("needs --tls-cert and --tls-key", "--listen", "tls://127.0.0.1:0")
	f("needs --tls-cert and --tls-key", "--listen", "tls://127.0.0.1:0", "--tls-cert", "c.pem")
	f("--tls-cert applies to tls:// listeners", "--listen", "tcp://127.0.0.1:0", "--tls-cert", "c.pem", "--tls-key", "k.pem")
	f("--tls-client-ca applies to tls:// listeners", "--tls-client-ca", "ca.pem")
	f("TLSCertFile", "--listen", "tls://127.0.0.1:0", "--tls-cert", filepath.Join(dir, "none.pem"), "--tls-key", filepath.Join(dir, "none.pem"))
	f("--socket-mode applies to unix: listeners", "--socket-mode", "0660")
	f("socket-mode: want permission bits in octal", "--listen", sock, "--socket-mode", "0999")
	f("socket-mode: want permission bits in octal", "--listen", sock, "--socket-mode", "1777")
	f("--max-connections applies to tcp:// and tls:// listeners", "--max-connections", "10")
	f("--max-connections 0", "--listen", "tcp://127.0.0.1:0", "--max-connections", "0")
	f("--allow applies to UDP, tcp:// and tls:// listeners", "--listen", sock, "--allow", "10.0.0.0/8")
	f("--readers applies to UDP and unix: listeners", "--listen", "tcp://127.0.0.1:0", "--readers", "2")
	f("--queue applies to UDP and unix: listeners", "--listen", "tls://127.0.0.1:0", "--queue", "10")
	f("--reuse-port applies to UDP listeners", "--listen", sock, "--reuse-port")
	f("--from-start applies to --tail", "--from-start")
	f("--state-dir applies to --tail", "--state-dir", dir)
	f(`unknown scheme "http"`, "--listen", "http://127.0.0.1:80")
	f("want unix:/path", "--listen", "unix:")
	f("missing port", "--listen", "tcp://127.0.0.1")
	f("is given twice", "--tail", filepath.Join(dir, "a.log"), "--tail", filepath.Join(dir, ".", "a.log"))
	f("--tail", "--tail", filepath.Join(dir, "[a.log"))
	f("--tail: an empty path", "--tail", "")
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f("--state-dir", "--tail", filepath.Join(dir, "a.log"), "--state-dir", filepath.Join(notDir, "x"))
	// A file where the socket goes is not replaced.
	f("not a socket", "--listen", "unix:"+notDir)
}

// TestServeInputConfig: the inputs a set of flags asks for.
func TestServeInputConfig(t *testing.T) {
	f := func(args []string, listens []string, tails []string) {
		t.Helper()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		flags := addServeFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		cfg, err := flags.config(fs)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		var got []string
		for _, l := range cfg.inputs.listens {
			got = append(got, l.kind+" "+l.given)
		}
		if !slices.Equal(got, listens) || !slices.Equal(cfg.inputs.tails, tails) {
			t.Errorf("%q: listens %q tails %q, want %q %q", args, got, cfg.inputs.tails, listens, tails)
		}
	}
	// No input given: the UDP default. --tail alone: no socket.
	f(nil, []string{"udp 127.0.0.1:5514"}, nil)
	f([]string{"--tail", "/var/log/nginx/*.log"}, nil, []string{"/var/log/nginx/*.log"})
	f([]string{"--tail", "/var/log//a.log", "--listen", "127.0.0.1:5514"}, []string{"udp 127.0.0.1:5514"}, []string{"/var/log/a.log"})
	f([]string{"--listen", "udp://[::1]:5514", "--listen", "unix:/run/ingest.sock", "--listen", "tcp://:6514",
		"--listen", "tls://0.0.0.0:6515", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--allow", "10.0.0.0/8"},
		[]string{"udp udp://[::1]:5514", "unix unix:/run/ingest.sock", "tcp tcp://:6514", "tls tls://0.0.0.0:6515"}, nil)
}

// TestServeStateDirDefault: systemd's StateDirectory, then XDG_STATE_HOME,
// then ~/.local/state.
func TestServeStateDirDefault(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/ingest:/var/lib/other")
	t.Setenv("XDG_STATE_HOME", "/xdg")
	t.Setenv("HOME", "/home/u")
	if got := defaultStateDir(); got != "/var/lib/ingest" {
		t.Errorf("with STATE_DIRECTORY: %q", got)
	}
	t.Setenv("STATE_DIRECTORY", "")
	if got := defaultStateDir(); got != "/xdg/ingest" {
		t.Errorf("with XDG_STATE_HOME: %q", got)
	}
	t.Setenv("XDG_STATE_HOME", "relative") // not absolute: ignored, as the XDG spec says
	if got := defaultStateDir(); got != "/home/u/.local/state/ingest" {
		t.Errorf("with HOME: %q", got)
	}
	if a, b := tailStateDir("/s", "/var/log/*.log"), tailStateDir("/s", "/var/log/*.log"); a != b || !strings.HasPrefix(a, "/s/tail-") || len(a) != len("/s/tail-")+16 {
		t.Errorf("tailStateDir: %q, %q", a, b)
	}
	if tailStateDir("/s", "/a.log") == tailStateDir("/s", "/b.log") {
		t.Error("two patterns share a checkpoint directory")
	}
}

// serveAddrs returns the addresses of the start-up line by input kind
// ("udp", "unix", "tcp", "tls", "tail", "http").
func serveAddrs(t *testing.T, log *serveLog) map[string][]string {
	t.Helper()
	line := log.find("msg=serving")
	out := map[string][]string{}
	for _, m := range regexp.MustCompile(` (udp|unix|tcp|tls|tail|http|state_dir|instance)=(\S+)`).FindAllStringSubmatch(line, -1) {
		out[m[1]] = strings.Split(m[2], ",")
	}
	return out
}

// stopServe sends SIGTERM to serve, checks that it exits 0, and returns
// its final counts: "name value" lines in a map, and the per-input lines.
func stopServe(t *testing.T, cmd *exec.Cmd, stdout *bytes.Buffer) (totals map[string]string, perInput []string) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	totals = map[string]string{}
	for line := range strings.Lines(stdout.String()) {
		f := strings.Fields(line)
		switch {
		case len(f) == 2:
			totals[f[0]] = f[1]
		case len(f) > 2:
			perInput = append(perInput, strings.TrimSpace(line))
		}
	}
	return totals, perInput
}

// inputCounts returns the counts of the final line of one input ("listener
// tcp 127.0.0.1:1234 ..." or "tail PATTERN ...").
func inputCounts(t *testing.T, perInput []string, prefix string) map[string]string {
	t.Helper()
	for _, l := range perInput {
		if rest, ok := strings.CutPrefix(l, prefix+" "); ok {
			f := strings.Fields(rest)
			out := map[string]string{}
			for i := 0; i+1 < len(f); i += 2 {
				out[f[i]] = f[i+1]
			}
			return out
		}
	}
	t.Fatalf("no final line %q in %q", prefix, perInput)
	return nil
}
