//go:build unix

package tail

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flatheap/ingest"
)

// syncTailer is a Tailer driven by the test on its own goroutine, without
// Run: follow reads what was appended, as a pass would.
type syncTailer struct {
	*Tailer
	w   *watched
	out *[]string
}

// newSyncTailer follows name from its beginning and records every line
// handed over ("ok ..."), and every line that failed ("bad <reason> ...").
func newSyncTailer(t testing.TB, name string, h ingest.Handler) *syncTailer {
	t.Helper()
	out := new([]string)
	if h == nil {
		h = ingest.HandlerFunc(func(r *ingest.Request) { *out = append(*out, "ok "+string(r.Line)) })
	}
	tl, err := New(Config{
		Paths: []string{name}, Handler: h, Poll: true, Logger: quietLogger(),
		ReadBuffer: minReadBuffer, BadLineInterval: -1,
		OnBadLine: func(line []byte, _ string, err error) {
			*out = append(*out, "bad "+ingest.ErrorReason(err)+" "+string(line))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tl.now = time.Now()
	tl.addName(name, false)
	s := &syncTailer{Tailer: tl, w: tl.names[name], out: out}
	tl.check(s.w)
	if s.w.cur == nil {
		t.Fatal("file not opened")
	}
	t.Cleanup(tl.closeAll)
	return s
}

func (s *syncTailer) follow()         { s.Tailer.follow(s.w.cur) }
func (s *syncTailer) finish()         { s.Tailer.finishLastLine(s.w.cur) }
func (s *syncTailer) lines() []string { return *s.out }
func (s *syncTailer) offset() int64   { return s.w.cur.offset }

// referenceLines frames b the slow way: split at "\n", drop "\r" before it
// and empty lines, too long past ingest.MaxLineLength, the last piece
// without "\n" only when finish.
func referenceLines(b []byte, finish bool) []string {
	var out []string
	pieces := bytes.Split(b, []byte("\n"))
	last := pieces[len(pieces)-1]
	pieces = pieces[:len(pieces)-1]
	// A last line without its ending counts once nothing more is written,
	// or at once when it is already too long even for a "\r\n" ending
	// (MaxLineLength+2 bytes): the Tailer cannot keep it whole to wait for
	// its end.
	if finish && len(last) > 0 || len(last) >= ingest.MaxLineLength+2 {
		pieces = append(pieces, last)
	}
	var p ingest.Parser
	var r ingest.Request
	for _, l := range pieces {
		l = bytes.TrimSuffix(l, []byte("\r"))
		switch {
		case len(l) == 0:
		case len(l) > ingest.MaxLineLength:
			out = append(out, "bad too_long "+string(l[:ingest.MaxLineLength]))
		default:
			if err := p.Parse(&r, l); err != nil {
				out = append(out, "bad "+ingest.ErrorReason(err)+" "+string(l))
			} else {
				out = append(out, "ok "+string(l))
			}
		}
	}
	return out
}

// FuzzAppendSplits checks that a file written in appends of any sizes,
// read after each append, gives the same lines as the whole file read at
// once, and as the reference framing.
func FuzzAppendSplits(f *testing.F) {
	f.Add([]byte(lines(0, 5)), []byte{3, 80, 1, 200})
	f.Add([]byte(lines(0, 3)+"\r\n\n"+"garbage\r\n"+accessLine(9)[:30]), []byte{0, 1, 2, 3, 250})
	f.Add([]byte("\n\n\r\n\r\r\n"), []byte{1})
	f.Add([]byte(lines(0, 2)+strings.Repeat("x", ingest.MaxLineLength)+"\r\n"+accessLine(3)), []byte{255, 7})
	f.Add([]byte(lines(0, 2)+strings.Repeat("y", ingest.MaxLineLength+1)+"\n"+accessLine(3)), []byte{40, 255, 255})
	f.Add([]byte(lines(0, 1)+strings.Repeat("z", 3*ingest.MaxLineLength)+"\n"+accessLine(3)), []byte{9, 255, 0, 128})
	f.Fuzz(func(t *testing.T, content, splits []byte) {
		if len(content) > 4*ingest.MaxLineLength {
			return
		}
		dir := t.TempDir()
		whole := dir + "/whole.log"
		if err := os.WriteFile(whole, content, 0o644); err != nil {
			t.Fatal(err)
		}
		one := newSyncTailer(t, whole, nil)
		one.follow()

		parts := dir + "/parts.log"
		if err := os.WriteFile(parts, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		inc := newSyncTailer(t, parts, nil)
		fh, err := os.OpenFile(parts, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		rest := content
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if i < len(splits) {
				// Sizes from 0 to a few lines, and long ones.
				n = min(n, int(splits[i])*int(splits[i])*2)
			}
			if _, err := fh.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
			inc.follow()
		}
		inc.follow()

		want := referenceLines(content, false)
		check := func(what string, got []string) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("%s: %d lines, want %d:\n got %.200q\nwant %.200q", what, len(got), len(want), got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s: line %d is %.200q, want %.200q", what, i, got[i], want[i])
				}
			}
		}
		check("one read", one.lines())
		check("appends", inc.lines())
		if one.offset() != inc.offset() {
			t.Fatalf("offsets %d and %d differ", one.offset(), inc.offset())
		}
		// Once nothing more is written, the last line counts even without
		// a line ending.
		one.finish()
		inc.finish()
		want = referenceLines(content, true)
		check("one read, finished", one.lines())
		check("appends, finished", inc.lines())
		st := inc.Stats()
		if st.Lines != st.Parsed+st.ParseErrors || st.Lines != uint64(len(want)) || st.Bytes != uint64(len(content)) {
			t.Fatalf("stats %+v for %d lines of %d bytes", st, len(want), len(content))
		}
	})
}
