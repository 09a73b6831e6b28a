//go:build unix

package heapwatch

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMonitor_ProfileOnSignal(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	m := New(Config{ProfileDir: dir})
	stop := m.ProfileOnSignal(syscall.SIGUSR1)
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGUSR1))
	require.Eventually(t, func() bool { return len(m.Profiles()) == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Contains(t, m.Profiles()[0], "-signal.pb.gz")
	isGzip(t, m.Profiles()[0])
	stop()
	stop() // idempotent
}
