//go:build unix

package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startUnix serves a unix datagram socket at path with cfg and closes the
// Server when the test ends.
func startUnix(t *testing.T, path string, cfg Config) *testStream {
	t.Helper()
	cfg.Addr = "unix:" + path
	ts := startStream(t, cfg)
	ts.addr = path
	return ts
}

func dialUnixgram(t testing.TB, path string) *net.UnixConn {
	t.Helper()
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestUnixgram(t *testing.T) {
	checkLeaks(t)
	path := filepath.Join(t.TempDir(), "ingest.sock")
	rec := &recorder{}
	ts := startUnix(t, path, Config{Handler: rec, SocketMode: 0o620, Readers: 2})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o620 {
		t.Errorf("socket file mode %v, want a socket with 0620", fi.Mode())
	}
	c := dialUnixgram(t, path)
	const n = 200
	for i := range n {
		if _, err := c.Write([]byte("<190>Nov  5 21:22:09 web01 nginx: " + line(fmt.Sprintf("/u/%d", i)) + "\n" + line("/second"))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Write([]byte(badLines[0].line)); err != nil {
		t.Fatal(err)
	}
	st := ts.waitStats(t, "the datagrams", func(s Stats) bool { return s.Datagrams == n+1 })
	if st.Parsed != 2*n || st.ParseErrors != 1 || st.Transport != "unix" || st.Sockets != 1 || st.DroppedKernel != 0 {
		t.Errorf("stats %+v", st)
	}
	for _, src := range rec.sources {
		if src.IsValid() {
			t.Errorf("source %v: a unix sender has no address", src)
		}
	}
	if err := ts.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket file is left after Shutdown: %v", err)
	}
}

// TestUnixgramShutdown: from Shutdown on, a sender's write fails (the
// loss is the sender's to see); what was queued is delivered.
func TestUnixgramShutdown(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the socket's intake closes on Linux only")
	}
	checkLeaks(t)
	path := filepath.Join(t.TempDir(), "ingest.sock")
	var hold sync.Mutex
	entered := make(chan struct{}, 1)
	delivered := 0
	ts := startUnix(t, path, Config{Handler: HandlerFunc(func(*Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		hold.Lock()
		delivered++
		hold.Unlock()
	})})
	c := dialUnixgram(t, path)
	hold.Lock()
	send1 := func(p string) error { _, err := c.Write([]byte(line(p))); return err }
	if err := send1("/first"); err != nil {
		t.Fatal(err)
	}
	<-entered
	// The reader is held in the handler: these wait in the socket's queue,
	// which holds net.unix.max_dgram_qlen datagrams (10 by default); a
	// sender is told when it is full.
	queued := 0
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	for queued < 5 {
		if err := send1(fmt.Sprintf("/q/%d", queued)); err != nil {
			t.Fatal(err)
		}
		queued++
	}
	c.SetWriteDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(context.Background()) }()
	waitFor(t, "the intake closed", func() bool {
		err := send1("/late")
		if err == nil {
			queued++ // sent before the intake closed: it must arrive
		}
		return errors.Is(err, syscall.EPIPE)
	})
	hold.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	hold.Lock()
	defer hold.Unlock()
	if st := ts.Stats(); delivered != 1+queued || st.Datagrams != uint64(1+queued) || st.DroppedKernel != 0 {
		t.Errorf("delivered %d, want %d; stats %+v", delivered, 1+queued, st)
	}
}

// TestUnixgramReplace: a stale socket file is replaced; a live socket and
// a file that is not a socket are left alone.
func TestUnixgramReplace(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()

	// A stale socket: bound, then closed without removing the file.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: stale, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := os.Lstat(stale); err != nil {
		t.Fatalf("the stale file is gone already: %v", err)
	}
	ts := startUnix(t, stale, Config{Handler: &recorder{}})
	c := dialUnixgram(t, stale)
	if _, err := c.Write([]byte(line("/x"))); err != nil {
		t.Fatal(err)
	}
	ts.waitStats(t, "a line on the replaced socket", func(s Stats) bool { return s.Parsed == 1 })

	// Live: the Server above serves it; a second one must not take it.
	srv, err := NewServer(Config{Addr: "unix:" + stale, Handler: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ListenAndServe(context.Background()); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("a second Server on a live socket: %v, want EADDRINUSE", err)
	}
	if _, err := c.Write([]byte(line("/y"))); err != nil {
		t.Fatalf("the live socket was taken: %v", err)
	}
	ts.waitStats(t, "a line on the first Server", func(s Stats) bool { return s.Parsed == 2 })

	// Not a socket.
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err = NewServer(Config{Addr: "unix:" + plain, Handler: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ListenAndServe(context.Background()); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("a regular file at the path: %v, want EADDRINUSE", err)
	}
	if b, err := os.ReadFile(plain); err != nil || string(b) != "keep" {
		t.Errorf("the regular file was touched: %q, %v", b, err)
	}

	// Stopping removes only the file it bound: not one put in its place.
	ts.Close()
	ts.wait()
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket file is left after Close: %v", err)
	}
}

// TestUnixgramRemoveOwnOnly: a socket file that replaced the Server's
// while it served is not removed when it stops.
func TestUnixgramRemoveOwnOnly(t *testing.T) {
	checkLeaks(t)
	path := filepath.Join(t.TempDir(), "s.sock")
	ts := startUnix(t, path, Config{Handler: &recorder{}})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	other, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ts.Close()
	ts.wait()
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("another process's socket was removed: %v", err)
	}
}
