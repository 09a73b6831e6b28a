//go:build unix

package heapwatch

import (
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMonitor_ProfileOnSignal(t *testing.T) {
	// os/signal starts its one watcher goroutine, for good, at the first
	// Notify: start it before counting.
	warm := make(chan os.Signal, 1)
	signal.Notify(warm, syscall.SIGUSR1)
	signal.Stop(warm)
	defer noLeftGoroutines(t)()
	dir := t.TempDir()
	m := New(Config{ProfileDir: dir})
	stop := m.ProfileOnSignal(syscall.SIGUSR1)
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(m.Profiles()) == 1 })
	if p := m.Profiles()[0]; !strings.HasSuffix(p, "-signal.pb.gz") {
		t.Errorf("profile %s", p)
	}
	isGzip(t, m.Profiles()[0])
	stop()
	stop() // idempotent
}

// waitFor polls cond every few milliseconds for up to 5 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
	}
}
