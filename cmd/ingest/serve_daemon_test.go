package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeProfileDirChecked: a --profile-dir that cannot hold profiles
// stops serve at start with one line and exit status 2; a missing one is
// created at start.
func TestServeProfileDirChecked(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	if writable(readOnly) {
		readOnly = "/sys" // root writes anyway; sysfs refuses even root
	}
	cases := []struct{ dir, want string }{
		{file, "not a directory"},
		{filepath.Join(file, "sub"), "cannot create it"},
	}
	if writable(readOnly) {
		t.Logf("no unwritable directory to try here")
	} else {
		cases = append(cases, struct{ dir, want string }{readOnly, "cannot write into it"})
	}
	for _, tc := range cases {
		// A child process, bounded in time: serve that does not check
		// would run until stopped.
		cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--profile-dir", tc.dir)
		cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
		err := cmd.Wait()
		timer.Stop()
		if code := cmd.ProcessState.ExitCode(); code != 2 {
			t.Errorf("--profile-dir %s: %v, want exit status 2", tc.dir, err)
		}
		msg := stderr.String()
		if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "ingest serve: --profile-dir ") || !strings.Contains(msg, tc.want) {
			t.Errorf("--profile-dir %s: stderr %q, want one line naming the flag and saying %q", tc.dir, msg, tc.want)
		}
	}

	missing := filepath.Join(dir, "a", "b")
	_, _, _, _, log := startServeLog(t, "--profile-dir", missing)
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() {
		t.Errorf("--profile-dir %s not created at start: %v", missing, err)
	}
	if line := log.find("msg=serving"); !strings.Contains(line, "profile_dir="+missing) {
		t.Errorf("the start-up line %q does not name the profile directory", line)
	}
	entries, _ := os.ReadDir(missing)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".write-check-") {
			t.Errorf("the write check left %s behind", e.Name())
		}
	}
}

// writable reports whether a file can be created in dir.
func writable(dir string) bool {
	f, err := os.CreateTemp(dir, "probe")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}
