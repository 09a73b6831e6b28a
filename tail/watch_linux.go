package tail

import (
	"encoding/binary"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// dirMask is what a directory watch reports: writes to the files in it,
// names appearing and leaving, and the directory itself going away.
const dirMask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM |
	unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// inotify waits for changes with one inotify instance and one watch per
// directory: the number of files followed changes nothing while they are
// idle. Its descriptor is non-blocking and read through the runtime's
// poller, so a wait holds no thread and a deadline in the past wakes it.
type inotify struct {
	fd  int
	f   *os.File
	buf []byte
}

// eventBufSize holds a few hundred events; more wait for the next read.
const eventBufSize = 16 << 10

func newWatcher() (watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	return &inotify{fd: fd, f: os.NewFile(uintptr(fd), "inotify"), buf: make([]byte, eventBufSize)}, nil
}

func (in *inotify) watch(dir string) (int, error) {
	wd, err := unix.InotifyAddWatch(in.fd, dir, dirMask)
	if err != nil {
		return -1, &os.PathError{Op: "inotify_add_watch", Path: dir, Err: err}
	}
	return wd, nil
}

func (in *inotify) unwatch(wd int) { unix.InotifyRmWatch(in.fd, uint32(wd)) }

func (in *inotify) wait(until time.Time, stopping func() bool, ev func(wd int, kind evKind, name []byte)) error {
	if err := in.f.SetReadDeadline(until); err != nil {
		return err
	}
	if stopping() { // after the deadline is set: see wake
		return nil
	}
	n, err := in.f.Read(in.buf)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		return err
	}
	b := in.buf[:n]
	for len(b) >= unix.SizeofInotifyEvent {
		wd := int(int32(binary.NativeEndian.Uint32(b[0:])))
		mask := binary.NativeEndian.Uint32(b[4:])
		nameLen := int(binary.NativeEndian.Uint32(b[12:]))
		end := unix.SizeofInotifyEvent + nameLen
		if end > len(b) {
			break
		}
		name := b[unix.SizeofInotifyEvent:end]
		for len(name) > 0 && name[len(name)-1] == 0 {
			name = name[:len(name)-1]
		}
		b = b[end:]
		switch {
		case mask&unix.IN_Q_OVERFLOW != 0:
			ev(-1, evOverflow, nil)
		case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0:
			ev(wd, evSelf, nil)
		case mask&(unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO) != 0:
			ev(wd, evName, name)
		case mask&unix.IN_MODIFY != 0:
			ev(wd, evModify, name)
		}
	}
	return nil
}

// wake makes a wait return now. The caller has made stopping return true
// first: a wait that sets its deadline after this sees that.
func (in *inotify) wake() { in.f.SetReadDeadline(time.Unix(1, 0)) }

func (in *inotify) close() { in.f.Close() }
