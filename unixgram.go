//go:build unix

package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
)

// ListenAndServe for "unix:/path": a unix datagram socket, read like a UDP
// one.
func (s *Server) listenAndServeUnix(ctx context.Context) error {
	if err := s.checkIdle(); err != nil {
		return err
	}
	conn, remove, err := listenUnixgram(s.addr, s.cfg.SocketMode)
	if err != nil {
		return err
	}
	s.afterClose = remove
	return s.serve(ctx, []net.PacketConn{conn}, s.cfg.Readers)
}

// listenUnixgram binds a unix datagram socket at path with the permissions
// mode, and returns it with a function that removes the socket file, if it
// is still the one bound here.
//
// A socket file left at path by a process that ended without removing it
// is replaced. A socket that a process is serving (a datagram sent to it
// is not refused) and any file that is not a socket are left alone: the
// error then wraps syscall.EADDRINUSE.
func listenUnixgram(path string, mode fs.FileMode) (*net.UnixConn, func(), error) {
	if err := removeStaleSocket(path); err != nil {
		return nil, nil, err
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, nil, err
	}
	fi, err := os.Lstat(path)
	if err == nil {
		err = os.Chmod(path, mode)
	}
	if err != nil {
		conn.Close()
		os.Remove(path)
		return nil, nil, fmt.Errorf("ingest: unix socket %s: %w", path, err)
	}
	remove := func() {
		if now, err := os.Lstat(path); err == nil && os.SameFile(fi, now) {
			os.Remove(path)
		}
	}
	return conn, remove, nil
}

// removeStaleSocket removes the socket file at path when no process serves
// it, and fails when something else is there.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ingest: unix socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("ingest: unix socket %s: a %v file is there, not a socket: %w", path, fi.Mode().Type(), syscall.EADDRINUSE)
	}
	probe, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err == nil {
		probe.Close()
		return fmt.Errorf("ingest: unix socket %s: another process serves it: %w", path, syscall.EADDRINUSE)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		// A stream socket (EPROTOTYPE), or no permission to tell.
		return fmt.Errorf("ingest: unix socket %s: cannot tell whether it is in use: %v: %w", path, err, syscall.EADDRINUSE)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ingest: unix socket %s: removing the stale socket: %w", path, err)
	}
	return nil
}

// shutdownRead makes the unix datagram socket of rc refuse datagrams from
// now on: a sender's write fails with EPIPE, so the loss is the sender's
// to see and count, while what is queued stays readable.
func shutdownRead(rc syscall.RawConn) bool {
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Shutdown(int(fd), syscall.SHUT_RD) }); err != nil {
		return false
	}
	return serr == nil
}
