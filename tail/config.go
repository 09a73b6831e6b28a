package tail

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/flatheap/ingest"
)

// Defaults for the zero fields of Config, and bounds.
const (
	defaultPollInterval       = 250 * time.Millisecond
	defaultRescanInterval     = 10 * time.Second
	defaultCheckpointInterval = time.Second
	defaultRotateWait         = 5 * time.Second
	defaultForgetAfter        = time.Hour
	defaultMaxFiles           = 1024
	defaultReadBuffer         = 256 << 10
	defaultBadLineInterval    = time.Second

	// minReadBuffer holds the longest line Parse accepts and its "\r\n", so
	// that a line that does not fit in the buffer is too long.
	minReadBuffer = ingest.MaxLineLength + 2
	maxReadBuffer = 64 << 20
	maxMaxFiles   = 1 << 20
)

// Config configures a Tailer. The zero value of every field but Paths and
// Handler selects the default given in its comment.
type Config struct {
	// Paths are the files to follow: names, or glob patterns in the syntax
	// of filepath.Match ("/var/log/nginx/*access.log"). A name is followed
	// whether or not it exists yet, like tail -F. Files that come to match a
	// pattern later are picked up: at once, with inotify, when the pattern's
	// directory part has no metacharacters; else at the next rescan
	// (RescanInterval). Required.
	//
	// Follow the names the server writes to, not the names rotation gives
	// the old files: an old file is read to its end without being named.
	Paths []string

	// Handler receives every line that parsed. Required. It is called on
	// the Tailer's goroutine, one line at a time. When it is also a
	// FileHandler, ServeFileLine is called instead of ServeLine. The
	// Request and every slice in it are valid only until the handler
	// returns. Do not retain them; use Interner.Intern or Request.Clone for
	// values that must outlive the call. A panic in the handler is
	// recovered, counted in Stats.HandlerPanics and logged (at most once a
	// second); the Tailer goes on with the next line.
	Handler ingest.Handler

	// Format is the access-line format. Default (nil):
	// ingest.FormatCombined.
	Format *ingest.Format

	// StateDir is the directory where the checkpoint file
	// (tail-state.json) is written. Default "": no checkpoints, and every
	// run starts as a first run. One Tailer per directory.
	StateDir string

	// FromBeginning makes a file that exists when the Tailer starts and
	// has no checkpoint be read from its beginning. Default: from its end,
	// like tail -F. Files that appear later, and the new file a rotation
	// puts in place, are always read from their beginning.
	FromBeginning bool

	// Poll makes the Tailer look for changes every PollInterval instead of
	// waiting for inotify events: for file systems that do not report
	// changes (NFS, FUSE) or where inotify is not available. Without
	// inotify (outside Linux, or when it cannot be set up) the Tailer polls
	// anyway.
	Poll bool

	// PollInterval is how often the Tailer looks for changes when it polls,
	// and how often it reads the old files of a rotation that it finishes.
	// Default 250ms.
	PollInterval time.Duration

	// RescanInterval is how often the glob patterns are expanded again and
	// every file is checked even without an event: the safety net for
	// events that inotify cannot give (a pattern whose directories are
	// themselves patterns, a directory created later). Default 10s.
	RescanInterval time.Duration

	// CheckpointInterval is how often the checkpoint is written while lines
	// are read. Default 1s. Nothing is written while nothing changes.
	CheckpointInterval time.Duration

	// RotateWait is how long a file that was renamed or removed keeps being
	// read after it stopped growing, before it is closed. The server may
	// write to the old file until it reopens its logs (nginx's workers do
	// so one by one). Default 5s.
	RotateWait time.Duration

	// ForgetAfter is how long the identity and offset of a file read to its
	// end and closed are remembered, so that the file is not read again
	// should it match a pattern under another name. Default 1h. At most
	// MaxFiles such files are remembered; the oldest go first.
	ForgetAfter time.Duration

	// MaxFiles bounds the names followed, the files open at once (followed,
	// and old ones being finished) and, separately, the closed files
	// remembered. A name or file past the bound is not followed; each time
	// it is refused it is counted in Stats.FilesRefused, and it is logged
	// at most once a minute. Default 1024.
	MaxFiles int

	// ReadBuffer is the size of the one read buffer, in bytes. Default 256
	// KiB; at least ingest.MaxLineLength+2, so that a line that does not fit
	// in it is too long.
	ReadBuffer int

	// Logger receives the Tailer's warnings and errors. Default
	// slog.Default().
	Logger *slog.Logger

	// OnBadLine, when set, is called with a sample of the lines that failed
	// to parse, the name of the file they came from and the error (see
	// ingest.ErrorReason). A line too long is passed cut to its first
	// ingest.MaxLineLength bytes, with ingest.ErrTooLong. The line is valid
	// only during the call. Every failing line is counted in Stats whether
	// or not it is sampled. A panic in it is recovered and counted like a
	// handler panic.
	OnBadLine func(line []byte, name string, err error)

	// BadLineInterval is the sampling period of OnBadLine: it gets the
	// first failing line and then at most one per interval. Default 1s.
	// Negative: every failing line.
	BadLineInterval time.Duration

	// OnWait, when set, is called on the Tailer's goroutine each time it
	// has read every file to its end and is about to wait for more: the
	// moment to flush what the handler batches.
	OnWait func()
}

// FileHandler is a Handler that is also told which file each line came
// from. name is the name the file is followed under (the path given, or the
// match of a pattern), also for the lines of an old file read after a
// rotation. name is a string of the Tailer's own and may be retained.
//
// The Request and every slice in it are valid only until the handler
// returns. Do not retain them; use Interner.Intern or Request.Clone for
// values that must outlive the call.
type FileHandler interface {
	ingest.Handler
	ServeFileLine(name string, r *ingest.Request)
}

func configError(field string, value any, reason string) *ingest.ConfigError {
	return &ingest.ConfigError{Field: field, Value: fmt.Sprint(value), Reason: reason}
}

// check fills in c's defaults and checks every field. Its error is an
// *ingest.ConfigError, which wraps ingest.ErrConfig.
func (c *Config) check() error {
	if c.Handler == nil {
		return configError("Handler", c.Handler, "required")
	}
	if len(c.Paths) == 0 {
		return configError("Paths", c.Paths, "required")
	}
	for _, p := range c.Paths {
		if p == "" {
			return configError("Paths", c.Paths, "an empty path")
		}
		if _, err := filepath.Match(p, ""); err != nil {
			return configError("Paths", p, "bad pattern: "+err.Error())
		}
	}
	durations := []struct {
		d    *time.Duration
		def  time.Duration
		name string
	}{
		{&c.PollInterval, defaultPollInterval, "PollInterval"},
		{&c.RescanInterval, defaultRescanInterval, "RescanInterval"},
		{&c.CheckpointInterval, defaultCheckpointInterval, "CheckpointInterval"},
		{&c.RotateWait, defaultRotateWait, "RotateWait"},
		{&c.ForgetAfter, defaultForgetAfter, "ForgetAfter"},
	}
	for _, d := range durations {
		if *d.d == 0 {
			*d.d = d.def
		}
		if *d.d < time.Millisecond {
			return configError(d.name, *d.d, "must be at least 1ms")
		}
	}
	if c.MaxFiles == 0 {
		c.MaxFiles = defaultMaxFiles
	}
	if c.MaxFiles < 1 || c.MaxFiles > maxMaxFiles {
		return configError("MaxFiles", c.MaxFiles, fmt.Sprintf("out of range 1..%d", maxMaxFiles))
	}
	if c.ReadBuffer == 0 {
		c.ReadBuffer = defaultReadBuffer
	}
	if c.ReadBuffer < minReadBuffer || c.ReadBuffer > maxReadBuffer {
		return configError("ReadBuffer", c.ReadBuffer, fmt.Sprintf("out of range %d..%d", minReadBuffer, maxReadBuffer))
	}
	if c.BadLineInterval == 0 {
		c.BadLineInterval = defaultBadLineInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
