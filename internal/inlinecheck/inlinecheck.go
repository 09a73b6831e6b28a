// Package inlinecheck lets a package's tests pin the compiler's inlining
// decisions that its speed, or a comment, depends on, so that a refactor
// cannot undo one silently: a function that grows past the inlining budget
// fails a test instead of slowing a hot loop by a call.
//
// It runs the go command, so it is for tests only.
package inlinecheck

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// Report is what the compiler said about one package's inlining.
type Report struct {
	canInline map[string]bool
	calls     map[string]map[string]bool // callee -> files whose calls to it were inlined
}

// Build compiles the package in the current directory (a test's package)
// with -gcflags=-m and returns the compiler's decisions. It skips t with
// another compiler than gc, and when the go command is not on PATH (then,
// with CI=true in the environment, it fails t instead).
func Build(t *testing.T) *Report {
	t.Helper()
	if runtime.Compiler != "gc" {
		t.Skip("inlining decisions are the gc compiler's")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the go command is not on PATH:", err)
		}
		t.Skip("the go command is not on PATH:", err)
	}
	out, err := exec.Command(goTool, "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	r := &Report{canInline: map[string]bool{}, calls: map[string]map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// ./file.go:12:6: can inline name
		// ./file.go:40:17: inlining call to pkg.name
		pos, msg, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		file, _, _ := strings.Cut(strings.TrimPrefix(pos, "./"), ":")
		if name, ok := strings.CutPrefix(msg, "can inline "); ok {
			name, _, _ = strings.Cut(name, " ")
			r.canInline[name] = true
		} else if name, ok := strings.CutPrefix(msg, "inlining call to "); ok {
			name, _, _ = strings.Cut(name, " ")
			if r.calls[name] == nil {
				r.calls[name] = map[string]bool{}
			}
			r.calls[name][file] = true
		}
	}
	if len(r.canInline) == 0 {
		t.Fatalf("go build -gcflags=-m reported no inlinable function:\n%s", out)
	}
	return r
}

// Inlined fails t for each function named (as the compiler prints it:
// "view", "(*Parser).fillMasks") that the compiler can no longer inline.
func (r *Report) Inlined(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if !r.canInline[n] {
			t.Errorf("%s is no longer inlined", n)
		}
	}
}

// NotInlined fails t for each function named that the compiler can now
// inline, against what the code's comments (or a go:noinline) say.
func (r *Report) NotInlined(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if r.canInline[n] {
			t.Errorf("%s is now inlinable", n)
		}
	}
}

// InlinedIn fails t unless a call to callee ("decimal.Digits") in file
// ("format_fused.go") was inlined.
func (r *Report) InlinedIn(t *testing.T, callee, file string) {
	t.Helper()
	if !r.calls[callee][file] {
		t.Errorf("%s: the calls to %s are no longer inlined", file, callee)
	}
}
