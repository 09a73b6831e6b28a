package readme

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADME checks that every ```go block of README.md is one of the
// marked blocks of this package's files, verbatim (less the indentation of
// its marker), and that every marked block is in the README.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur []string
	in := false
	for line := range strings.SplitSeq(string(readme), "\n") {
		switch {
		case !in && line == "```go":
			in, cur = true, nil
		case in && line == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	if in {
		t.Fatal("README.md: a ```go block is not closed")
	}
	marked := markedBlocks(t)
	if len(blocks) == 0 || len(marked) == 0 {
		t.Fatalf("%d Go blocks in README.md, %d marked blocks here", len(blocks), len(marked))
	}
	quoted := map[string]bool{}
	for i, b := range blocks {
		name := ""
		for n, m := range marked {
			if m == b {
				name = n
			}
		}
		if name == "" {
			t.Errorf("README.md's Go block %d is none of the marked blocks:\n%s", i+1, b)
		}
		quoted[name] = true
	}
	for n := range marked {
		if !quoted[n] {
			t.Errorf("the marked block %q is not in README.md", n)
		}
	}
}

// markedBlocks returns the blocks between "// readme:NAME" and
// "// readme:end" in this package's files, by NAME, each line less the
// marker's indentation.
func markedBlocks(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]string{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		var block, indent string
		var lines []string
		for sc.Scan() {
			line := sc.Text()
			trimmed := strings.TrimLeft(line, "\t")
			switch {
			case block == "" && strings.HasPrefix(trimmed, "// readme:") && trimmed != "// readme:end":
				block, indent, lines = strings.TrimPrefix(trimmed, "// readme:"), line[:len(line)-len(trimmed)], nil
			case block != "" && trimmed == "// readme:end":
				if _, dup := blocks[block]; dup {
					t.Errorf("%s: a second block %q", name, block)
				}
				blocks[block] = strings.TrimRight(strings.Join(lines, "\n"), "\n")
				block = ""
			case block != "":
				if line != "" && !strings.HasPrefix(line, indent) {
					t.Errorf("%s: a line of block %q is indented less than its marker: %q", name, block, line)
				}
				lines = append(lines, strings.TrimPrefix(line, indent))
			}
		}
		f.Close()
		if block != "" {
			t.Errorf("%s: block %q has no end", name, block)
		}
	}
	return blocks
}
