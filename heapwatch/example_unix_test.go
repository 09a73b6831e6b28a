//go:build unix

package heapwatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/flatheap/ingest/heapwatch"
)

// A daemon's wiring: sample every second, log the summary, write profiles
// on growth and on SIGUSR1.
func ExampleMonitor_Run() {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	m := heapwatch.New(heapwatch.Config{
		ProfileDir: filepath.Join(os.TempDir(), "heapwatch-example"),
		Logger:     slog.Default(),
	})
	stop := m.ProfileOnSignal(syscall.SIGUSR1)
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	<-done
	_, ok := m.Last()
	fmt.Println(ok)
	// Output:
	// true
}
