package tail

import (
	"iter"
	"sync"

	"github.com/flatheap/ingest"
)

// Stats is a snapshot of a Tailer's counters. Every counter starts at zero
// when the Tailer is made and only grows.
//
// Each non-empty line read is counted in Lines and ends in exactly one of
// Parsed (handed to the handler) or ParseErrors; lines longer than
// ingest.MaxLineLength are parse errors with the reason "too_long", and are
// also counted in TooLong.
type Stats struct {
	// Bytes counts the bytes read past, lines, line endings, empty lines and
	// skipped long lines included. A partial last line is counted once it
	// is complete.
	Bytes uint64
	// Lines counts the non-empty lines read; Lines == Parsed + ParseErrors.
	Lines uint64
	// Parsed counts the lines handed to the handler.
	Parsed uint64
	// ParseErrors counts the lines that failed to parse; see
	// ParseErrorsByReason for the split by reason (ingest.ErrorReason).
	ParseErrors uint64
	// TooLong counts the lines longer than ingest.MaxLineLength, skipped
	// without being held in memory (also in ParseErrors as "too_long").
	TooLong uint64
	// HandlerPanics counts handler and OnBadLine calls that panicked and
	// were recovered.
	HandlerPanics uint64

	// Rotations counts files that left their name (renamed or removed)
	// while followed; each was then read to its end.
	Rotations uint64
	// Truncations counts files found shorter than what was read of them, or
	// whose first bytes changed: truncated, then read from their start.
	Truncations uint64
	// CopiesRead counts copies of truncated files (copytruncate) found and
	// read from where the Tailer was in the file when it was truncated; a
	// copy may hold nothing more.
	CopiesRead uint64
	// SkippedRead counts files found beside a followed name, modified since
	// the Tailer last looked at it and unknown to it: put at the name and
	// rotated away again before it looked (while it was stopped, or two
	// rotations within one look), and read from their start.
	SkippedRead uint64
	// LostBytes counts bytes known to have been written and never read: the
	// rest of a truncated file whose copy was not found (at least the part
	// the Tailer had seen the size of).
	LostBytes uint64
	// FilesMissing counts files the checkpoint had not finished that could
	// not be found again when the Tailer started: their unread rest is lost.
	FilesMissing uint64
	// FilesRefused counts files not followed because MaxFiles were open.
	FilesRefused uint64
	// ReadErrors counts failed opens, stats and reads of files (other than
	// a file missing).
	ReadErrors uint64
	// Checkpoints counts checkpoint files written; CheckpointErrors the
	// writes that failed (the next interval tries again).
	Checkpoints      uint64
	CheckpointErrors uint64

	// Files is the number of files open now: followed, and old ones being
	// finished after a rotation. At most MaxFiles.
	Files    int
	MaxFiles int
	// Remembered is the number of closed files whose identity and offset
	// are kept (see Config.ForgetAfter). At most MaxFiles.
	Remembered int
	// Inotify is true when changes are waited for with inotify, false when
	// the Tailer polls.
	Inotify bool
	// ReadBufferBytes is the memory of the read buffers: allocated by New,
	// fixed from then on. MemoryBytes adds an estimate of the per-file
	// state, and MemoryLimitBytes is that with MaxFiles open and MaxFiles
	// remembered.
	ReadBufferBytes  int
	MemoryBytes      int64
	MemoryLimitBytes int64

	parseErrors [maxReasons]uint64
}

// reasonLabels are the labels of ingest.ErrorReason, in the order
// ingest.Stats yields them.
var reasonLabels = func() []string {
	var st ingest.Stats
	var labels []string
	for label := range st.ParseErrorsByReason() {
		labels = append(labels, label)
	}
	return labels
}()

// maxReasons bounds the reasons counted; ingest has a dozen.
const maxReasons = 32

var (
	reasonOther   = reasonIndex("other")
	reasonTooLong = reasonIndex("too_long")
)

// reasonIndex returns the index of label in reasonLabels, or of "other".
func reasonIndex(label string) int {
	for i, l := range reasonLabels {
		if i < maxReasons && l == label {
			return i
		}
	}
	for i, l := range reasonLabels {
		if i < maxReasons && l == "other" {
			return i
		}
	}
	return 0
}

// ParseErrorsFor returns the number of lines that failed with the given
// ingest.ErrorReason label ("time", "status", "too_long", ...), or 0 for an
// unknown label.
func (s *Stats) ParseErrorsFor(reason string) uint64 {
	for i, l := range reasonLabels {
		if i < maxReasons && l == reason {
			return s.parseErrors[i]
		}
	}
	return 0
}

// ParseErrorsByReason yields every ingest.ErrorReason label with its count,
// zeros included, always in the same order.
func (s *Stats) ParseErrorsByReason() iter.Seq2[string, uint64] {
	return func(yield func(string, uint64) bool) {
		for i, label := range reasonLabels {
			if i >= maxReasons || !yield(label, s.parseErrors[i]) {
				return
			}
		}
	}
}

// tally is what the reading goroutine counts between two publishes: plain
// integers.
type tally struct {
	bytes, lines, parsed, tooLong, panics uint64
	errs                                  uint64
	parseErrors                           [maxReasons]uint64
}

// published holds the counters Stats reads. The reading goroutine adds its
// tally under mu after each buffer it reads, so a snapshot never holds half
// of one: Lines == Parsed + ParseErrors in every snapshot.
type published struct {
	mu sync.Mutex
	st Stats
}

// add adds t to the published counters and clears t.
func (p *published) add(t *tally) {
	p.mu.Lock()
	s := &p.st
	s.Bytes += t.bytes
	s.Lines += t.lines
	s.Parsed += t.parsed
	s.TooLong += t.tooLong
	s.HandlerPanics += t.panics
	if t.errs != 0 {
		s.ParseErrors += t.errs
		for i, n := range t.parseErrors {
			s.parseErrors[i] += n
		}
	}
	p.mu.Unlock()
	*t = tally{}
}

// update changes the published counters under the lock.
func (p *published) update(f func(s *Stats)) {
	p.mu.Lock()
	f(&p.st)
	p.mu.Unlock()
}
