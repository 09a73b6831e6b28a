//go:build unix

package tail

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func stateConfig(c *collector, stateDir string, paths ...string) Config {
	cfg := testConfig(c, false, paths...)
	cfg.StateDir = stateDir
	cfg.FromBeginning = true
	return cfg
}

// readState returns the entries of the checkpoint file in dir.
func readState(t testing.TB, dir string) []stateEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var h stateHead
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &h) != nil || h.Version != stateVersion || h.Time == 0 {
		t.Fatalf("no header in the checkpoint")
	}
	var es []stateEntry
	for sc.Scan() {
		var e stateEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("checkpoint line %q: %v", sc.Text(), err)
		}
		es = append(es, e)
	}
	return es
}

// TestRestartExact stops and starts the Tailer again and again while the
// file grows and is rotated both ways between runs: every line is handed
// over exactly once.
func TestRestartExact(t *testing.T) {
	dir, name := tempLog(t)
	state := t.TempDir()
	c := newCollector()
	next := 0
	write := func(n int) {
		appendFile(t, name, lines(next, next+n))
		next += n
	}
	write(50) // before the first run: read from the beginning (FromBeginning)
	for run := range 6 {
		r := start(t, stateConfig(c, state, name))
		write(20)
		r.settle(t, c, next)
		write(30)
		r.settle(t, c, next)
		r.stop(t)
		// Between runs: more lines, then a rotation of one kind or the
		// other, then more lines in the new file.
		write(10)
		switch run % 3 {
		case 0: // rename and create
			if err := os.Rename(name, filepath.Join(dir, rotatedAs(run))); err != nil {
				t.Fatal(err)
			}
		case 1: // copytruncate
			copyTruncate(t, name, filepath.Join(dir, rotatedAs(run)))
		}
		write(10)
	}
	r := start(t, stateConfig(c, state, name))
	r.settle(t, c, next)
	r.stop(t)
	c.exactly(t, 0, next)
	if st := r.Stats(); st.FilesMissing != 0 || st.LostBytes != 0 {
		t.Fatalf("missing %d lost %d", st.FilesMissing, st.LostBytes)
	}
}

// TestRestartMidRotation stops the Tailer while an old file of a rotation
// is still being finished; the next run finds it by device and inode.
func TestRestartMidRotation(t *testing.T) {
	dir, name := tempLog(t)
	state := t.TempDir()
	appendFile(t, name, lines(0, 10))
	c := newCollector()
	cfg := stateConfig(c, state, name)
	cfg.RotateWait = time.Hour
	r := start(t, cfg)
	r.settle(t, c, 10)
	old := filepath.Join(dir, "access.log.1")
	if err := os.Rename(name, old); err != nil {
		t.Fatal(err)
	}
	appendFile(t, name, lines(10, 20))
	r.settle(t, c, 20)
	r.stop(t)
	if es := readState(t, state); len(es) != 2 {
		t.Fatalf("checkpoint %+v, want the old and the new file", es)
	}
	appendFile(t, old, lines(20, 30)) // a late writer
	appendFile(t, name, lines(30, 40))
	r = start(t, cfg)
	r.settle(t, c, 40)
	r.stop(t)
	c.exactly(t, 0, 40)
}

func TestCheckpointWrittenWhileRunning(t *testing.T) {
	_, name := tempLog(t)
	state := t.TempDir()
	c := newCollector()
	cfg := stateConfig(c, state, name)
	cfg.CheckpointInterval = 50 * time.Millisecond
	r := start(t, cfg)
	appendFile(t, name, lines(0, 10))
	size := int64(len(lines(0, 10)))
	waitFor(t, "a checkpoint at the end of the file", func() bool {
		b, err := os.ReadFile(filepath.Join(state, StateFile))
		if err != nil {
			return false
		}
		return strings.Contains(string(b), `"offset":`+itoa(size))
	})
	es := readState(t, state)
	var st syscall.Stat_t
	if err := syscall.Stat(name, &st); err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Ino != uint64(st.Ino) || es[0].Name != name || es[0].FPLen != int(min(size, fpMax)) {
		t.Fatalf("checkpoint %+v", es)
	}
	if _, err := os.Stat(filepath.Join(state, StateFile+".tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
	waitFor(t, "the checkpoint counted", func() bool { return r.Stats().Checkpoints > 0 })
}

// TestRecycledInode: a file whose device and inode the checkpoint knows
// but whose first bytes differ is a new file.
func TestRecycledInode(t *testing.T) {
	_, name := tempLog(t)
	state := t.TempDir()
	appendFile(t, name, lines(0, 10))
	var st syscall.Stat_t
	if err := syscall.Stat(name, &st); err != nil {
		t.Fatal(err)
	}
	// A finished file that had this inode, and other first bytes.
	e := stateEntry{Name: name, Dev: uint64(st.Dev), Ino: uint64(st.Ino), FPLen: 100, FP: 12345,
		Offset: 500, Done: true, Closed: time.Now().UnixMilli()}
	writeStateFile(t, state, e)
	c := newCollector()
	cfg := stateConfig(c, state, name)
	cfg.FromBeginning = false // the name had a file: read the new one whole anyway
	r := start(t, cfg)
	r.settle(t, c, 10)
	r.stop(t)
	c.exactly(t, 0, 10)
	if st := r.Stats(); st.FilesMissing != 0 || st.Truncations != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestMissingFileCounted: an unfinished file of the checkpoint that is gone
// is counted.
func TestMissingFileCounted(t *testing.T) {
	_, name := tempLog(t)
	state := t.TempDir()
	writeStateFile(t, state, stateEntry{Name: name + ".gone", Dev: 1, Ino: 2, FPLen: 100, FP: 1, Offset: 100})
	c := newCollector()
	r := start(t, stateConfig(c, state, name))
	appendFile(t, name, lines(0, 3))
	r.settle(t, c, 3)
	r.stop(t)
	if st := r.Stats(); st.FilesMissing != 1 {
		t.Fatalf("missing %d, want 1", st.FilesMissing)
	}
	for _, e := range readState(t, state) {
		if e.Name == name+".gone" {
			t.Fatal("the missing file is still in the checkpoint")
		}
	}
}

// TestStateBounded: closed files are forgotten after ForgetAfter, and at
// most MaxFiles are remembered.
func TestStateBounded(t *testing.T) {
	_, name := tempLog(t)
	state := t.TempDir()
	now := time.Now()
	var es []stateEntry
	for i := range 50 {
		es = append(es, stateEntry{Name: name + ".old", Dev: 1, Ino: uint64(100 + i), FPLen: 10, FP: 1, Offset: 10,
			Done: true, Closed: now.Add(-time.Duration(i) * time.Minute).UnixMilli()})
	}
	writeStateFile(t, state, es...)
	c := newCollector()
	cfg := stateConfig(c, state, name)
	cfg.ForgetAfter = 30*time.Minute + 30*time.Second // keeps i = 0..30
	cfg.MaxFiles = 20                                 // keeps i = 0..19
	r := start(t, cfg)
	appendFile(t, name, lines(0, 1))
	r.settle(t, c, 1)
	r.stop(t)
	got := readState(t, state)
	if len(got) != 21 { // 20 remembered and the file followed
		t.Fatalf("%d entries, want 21", len(got))
	}
	for _, e := range got {
		if e.Done && e.Ino >= 120 {
			t.Fatalf("kept %+v, older than the 20 newest", e)
		}
	}
	if st := r.Stats(); st.Remembered != 20 {
		t.Fatalf("remembered %d", st.Remembered)
	}
}

func TestCorruptState(t *testing.T) {
	_, name := tempLog(t)
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, StateFile), []byte(`{"tail_state":1,"time":1}`+"\n{not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tl, err := New(Config{Paths: []string{name}, Handler: newCollector(), StateDir: state, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Run(t.Context()); !errors.Is(err, ErrState) {
		t.Fatalf("Run: %v, want ErrState", err)
	}
}

func writeStateFile(t testing.TB, dir string, es ...stateEntry) {
	t.Helper()
	b := []byte(`{"tail_state":1,"time":` + itoa(time.Now().UnixMilli()) + "}\n")
	for _, e := range es {
		j, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b = append(append(b, j...), '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, StateFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// rotatedAs is the name of the run-th rotated file: logrotate's ".N", or
// its dateext "-YYYYMMDD".
func rotatedAs(run int) string {
	if run%2 == 0 {
		return "access.log." + strconv.Itoa(run+1)
	}
	return "access.log-2026120" + strconv.Itoa(run)
}

// TestRenumberedDevice: a file at its name whose device number changed
// (across a reboot) is known by its first bytes, and resumed.
func TestRenumberedDevice(t *testing.T) {
	_, name := tempLog(t)
	state := t.TempDir()
	appendFile(t, name, lines(0, 10))
	c := newCollector()
	r := start(t, stateConfig(c, state, name))
	r.settle(t, c, 10)
	r.stop(t)
	es := readState(t, state)
	es[0].Dev++
	writeStateFile(t, state, es...)
	appendFile(t, name, lines(10, 20))
	r = start(t, stateConfig(c, state, name))
	r.settle(t, c, 20)
	r.stop(t)
	c.exactly(t, 0, 20)
	if st := r.Stats(); st.FilesMissing != 0 {
		t.Fatalf("stats %+v", st)
	}
}
