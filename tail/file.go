package tail

import (
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// fileID is a file's device and inode numbers: unique among the files that
// exist at one time, and reused once a file is gone.
type fileID struct{ dev, ino uint64 }

// fpMax is how many of a file's first bytes its fingerprint covers.
const fpMax = 1024

// fingerprint is a CRC-32C of a file's first n bytes (n <= fpMax). With the
// file's device and inode it tells a file from a later one that got the
// same inode, and finds the copy of a file that copytruncate made.
type fingerprint struct {
	n   int
	sum uint32
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func fpOf(b []byte) fingerprint {
	return fingerprint{n: len(b), sum: crc32.Checksum(b, castagnoli)}
}

// maxOrphans bounds the old files being finished at once; past it the
// oldest is read to its end and closed at once.
const maxOrphans = 64

// file is one file the Tailer knows: open (followed under a name, or an
// old one being finished), or closed and remembered with its offset.
type file struct {
	id       fileID
	fp       fingerprint
	fd       int   // -1 when closed
	offset   int64 // just past the last line handed over or skipped
	size     int64 // size at the last fstat
	mtime    int64 // modification time at the last fstat
	name     string
	w        *watched // the name it is followed under; nil for old files
	skipping bool     // in a line too long (or cut by the start): skip to "\n"
	done     bool     // read to its end and closed
	// grew is when the file last grew: an old file is closed RotateWait
	// after it. For a closed file, when it was closed.
	grew time.Time
}

var errNotRegular = errors.New("not a regular file")

// check stats w's name and follows what it points to now. It returns true
// when it stopped following the name.
func (t *Tailer) check(w *watched) bool {
	w.dirty, w.modified = false, false
	var st fileStat
	err := statName(w.name, &st)
	if err == nil && !st.regular {
		err = errNotRegular
	}
	if err != nil && err != errNotRegular && !isNotExist(err) {
		t.readError("stat", w.name, err) // e.g. permission: keep what is followed
		return false
	}
	if err != nil {
		if w.cur != nil {
			t.leave(w)
		}
		w.alias = false
		if w.glob {
			t.removeName(w)
			return true
		}
		return false
	}
	if f := w.cur; f != nil {
		if f.id == st.id {
			w.seen = t.now
			t.follow(f)
			return false
		}
		t.leave(w)
	}
	// Rotated more than once since the last look: the files in between
	// were never seen.
	t.readSkipped(w.name, w.seen)
	if w.alias {
		if f := t.byID[st.id]; f != nil && f.fd >= 0 && f.w != nil {
			return false // still followed under its other name
		}
	}
	t.arrive(w)
	return false
}

// leave is called when w's name no longer points to its file (renamed or
// removed): the file is read to its end now, and read on as an old file
// until it has not grown for RotateWait.
func (t *Tailer) leave(w *watched) {
	f := w.cur
	w.cur, f.w = nil, nil
	t.follow(f)
	f.grew = t.now
	t.orphans = append(t.orphans, f)
	t.pub.update(func(s *Stats) { s.Rotations++ })
	if len(t.orphans) > maxOrphans {
		t.retire(t.orphans[0])
		t.orphans = slices.Delete(t.orphans, 0, 1)
	}
}

// arrive opens the file at w's name and follows it.
func (t *Tailer) arrive(w *watched) {
	fd, err := openFile(w.name)
	if err != nil {
		if !isNotExist(err) {
			t.readError("open", w.name, err)
		}
		return
	}
	var st fileStat
	if err := fstat(fd, &st); err != nil || !st.regular {
		closeFile(fd)
		if err != nil {
			t.readError("stat", w.name, err)
		}
		return
	}
	f := t.byID[st.id]
	if f != nil && f.fd >= 0 {
		closeFile(fd)
		if f.w != nil {
			w.alias = true // the same file under two names: followed once
			return
		}
		// An old file that a pattern matches under its new name.
		t.unorphan(f)
		f.w, w.cur, w.alias = w, f, false
		t.follow(f)
		return
	}
	if t.open >= t.cfg.MaxFiles {
		closeFile(fd)
		t.pub.update(func(s *Stats) { s.FilesRefused++ })
		if t.log.allow(t.now, time.Minute) {
			t.cfg.Logger.Warn("tail: MaxFiles files open; not following", "name", w.name, "max_files", t.cfg.MaxFiles)
		}
		return
	}
	w.alias = false
	if f != nil {
		// Known from before, closed: the same file only if it starts the
		// same. A file read to its end whose inode a new file got is
		// forgotten; one the checkpoint had not finished was truncated
		// (copytruncate) and what was not read may be in the copy.
		f.fd = fd
		same := st.size >= f.offset && t.sameStart(f, st.size)
		if same || !f.done {
			t.open++
			f.w, w.cur, f.done, f.grew, w.seen = w, f, false, t.now, t.now
			if f.name == "" {
				f.name = w.name
			}
			if unread := f.offset > 0; !same && !t.truncated(f) && unread {
				t.missing(f.name)
			}
			t.stateDirty = true
			t.follow(f)
			return
		}
		delete(t.byID, f.id)
	}
	f = &file{id: st.id, fd: fd, name: w.name, w: w, grew: t.now}
	if t.starting && !t.cfg.FromBeginning && !t.ckNames[w.name] && st.size > 0 {
		// Start at the end, like tail -F; when the last line is still
		// being written, skip its rest.
		f.offset = st.size
		var last [1]byte
		if n, _ := pread(fd, last[:], st.size-1); n == 1 && last[0] != '\n' {
			f.skipping = true
		}
	}
	t.byID[st.id] = f
	t.open++
	w.cur, w.seen = f, t.now
	t.stateDirty = true
	t.follow(f)
}

// follow reads what f holds past its offset, after checking that it was
// not truncated.
func (t *Tailer) follow(f *file) {
	var st fileStat
	if err := fstat(f.fd, &st); err != nil {
		t.readError("stat", f.name, err)
		return
	}
	if st.size == f.size && st.mtime == f.mtime && st.mtime != 0 && st.size == f.offset {
		return // nothing new: not even rewritten to the same size
	}
	if st.size < f.offset || !t.sameStart(f, st.size) {
		t.truncated(f)
		t.sameStart(f, st.size) // fingerprint what it holds now
	}
	f.size, f.mtime = st.size, st.mtime
	if st.size > f.offset {
		t.readFile(f)
	}
}

// sameStart reports whether f still starts with the bytes its
// fingerprint covers, and extends the fingerprint to the first
// min(size, fpMax) bytes.
func (t *Tailer) sameStart(f *file, size int64) bool {
	want := int(min(size, fpMax))
	if want < f.fp.n {
		return false
	}
	if want == 0 {
		return true
	}
	n, err := pread(f.fd, t.fpBuf[:want], 0)
	if err != nil && n < f.fp.n {
		t.readError("read", f.name, err)
		return true // cannot tell: do not take it for a truncation
	}
	if n < f.fp.n || (f.fp.n > 0 && fpOf(t.fpBuf[:f.fp.n]) != f.fp) {
		return false
	}
	if n > f.fp.n {
		f.fp = fpOf(t.fpBuf[:n])
		t.stateDirty = true
	}
	return true
}

// truncated starts f again from its start, after reading what it had not
// read from the copy copytruncate made, when it finds one. It reports
// whether it found the copy.
func (t *Tailer) truncated(f *file) bool {
	found := false
	if f.offset > 0 {
		if c := t.findSibling(f.name, f.id, f.fp, f.offset, false); c != nil {
			found = true
			c.name, c.skipping = f.name, f.skipping
			t.byID[c.id] = c
			t.open++
			t.orphans = append(t.orphans, c)
			t.follow(c)
		} else if f.size > f.offset {
			lost := uint64(f.size - f.offset)
			t.pub.update(func(s *Stats) { s.LostBytes += lost })
		}
	}
	t.pub.update(func(s *Stats) {
		s.Truncations++
		if found {
			s.CopiesRead++
		}
	})
	f.offset, f.size, f.fp, f.skipping = 0, 0, fingerprint{}, false
	t.stateDirty = true
	return found
}

// compressedExt are the endings of rotated files that logrotate compressed:
// never a copy to read.
var compressedExt = []string{".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z", ".zip", ".br"}

// findSibling looks in the directory of name for a file whose name starts
// with name's and that starts with the bytes fp covers and holds at least
// offset bytes: the file id renamed (preferred, when sameID), or a copy. It
// returns it open, at offset, or nil. Files followed under a name are not
// candidates.
func (t *Tailer) findSibling(name string, id fileID, fp fingerprint, offset int64, sameID bool) *file {
	if fp.n == 0 {
		return nil
	}
	dirPath, base := filepath.Split(name)
	entries, err := os.ReadDir(filepath.Clean(dirPath))
	if err != nil {
		return nil
	}
	var best *file
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !rotatedName(n, base) {
			continue
		}
		full := filepath.Join(dirPath, n)
		if t.names[full] != nil {
			continue
		}
		fd, err := openFile(full)
		if err != nil {
			continue
		}
		var st fileStat
		if fstat(fd, &st) != nil || !st.regular || st.size < offset || st.size < int64(fp.n) {
			closeFile(fd)
			continue
		}
		if known := t.byID[st.id]; known != nil && known.fd >= 0 {
			closeFile(fd)
			continue
		}
		if k, _ := pread(fd, t.fpBuf2[:fp.n], 0); k != fp.n || fpOf(t.fpBuf2[:fp.n]) != fp {
			closeFile(fd)
			continue
		}
		c := &file{id: st.id, fd: fd, fp: fp, offset: offset, name: name, grew: t.now}
		if sameID && st.id == id {
			if best != nil {
				closeFile(best.fd)
			}
			return c
		}
		if best == nil && st.id != id {
			best = c
			continue
		}
		closeFile(fd)
	}
	return best
}

// skippedSlack is how much earlier than the last look at a name a file's
// modification time may be and still count as after it: file times come
// from a coarser clock.
const skippedSlack = time.Second

// readSkipped reads, from their start, the files beside name (same
// beginning, not compressed) that were modified after since and are
// unknown: neither their device and inode nor their first bytes are those
// of a file known. They were put at the name and rotated away before the
// Tailer looked (two rotations between two looks, or rotations while it
// was stopped). Without modification times (outside Linux) it does
// nothing.
func (t *Tailer) readSkipped(name string, since time.Time) {
	if since.IsZero() {
		return
	}
	dirPath, base := filepath.Split(name)
	entries, err := os.ReadDir(filepath.Clean(dirPath))
	if err != nil {
		return
	}
	var found []*file
	var mtimes []int64
	after := since.Add(-skippedSlack).UnixNano()
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !rotatedName(n, base) {
			continue
		}
		full := filepath.Join(dirPath, n)
		if t.names[full] != nil {
			continue
		}
		var st fileStat
		if statName(full, &st) != nil || !st.regular || st.size == 0 || st.mtime == 0 || st.mtime < after {
			continue
		}
		if t.byID[st.id] != nil {
			continue
		}
		fd, err := openFile(full)
		if err != nil {
			continue
		}
		if fstat(fd, &st) != nil || t.byID[st.id] != nil || t.copyOfKnown(fd) {
			closeFile(fd)
			continue
		}
		found = append(found, &file{id: st.id, fd: fd, name: name, grew: t.now})
		mtimes = append(mtimes, st.mtime)
	}
	// Oldest first: the order they were written in.
	for len(found) > 0 {
		i := 0
		for j := range mtimes {
			if mtimes[j] < mtimes[i] {
				i = j
			}
		}
		f := found[i]
		found, mtimes = slices.Delete(found, i, i+1), slices.Delete(mtimes, i, i+1)
		if t.open >= t.cfg.MaxFiles {
			closeFile(f.fd)
			t.pub.update(func(s *Stats) { s.FilesRefused++ })
			continue
		}
		t.byID[f.id] = f
		t.open++
		t.orphans = append(t.orphans, f)
		t.pub.update(func(s *Stats) { s.SkippedRead++ })
		t.follow(f)
	}
}

// copyOfKnown reports whether the open file fd starts with the bytes of a
// known file's fingerprint: a copy of it.
func (t *Tailer) copyOfKnown(fd int) bool {
	n, _ := pread(fd, t.fpBuf2, 0)
	for _, g := range t.byID {
		if g.fp.n > 0 && g.fp.n <= n && fpOf(t.fpBuf2[:g.fp.n]) == g.fp {
			return true
		}
	}
	return false
}

// rotatedName reports whether n may be a name rotation gave a file named
// base: base followed by ".", "-" or "_" and a suffix with a digit
// (access.log.1, access.log-20261206), and not compressed.
func rotatedName(n, base string) bool {
	if len(n) <= len(base)+1 || !strings.HasPrefix(n, base) || hasAnySuffix(n, compressedExt) {
		return false
	}
	rest := n[len(base):]
	return strings.IndexByte(".-_", rest[0]) >= 0 && strings.ContainsAny(rest, "0123456789")
}

func hasAnySuffix(s string, suffixes []string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}

func (t *Tailer) unorphan(f *file) {
	if i := slices.Index(t.orphans, f); i >= 0 {
		t.orphans = slices.Delete(t.orphans, i, i+1)
	}
}

// closeIdleOrphans closes the old files that have not grown for
// RotateWait.
func (t *Tailer) closeIdleOrphans() {
	for i := 0; i < len(t.orphans); {
		f := t.orphans[i]
		if t.stopping() || t.now.Sub(f.grew) < t.cfg.RotateWait {
			i++
			continue
		}
		t.retire(f)
		t.orphans = slices.Delete(t.orphans, i, i+1)
	}
}

// retire reads an old file to its end, hands over its last line even
// without a line ending (nobody writes to it any more), closes it and
// remembers it as done.
func (t *Tailer) retire(f *file) {
	t.follow(f)
	if t.stopping() {
		// Stopped in the middle: keep it open, the checkpoint has it.
		return
	}
	t.finishLastLine(f)
	closeFile(f.fd)
	f.fd = -1
	t.open--
	f.done = true
	f.grew = t.now
	t.stateDirty = true
}

// closeAll closes every open file when the Tailer stops. The checkpoint was
// written before.
func (t *Tailer) closeAll() {
	for _, f := range t.byID {
		if f.fd >= 0 {
			closeFile(f.fd)
			f.fd = -1
		}
	}
	t.open = 0
}

// readError counts a failed open, stat or read, and logs it at most once a
// minute.
func (t *Tailer) readError(op, name string, err error) {
	t.pub.update(func(s *Stats) { s.ReadErrors++ })
	if t.log.allow(t.now, time.Minute) {
		t.cfg.Logger.Warn("tail: "+op+" failed (logged at most once a minute)", "name", name, "err", err)
	}
}

// missing counts a file the checkpoint had not finished that cannot be
// found again.
func (t *Tailer) missing(name string) {
	t.pub.update(func(s *Stats) { s.FilesMissing++ })
	t.cfg.Logger.Warn("tail: a file the checkpoint had not read to its end is gone; its unread lines are lost", "name", name)
}
