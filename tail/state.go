package tail

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/flatheap/ingest"
)

// StateFile is the name of the checkpoint file in Config.StateDir.
const StateFile = "tail-state.json"

// stateVersion is the version of the checkpoint format.
const stateVersion = 1

// stateHead is the first line of a checkpoint file: the version, and when
// it was written (unix ms).
type stateHead struct {
	Version int   `json:"tail_state"`
	Time    int64 `json:"time"`
}

// maxStateLine bounds one line of the checkpoint file (a file name is at
// most 4 KiB on Linux).
const maxStateLine = 64 << 10

// ErrState is what the error of Run wraps when the checkpoint file cannot
// be read.
var ErrState = errors.New("tail: bad checkpoint")

// stateEntry is one file in the checkpoint: one JSON object per line.
type stateEntry struct {
	Name     string `json:"name"`
	Dev      uint64 `json:"dev"`
	Ino      uint64 `json:"ino"`
	FPLen    int    `json:"fp_len"`
	FP       uint32 `json:"fp"`
	Offset   int64  `json:"offset"`
	Skipping bool   `json:"skipping,omitempty"`
	Done     bool   `json:"done,omitempty"`
	Closed   int64  `json:"closed,omitempty"` // unix ms, for done files
}

// loadState reads the checkpoint, if there is one, into t.byID as closed
// files.
func (t *Tailer) loadState() error {
	if t.cfg.StateDir == "" {
		return nil
	}
	if err := os.MkdirAll(t.cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	path := filepath.Join(t.cfg.StateDir, StateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	t.ckNames = make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, maxStateLine)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			var h stateHead
			if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Version != stateVersion {
				return fmt.Errorf("%w: %s: line 1 is not a version %d header", ErrState, path, stateVersion)
			}
			t.ckTime = time.UnixMilli(h.Time)
			continue
		}
		var e stateEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("%w: %s line %d: %w", ErrState, path, line, err)
		}
		if e.Offset < 0 || e.FPLen < 0 || e.FPLen > fpMax || e.Name == "" {
			return fmt.Errorf("%w: %s line %d: out of range", ErrState, path, line)
		}
		id := fileID{dev: e.Dev, ino: e.Ino}
		t.byID[id] = &file{
			id: id, fd: -1, fp: fingerprint{n: e.FPLen, sum: e.FP}, offset: e.Offset,
			name: e.Name, skipping: e.Skipping, done: e.Done, grew: time.UnixMilli(e.Closed),
		}
		t.ckNames[e.Name] = true
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrState, path, err)
	}
	return nil
}

// recoverState finds the files the checkpoint had not finished that are no
// longer at a followed name: renamed by a rotation while the Tailer was
// stopped (found by device and inode) or copied by copytruncate (found by
// their first bytes). They are read from their offset, before the new files
// at their names. Those not found are counted in Stats.FilesMissing.
func (t *Tailer) recoverState() {
	if len(t.byID) == 0 {
		return
	}
	atName := make(map[fileID]bool)
	for _, w := range t.order {
		var st fileStat
		if statName(w.name, &st) == nil && st.regular {
			atName[st.id] = true
		}
	}
	for id, f := range t.byID {
		if f.fd >= 0 || f.done || atName[id] {
			continue // at a name, arrive checks its first bytes
		}
		if f.fp.n == 0 && f.offset == 0 {
			delete(t.byID, id) // nothing was read of it: nothing to resume
			continue
		}
		if t.renumbered(f) {
			continue
		}
		c := t.findSibling(f.name, id, f.fp, f.offset, true)
		delete(t.byID, id)
		if c == nil {
			t.missing(f.name)
			continue
		}
		c.skipping = f.skipping
		if c.id != id {
			t.pub.update(func(s *Stats) { s.CopiesRead++ })
		}
		t.byID[c.id] = c
		t.open++
		t.orphans = append(t.orphans, c)
	}
	// Files a rotation put in place and rotated away again while the
	// Tailer was stopped: never seen, modified since the checkpoint.
	for _, w := range t.order {
		if t.ckNames[w.name] {
			t.readSkipped(w.name, t.ckTime)
		}
	}
	t.stateDirty = true
}

// renumbered reports whether the file at f's name, under another device
// and inode, starts with f's first bytes and holds f's offset: the same
// file, whose device number changed across a reboot (some network and
// overlay file systems). f is then known by the new numbers.
func (t *Tailer) renumbered(f *file) bool {
	if t.names[f.name] == nil || f.fp.n == 0 {
		return false
	}
	fd, err := openFile(f.name)
	if err != nil {
		return false
	}
	defer closeFile(fd)
	var st fileStat
	if fstat(fd, &st) != nil || !st.regular || st.size < f.offset || t.byID[st.id] != nil {
		return false
	}
	if n, _ := pread(fd, t.fpBuf2[:f.fp.n], 0); n != f.fp.n || fpOf(t.fpBuf2[:n]) != f.fp {
		return false
	}
	delete(t.byID, f.id)
	f.id = st.id
	t.byID[f.id] = f
	return true
}

// maybeCheckpoint writes the checkpoint when something changed and the
// interval has passed, or when force.
func (t *Tailer) maybeCheckpoint(force bool) {
	if t.cfg.StateDir == "" || !t.stateDirty {
		return
	}
	if force || t.now.Sub(t.lastCheckpoint) >= t.cfg.CheckpointInterval {
		t.writeState()
	}
}

// writeState writes the checkpoint atomically: a temporary file, written
// and synced, renamed over the old one, and the directory synced.
func (t *Tailer) writeState() {
	t.lastCheckpoint = t.now
	t.prune()
	b := append(t.stateBuf[:0], `{"tail_state":`...)
	b = strconv.AppendInt(b, stateVersion, 10)
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, t.now.UnixMilli(), 10)
	b = append(b, "}\n"...)
	for _, f := range t.byID {
		b = appendEntry(b, f)
	}
	t.stateBuf = b
	err := writeFileSync(t.cfg.StateDir, StateFile, b)
	t.pub.update(func(s *Stats) {
		if err != nil {
			s.CheckpointErrors++
		} else {
			s.Checkpoints++
		}
	})
	if err != nil {
		if t.log.allow(t.now, time.Minute) {
			t.cfg.Logger.Error("tail: cannot write the checkpoint (logged at most once a minute)", "dir", t.cfg.StateDir, "err", err)
		}
		return
	}
	t.stateDirty = false
}

func appendEntry(b []byte, f *file) []byte {
	b = append(b, `{"name":`...)
	b = ingest.AppendJSONString(b, f.name)
	b = append(b, `,"dev":`...)
	b = strconv.AppendUint(b, f.id.dev, 10)
	b = append(b, `,"ino":`...)
	b = strconv.AppendUint(b, f.id.ino, 10)
	b = append(b, `,"fp_len":`...)
	b = strconv.AppendInt(b, int64(f.fp.n), 10)
	b = append(b, `,"fp":`...)
	b = strconv.AppendUint(b, uint64(f.fp.sum), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, f.offset, 10)
	if f.skipping {
		b = append(b, `,"skipping":true`...)
	}
	if f.done {
		b = append(b, `,"done":true,"closed":`...)
		b = strconv.AppendInt(b, f.grew.UnixMilli(), 10)
	}
	return append(b, "}\n"...)
}

// prune forgets the closed files closed more than ForgetAfter ago, and the
// oldest ones past MaxFiles.
func (t *Tailer) prune() {
	var closed []*file
	for id, f := range t.byID {
		if f.fd >= 0 || !f.done {
			continue
		}
		if t.now.Sub(f.grew) > t.cfg.ForgetAfter {
			delete(t.byID, id)
			continue
		}
		closed = append(closed, f)
	}
	if len(closed) > t.cfg.MaxFiles {
		slices.SortFunc(closed, func(a, b *file) int { return a.grew.Compare(b.grew) })
		for _, f := range closed[:len(closed)-t.cfg.MaxFiles] {
			delete(t.byID, f.id)
		}
		closed = closed[len(closed)-t.cfg.MaxFiles:]
	}
	t.publishFiles()
}

// publishFiles publishes the counts of files and the memory estimate.
func (t *Tailer) publishFiles() {
	open, known := t.open, len(t.byID)
	t.pub.update(func(s *Stats) {
		s.Files = open
		s.Remembered = known - open
		s.MemoryBytes = int64(s.ReadBufferBytes) + int64(known+len(t.names))*fileBytes + int64(cap(t.stateBuf))
		s.MemoryLimitBytes = int64(s.ReadBufferBytes) + int64(3*t.cfg.MaxFiles)*(fileBytes+stateLineBytes)
	})
}

// fileBytes estimates the memory of one file known: the struct, its name,
// its map entry, and a followed name's share.
const fileBytes = 320

// stateLineBytes estimates one file's line in the checkpoint buffer.
const stateLineBytes = 160

// writeFileSync writes name in dir atomically and durably.
func writeFileSync(dir, name string, b []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
