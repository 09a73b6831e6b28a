package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain runs the command itself instead of the tests when the test binary
// is started by TestExitStatus, so real exit codes are checked without
// building a binary.
func TestMain(m *testing.M) {
	if os.Getenv("INGEST_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestMainDispatch(t *testing.T) {
	f := func(args []string, code int, stdout, stderr string) {
		t.Helper()
		var o, e bytes.Buffer
		if got := run(args, strings.NewReader(""), &o, &e); got != code {
			t.Errorf("%q: exit status %d, want %d", args, got, code)
		}
		if got := o.String(); !strings.Contains(got, stdout) {
			t.Errorf("%q stdout: o = %q, want it to contain %q", args, got, stdout)
		}
		if got := e.String(); !strings.Contains(got, stderr) {
			t.Errorf("%q stderr: e = %q, want it to contain %q", args, got, stderr)
		}
		if stdout == "" {
			if got := o.String(); got != "" {
				t.Errorf("%q stdout: o = %q, want empty", args, got)
			}
		}
	}
	f(nil, 2, "", "Usage: ingest <command>")
	f([]string{"-h"}, 0, "Usage: ingest <command>", "")
	f([]string{"--help"}, 0, "  parse ", "")
	f([]string{"help"}, 0, "Usage: ingest <command>", "")
	f([]string{"help", "parse"}, 0, "", "Usage: ingest parse")
	f([]string{"help", "nope"}, 2, "", `ingest: unknown command "nope"`)
	f([]string{"nope"}, 2, "", "Usage: ingest <command>")
	f([]string{"parse", "testdata/good.log"}, 0, `"path":"/login"`, "")
}

// TestExitStatus runs the test binary as the command, through main and
// os.Exit.
func TestExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	f := func(code int, stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "INGEST_TEST_RUN_MAIN=1")
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		got := 0
		if exitErr, ok := errors.AsType[*exec.ExitError](err); ok {
			got = exitErr.ExitCode()
		} else {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got != code {
			t.Errorf("%q: stderr %s: got = %v, want %v", args, stderr.String(), got, code)
		}
		return stdout.String()
	}
	out := f(0, "", "parse", "testdata/good.log")
	if got := decodeLines(t, out); len(got) != 4 {
		t.Errorf("len(decodeLines(t, out)) = %d, want 4", len(got))
	}
	out = f(1, readFile(t, "testdata/mixed.log"), "parse")
	if got := decodeLines(t, out); len(got) != 8 {
		t.Errorf("len(decodeLines(t, out)) = %d, want 8", len(got))
	}
	f(2, "", "parse", "testdata/no-such-file.log")
	f(2, "", "parse", "--format", "xml")
	f(2, "")
	f(2, "", "serve-nothing")
	f(0, "", "-h")
}
