package heapwatch

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoProfileDir is returned by WriteProfile when Config.ProfileDir is "".
var ErrNoProfileDir = errors.New("heapwatch: no profile directory configured")

// WriteProfile writes a heap profile of this process (runtime/pprof "heap",
// gzipped protobuf) into Config.ProfileDir and returns its path. reason ends
// up in the file name; it is reduced to lower-case letters, digits and '-'.
//
// Files are named heap-NNNN-YYYYMMDDTHHMMSS-reason.pb.gz: a sequence number
// (continuing after the highest one already in the directory, so names sort
// in the order they were written, up to 9999), the UTC time and the reason,
// for example heap-0001-20261126T003000-baseline.pb.gz. A file is written
// under a temporary name and renamed, so a complete file is all anyone sees.
// The Monitor keeps the first profile it wrote and the newest
// MaxProfiles-1, and removes the others it wrote; it never removes files it
// did not write.
//
// The profile shows the heap as of the last completed GC; WriteProfile does
// not force one. To see what grew, compare the first and the last:
//
//	go tool pprof -sample_index=inuse_space -diff_base heap-0001-…-baseline.pb.gz heap-0007-…-per-key.pb.gz
func (m *Monitor) WriteProfile(reason string) (path string, err error) {
	return m.writeProfile(reason, time.Now())
}

func (m *Monitor) writeProfile(reason string, now time.Time) (string, error) {
	dir := m.cfg.ProfileDir
	if dir == "" {
		return "", ErrNoProfileDir
	}
	m.pmu.Lock()
	defer m.pmu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("heapwatch: %w", err)
	}
	if m.seq == 0 {
		m.seq = highestSeq(dir)
	}
	tmp, err := os.CreateTemp(dir, ".heap-*.tmp")
	if err != nil {
		return "", fmt.Errorf("heapwatch: %w", err)
	}
	err = pprof.Lookup("heap").WriteTo(tmp, 0)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("heapwatch: writing heap profile: %w", err)
	}
	name := profileName(m.seq+1, now, reason)
	path := filepath.Join(dir, name)
	for {
		// Link fails if path exists (another writer in the same directory),
		// where Rename would replace it.
		err = os.Link(tmp.Name(), path)
		if err != nil && !errors.Is(err, os.ErrExist) {
			err = os.Rename(tmp.Name(), path) // no hard links here
		}
		if !errors.Is(err, os.ErrExist) {
			break
		}
		m.seq++
		path = filepath.Join(dir, profileName(m.seq+1, now, reason))
	}
	os.Remove(tmp.Name())
	if err != nil {
		return "", fmt.Errorf("heapwatch: %w", err)
	}
	m.seq++
	m.written = append(m.written, path)
	for len(m.written) > m.cfg.MaxProfiles {
		// Keep written[0], the baseline; drop the oldest after it.
		if err := os.Remove(m.written[1]); err != nil && !errors.Is(err, os.ErrNotExist) {
			m.log(slog.LevelWarn, "removing old heap profile failed", "path", m.written[1], "err", err)
		}
		m.written = append(m.written[:1], m.written[2:]...)
	}
	m.log(slog.LevelInfo, "heap profile written", "path", path, "reason", reason)
	return path, nil
}

// Profiles returns the paths of the profiles this Monitor wrote and still
// keeps, oldest first; the first is the baseline to diff against.
func (m *Monitor) Profiles() []string {
	m.pmu.Lock()
	defer m.pmu.Unlock()
	return append([]string(nil), m.written...)
}

func profileName(seq int, t time.Time, reason string) string {
	return fmt.Sprintf("heap-%04d-%s-%s.pb.gz", seq, t.UTC().Format("20060102T150405"), cleanReason(reason))
}

// cleanReason reduces reason to at most 40 of [a-z0-9-], "manual" if empty.
func cleanReason(reason string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(reason) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if !ok {
			dash = b.Len() > 0
			continue
		}
		if dash {
			b.WriteByte('-')
			dash = false
		}
		b.WriteRune(r)
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 {
		return "manual"
	}
	return b.String()
}

// highestSeq returns the highest sequence number of the heap-NNNN-*.pb.gz
// files in dir, or 0.
func highestSeq(dir string) int {
	entries, _ := os.ReadDir(dir)
	high := 0
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "heap-")
		if !ok || !strings.HasSuffix(rest, ".pb.gz") {
			continue
		}
		num, _, _ := strings.Cut(rest, "-")
		if n, err := strconv.Atoi(num); err == nil && n > high {
			high = n
		}
	}
	return high
}

// ProfileOnSignal writes a heap profile (reason "signal") each time one of
// sigs arrives, for example syscall.SIGUSR1 in a daemon. It registers the
// signals before it returns and handles them on a goroutine of its own;
// stop unregisters them and waits for that goroutine to end. Signals that
// arrive while a profile is being written are coalesced.
func (m *Monitor) ProfileOnSignal(sigs ...os.Signal) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
				if _, err := m.WriteProfile("signal"); err != nil {
					m.log(slog.LevelError, "heap profile failed", "reason", "signal", "err", err)
				}
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			wg.Wait()
		})
	}
}
