package tail

import (
	"context"
	"errors"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flatheap/ingest"
)

// ErrClosed is returned by Run after Shutdown or Close, and by Run called
// again.
var ErrClosed = errors.New("tail: tailer closed")

// ErrUnsupported is returned by New on systems whose files have no device
// and inode numbers (Windows, Plan 9).
var ErrUnsupported = errors.New("tail: not supported on this system")

var errRunning = errors.New("tail: tailer already running")

// Tailer follows files and hands their lines to a Handler. Make it with New,
// run it with Run, stop it with Shutdown or Close, or by ending Run's
// context. A Tailer runs once.
type Tailer struct {
	cfg Config
	fh  FileHandler // cfg.Handler, when it is one
	pub published

	mu      sync.Mutex
	state   runState
	stopCh  chan struct{} // closed when the Tailer starts stopping
	done    chan struct{} // closed when Run has returned
	stopped atomic.Bool
	w       watcher // nil when polling; set before Run starts reading
	// stoppingFn and eventFn are t.stopping and t.event, made once: a
	// method value passed on allocates.
	stoppingFn func() bool
	eventFn    func(wd int, kind evKind, name []byte)

	// Everything below is owned by the goroutine that calls Run.
	p       ingest.Parser
	r       ingest.Request
	buf     []byte // the read buffer: lines are views into it
	fpBuf   []byte // fpMax bytes, for fingerprints
	fpBuf2  []byte // fpMax bytes, for comparing two files' first bytes
	tl      tally
	now     time.Time // at the start of the current pass
	log     limiter   // error logs
	badLine limiter
	panics  limiter

	patterns []pattern
	dirs     map[string]*dir
	wds      map[int]*dir
	names    map[string]*watched
	order    []*watched       // names, in the order they were added
	byID     map[fileID]*file // open files, remembered ones, checkpointed ones
	orphans  []*file          // open files without a name: old ones being finished
	ckNames  map[string]bool  // names the loaded checkpoint had a file for
	ckTime   time.Time        // when the loaded checkpoint was written
	open     int              // files open
	starting bool             // the first pass: new files start at the end
	overflow bool             // inotify lost events: check everything

	stateDirty     bool
	lastCheckpoint time.Time
	nextRescan     time.Time
	stateBuf       []byte
	timer          *time.Timer // poll mode
}

type runState uint8

const (
	stateIdle runState = iota
	stateRunning
	stateStopping
	stateDone
)

// pattern is one entry of Config.Paths.
type pattern struct {
	path string
	glob bool
	// dir and base split a glob whose directory part has no
	// metacharacters, so that events in dir can be matched against base.
	dir, base string
}

// dir is a directory that holds followed names, watched with inotify.
type dir struct {
	path  string
	wd    int // -1 when not watched
	names map[string]*watched
	globs []string // base patterns of the globs whose directory this is
}

// watched is one name followed: a path given, or a match of a pattern.
type watched struct {
	name     string
	d        *dir
	cur      *file // the file at the name, nil when none
	glob     bool  // from a pattern: forgotten when the name goes away
	dirty    bool  // the name may point elsewhere: stat it
	modified bool  // the file may have grown
	alias    bool  // the file is followed under another name
	// seen is when the name was last known to point to cur: files
	// modified since that rotation took away unseen are looked for.
	seen time.Time
}

// New checks c, fills in the defaults and returns a Tailer that is not
// running yet. Its error is an *ingest.ConfigError, which wraps
// ingest.ErrConfig, or ErrUnsupported.
func New(c Config) (*Tailer, error) {
	if !supported {
		return nil, ErrUnsupported
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	t := &Tailer{
		cfg:    c,
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
		buf:    make([]byte, c.ReadBuffer),
		fpBuf:  make([]byte, fpMax),
		fpBuf2: make([]byte, fpMax),
		dirs:   make(map[string]*dir),
		wds:    make(map[int]*dir),
		names:  make(map[string]*watched),
		byID:   make(map[fileID]*file),
	}
	t.fh, _ = c.Handler.(FileHandler)
	t.stoppingFn, t.eventFn = t.stopping, t.event
	t.p.Format = c.Format
	for _, p := range c.Paths {
		p = filepath.Clean(p)
		pt := pattern{path: p, glob: hasMeta(p)}
		if pt.glob {
			if d := filepath.Dir(p); !hasMeta(d) {
				pt.dir, pt.base = d, filepath.Base(p)
			}
		}
		t.patterns = append(t.patterns, pt)
	}
	t.pub.st.MaxFiles = c.MaxFiles
	t.pub.st.ReadBufferBytes = len(t.buf) + 2*fpMax
	return t, nil
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// Run follows the files until ctx is done or Shutdown or Close is called,
// and returns then: with ErrClosed after Shutdown or Close, with ctx.Err()
// after ctx is done. Either way it stops after the line being handled,
// writes the checkpoint and closes every file. It returns early with an
// error when the checkpoint in Config.StateDir cannot be read: it does not
// guess where to start.
//
// The handler is called on the goroutine that calls Run.
func (t *Tailer) Run(ctx context.Context) error {
	t.mu.Lock()
	if t.state != stateIdle {
		st := t.state
		t.mu.Unlock()
		if st == stateRunning {
			return errRunning
		}
		return ErrClosed
	}
	t.state = stateRunning
	if !t.cfg.Poll {
		w, err := newWatcher()
		if err != nil {
			t.cfg.Logger.Warn("tail: cannot use inotify, polling instead", "interval", t.cfg.PollInterval, "err", err)
		} else {
			t.w = w
		}
	}
	t.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			t.stop()
		case <-t.stopCh:
		}
	}()
	err := t.run()
	t.stop()
	wg.Wait()
	t.mu.Lock()
	if t.w != nil {
		t.w.close()
	}
	t.state = stateDone
	t.mu.Unlock()
	close(t.done)
	if err == nil {
		if err = ctx.Err(); err == nil {
			err = ErrClosed
		}
	}
	return err
}

// Shutdown stops the Tailer after the line being handled, writes the
// checkpoint, and returns when Run has returned, or with ctx.Err() when ctx
// is done first (Run then still stops).
func (t *Tailer) Shutdown(ctx context.Context) error {
	done := t.stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the Tailer as Shutdown does and waits for Run to return.
// Calling it more than once, or after Shutdown, is safe. It waits for a
// handler call in progress.
func (t *Tailer) Close() error {
	<-t.stop()
	return nil
}

// stop starts stopping, once, and returns the channel closed when Run has
// returned.
func (t *Tailer) stop() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.state {
	case stateIdle:
		t.state = stateDone
		t.stopped.Store(true)
		close(t.stopCh)
		close(t.done)
	case stateRunning:
		t.state = stateStopping
		t.stopped.Store(true)
		close(t.stopCh)
		if t.w != nil {
			t.w.wake()
		}
	}
	return t.done
}

func (t *Tailer) stopping() bool { return t.stopped.Load() }

// Stats returns the Tailer's counters. It may be called at any time, from
// any goroutine; the line counters lag by at most one read buffer.
func (t *Tailer) Stats() Stats {
	t.pub.mu.Lock()
	defer t.pub.mu.Unlock()
	return t.pub.st
}

// run is Run's body on the reading goroutine.
func (t *Tailer) run() error {
	t.now = time.Now()
	if err := t.loadState(); err != nil {
		return err
	}
	t.pub.update(func(s *Stats) { s.Inotify = t.w != nil })
	t.rescan()
	t.recoverState()
	t.starting = true
	t.pass(true)
	t.starting = false
	t.publishFiles()
	t.nextRescan = t.now.Add(t.cfg.RescanInterval)
	for !t.stopping() {
		t.maybeCheckpoint(false)
		if t.cfg.OnWait != nil {
			t.callOnWait()
		}
		t.wait()
		if t.stopping() {
			break
		}
		t.now = time.Now()
		full := t.overflow || !t.now.Before(t.nextRescan) || t.w == nil
		if !t.now.Before(t.nextRescan) {
			t.prune()
			t.rescan()
			t.nextRescan = t.now.Add(t.cfg.RescanInterval)
		}
		t.overflow = false
		t.pass(full)
		t.publishFiles()
	}
	t.now = time.Now()
	t.maybeCheckpoint(true)
	t.closeAll()
	return nil
}

// wait waits for an event, the next poll, rescan or checkpoint, or stop.
func (t *Tailer) wait() {
	until := t.nextRescan
	if t.w == nil || len(t.orphans) > 0 {
		until = minTime(until, t.now.Add(t.cfg.PollInterval))
	}
	if t.stateDirty && t.cfg.StateDir != "" {
		until = minTime(until, t.lastCheckpoint.Add(t.cfg.CheckpointInterval))
	}
	if t.w != nil {
		err := t.w.wait(until, t.stoppingFn, t.eventFn)
		if err != nil && !t.stopping() {
			t.cfg.Logger.Error("tail: reading inotify events failed; polling from now on", "err", err)
			t.mu.Lock()
			t.w.close()
			t.w = nil
			t.mu.Unlock()
			t.pub.update(func(s *Stats) { s.Inotify = false })
		}
		return
	}
	d := time.Until(until)
	if d <= 0 {
		return
	}
	if t.timer == nil {
		t.timer = time.NewTimer(d)
	} else {
		t.timer.Reset(d)
	}
	select {
	case <-t.timer.C:
	case <-t.stopCh:
		t.timer.Stop()
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// event marks what an inotify event says may have changed.
func (t *Tailer) event(wd int, kind evKind, name []byte) {
	if kind == evOverflow {
		t.overflow = true
		return
	}
	d := t.wds[wd]
	if d == nil {
		return
	}
	switch kind {
	case evSelf:
		// The directory went away: check its names, and watch it again at
		// the next rescan should it come back.
		delete(t.wds, wd)
		d.wd = -1
		for _, w := range d.names {
			w.dirty = true
		}
		t.nextRescan = t.now
	case evModify:
		if w := d.names[string(name)]; w != nil {
			w.modified = true
		}
	case evName:
		if w := d.names[string(name)]; w != nil {
			w.dirty = true
			return
		}
		for _, g := range d.globs {
			if ok, _ := filepath.Match(g, string(name)); ok {
				t.addName(filepath.Join(d.path, string(name)), true)
				return
			}
		}
	}
}

// rescan expands the patterns, follows the names not followed yet and
// watches their directories.
func (t *Tailer) rescan() {
	for _, p := range t.patterns {
		if p.dir != "" {
			t.watchDir(p.dir).addGlob(p.base)
		}
		if !p.glob {
			t.addName(p.path, false)
			continue
		}
		matches, err := filepath.Glob(p.path)
		if err != nil {
			continue // checked by New
		}
		for _, m := range matches {
			t.addName(m, true)
		}
	}
	for _, d := range t.dirs {
		if d.wd < 0 {
			t.watchDirAgain(d)
		}
	}
}

func (d *dir) addGlob(base string) {
	for _, g := range d.globs {
		if g == base {
			return
		}
	}
	d.globs = append(d.globs, base)
}

// watchDir returns the dir for path, watching it if it can.
func (t *Tailer) watchDir(path string) *dir {
	if d := t.dirs[path]; d != nil {
		return d
	}
	d := &dir{path: path, wd: -1, names: make(map[string]*watched)}
	t.dirs[path] = d
	t.watchDirAgain(d)
	return d
}

func (t *Tailer) watchDirAgain(d *dir) {
	if t.w == nil {
		return
	}
	wd, err := t.w.watch(d.path)
	if err != nil {
		// Missing now: the next rescan tries again.
		if !isNotExist(err) && t.log.allow(t.now, time.Minute) {
			t.cfg.Logger.Warn("tail: cannot watch a directory; its files are checked every RescanInterval", "dir", d.path, "err", err)
		}
		return
	}
	if old := t.wds[wd]; old != nil && old != d {
		old.wd = -1 // the same directory under another path
	}
	d.wd = wd
	t.wds[wd] = d
}

// addName follows name, if it is not followed yet.
func (t *Tailer) addName(name string, glob bool) {
	if w := t.names[name]; w != nil {
		if glob {
			w.dirty = true
		}
		return
	}
	if len(t.names) >= t.cfg.MaxFiles {
		t.pub.update(func(s *Stats) { s.FilesRefused++ })
		if t.log.allow(t.now, time.Minute) {
			t.cfg.Logger.Warn("tail: MaxFiles names followed; not following", "name", name, "max_files", t.cfg.MaxFiles)
		}
		return
	}
	d := t.watchDir(filepath.Dir(name))
	w := &watched{name: name, d: d, glob: glob, dirty: true}
	t.names[name] = w
	d.names[filepath.Base(name)] = w
	t.order = append(t.order, w)
}

// removeName stops following a name that matched a pattern and is gone.
func (t *Tailer) removeName(w *watched) {
	delete(t.names, w.name)
	delete(w.d.names, filepath.Base(w.name))
	if i := slices.Index(t.order, w); i >= 0 {
		t.order = slices.Delete(t.order, i, i+1)
	}
}

// pass reads what changed: the old files of rotations first, then every
// name that had an event, or every name when full.
func (t *Tailer) pass(full bool) {
	for i := 0; i < len(t.orphans) && !t.stopping(); i++ {
		t.follow(t.orphans[i])
	}
	t.closeIdleOrphans()
	for i := 0; i < len(t.order) && !t.stopping(); i++ {
		w := t.order[i]
		switch {
		case full || w.dirty:
			if t.check(w) {
				i-- // removed
			}
		case w.modified:
			w.modified = false
			if w.cur != nil {
				w.seen = t.now // else a name event would be pending
				t.follow(w.cur)
			}
		}
	}
}

// callOnWait calls Config.OnWait, recovering a panic.
func (t *Tailer) callOnWait() {
	defer func() {
		if v := recover(); v != nil {
			t.tl.panics++
			t.logPanic("OnWait", v)
		}
		t.pub.add(&t.tl)
	}()
	t.cfg.OnWait()
}

func (t *Tailer) logPanic(what string, v any) {
	if t.panics.allow(time.Now(), time.Second) {
		t.cfg.Logger.Error("tail: "+what+" panicked; recovered (logged at most once a second)",
			"panic", v, "stack", string(debug.Stack()))
	}
}

// limiter lets one event through per period. Only the reading goroutine
// uses it.
type limiter struct{ next time.Time }

func (l *limiter) allow(now time.Time, every time.Duration) bool {
	if now.Before(l.next) {
		return false
	}
	l.next = now.Add(every)
	return true
}

// watcher waits for changes in directories.
type watcher interface {
	// watch starts watching dir and returns the watch's descriptor.
	watch(dir string) (int, error)
	unwatch(wd int)
	// wait waits until an event, until, or wake, and calls ev for each
	// event read. It returns at once when stopping() is true once its
	// deadline is set.
	wait(until time.Time, stopping func() bool, ev func(wd int, kind evKind, name []byte)) error
	// wake makes a wait return; safe from any goroutine.
	wake()
	close()
}

// evKind is what an event says.
type evKind uint8

const (
	evModify   evKind = iota // a file in the directory was written or truncated
	evName                   // a name appeared or left
	evSelf                   // the directory went away
	evOverflow               // events were lost
)
