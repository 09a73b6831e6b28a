//go:build unix && !race

package tail

import (
	"os"
	"testing"

	"github.com/flatheap/ingest"
)

// TestFollowNoAllocs: reading appended lines (fstat, fingerprint check,
// reads, framing, parsing, the handler call) allocates nothing, for good
// lines, bad lines, too long lines and partial ones.
func TestFollowNoAllocs(t *testing.T) {
	_, name := tempLog(t)
	if err := os.WriteFile(name, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	n := 0
	s := newSyncTailer(t, name, ingest.HandlerFunc(func(r *ingest.Request) { n++ }))
	s.cfg.OnBadLine = nil
	fh, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	chunk := []byte(lines(0, 50) + "garbage\n" + string(make([]byte, ingest.MaxLineLength+10)) + "\n" + accessLine(1)[:20])
	rest := []byte(accessLine(1)[20:])
	allocs := testing.AllocsPerRun(50, func() {
		fh.Write(chunk)
		s.follow()
		fh.Write(rest)
		s.follow()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
	if st := s.Stats(); n != 51*51 || st.TooLong != 51 || st.Lines != 53*51 {
		t.Fatalf("%d lines handed over; stats %+v", n, st)
	}
}
