package tail

import (
	"bytes"
	"sync"
	"time"

	"github.com/flatheap/ingest"
)

// readFile reads f from its offset to its end, a buffer at a time, and
// hands over every complete line. A partial last line is read again, from
// its start, by the next read: the file is the only buffer it has, and no
// part of a line is kept between reads.
func (t *Tailer) readFile(f *file) {
	for !t.stopping() {
		n, err := pread(f.fd, t.buf, f.offset)
		if err != nil && n == 0 {
			t.readError("read", f.name, err)
			return
		}
		if n == 0 {
			return
		}
		used := t.frame(f, t.buf[:n])
		if used > 0 {
			f.offset += int64(used)
			f.grew = t.now
			t.tl.bytes += uint64(used)
			t.stateDirty = true
		}
		t.pub.add(&t.tl)
		if n < len(t.buf) {
			return // the end, for now
		}
		if t.cfg.StateDir != "" {
			if now := time.Now(); now.Sub(t.lastCheckpoint) >= t.cfg.CheckpointInterval {
				t.now = now
				t.writeState()
			}
		}
	}
}

// frame hands over the complete lines of b, which starts at f's offset, and
// returns how many bytes it consumed: up to the end of the last complete
// line, or all of b when b ends inside a line too long.
func (t *Tailer) frame(f *file, b []byte) int {
	pos := 0
	if f.skipping {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return len(b)
		}
		f.skipping = false
		pos = i + 1
	}
	for pos < len(b) {
		rest := b[pos:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if len(rest) >= minReadBuffer {
				// No line ending in MaxLineLength+2 bytes: too long.
				t.tooLong(f, rest[:ingest.MaxLineLength:ingest.MaxLineLength])
				f.skipping = true
				return len(b)
			}
			return pos // read again from the line's start
		}
		t.line(f, rest[:i:i])
		pos += i + 1
	}
	return pos
}

// finishLastLine hands over what follows f's last line ending, as a line,
// when nothing more will be written to f.
func (t *Tailer) finishLastLine(f *file) {
	n, _ := pread(f.fd, t.buf, f.offset)
	if n == 0 || n >= minReadBuffer {
		return
	}
	if !f.skipping {
		t.line(f, t.buf[:n:n])
	}
	f.skipping = false
	f.offset += int64(n)
	t.tl.bytes += uint64(n)
	t.pub.add(&t.tl)
}

// line parses one line, without its "\n", and hands it to the handler.
func (t *Tailer) line(f *file, line []byte) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[: n-1 : n-1]
	}
	if len(line) == 0 {
		return
	}
	if len(line) > ingest.MaxLineLength {
		t.tooLong(f, line[:ingest.MaxLineLength:ingest.MaxLineLength])
		return
	}
	t.tl.lines++
	if err := t.p.Parse(&t.r, line); err != nil {
		t.tl.errs++
		t.tl.parseErrors[reasonIndex(ingest.ErrorReason(err))]++
		if t.cfg.OnBadLine != nil {
			t.badLineCall(line, f, err)
		}
		return
	}
	t.tl.parsed++
	t.serve(f)
}

// tooLong counts a line longer than ingest.MaxLineLength; head is its
// start.
func (t *Tailer) tooLong(f *file, head []byte) {
	t.tl.lines++
	t.tl.errs++
	t.tl.tooLong++
	t.tl.parseErrors[reasonTooLong]++
	if t.cfg.OnBadLine != nil {
		t.badLineCall(head, f, errTooLong())
	}
}

// errTooLong returns the error Parse returns for a line too long: it
// wraps ingest.ErrTooLong, and ingest.ErrorReason gives "too_long" for it.
var errTooLong = sync.OnceValue(func() error {
	var p ingest.Parser
	var r ingest.Request
	return p.Parse(&r, make([]byte, ingest.MaxLineLength+1))
})

// serve calls the handler, recovering a panic.
func (t *Tailer) serve(f *file) {
	defer func() {
		if v := recover(); v != nil {
			t.tl.panics++
			t.logPanic("handler", v)
		}
	}()
	if t.fh != nil {
		t.fh.ServeFileLine(f.name, &t.r)
	} else {
		t.cfg.Handler.ServeLine(&t.r)
	}
}

// badLineCall passes a sample of the failing lines to Config.OnBadLine.
func (t *Tailer) badLineCall(line []byte, f *file, err error) {
	if t.cfg.BadLineInterval > 0 && !t.badLine.allow(time.Now(), t.cfg.BadLineInterval) {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			t.tl.panics++
			t.logPanic("OnBadLine", v)
		}
	}()
	t.cfg.OnBadLine(line, f.name, err)
}
