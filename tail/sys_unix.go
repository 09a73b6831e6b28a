//go:build unix

package tail

import (
	"errors"
	"io/fs"
	"syscall"
)

const supported = true

// fileStat is what the Tailer needs of a stat.
type fileStat struct {
	id      fileID
	size    int64
	mtime   int64 // nanoseconds; 0 where not known
	regular bool
}

func fromStat(st *syscall.Stat_t, out *fileStat) {
	out.id = fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}
	out.size = st.Size
	out.mtime = mtimeOf(st)
	out.regular = st.Mode&syscall.S_IFMT == syscall.S_IFREG
}

// statName stats the file name points to, following symbolic links.
func statName(name string, out *fileStat) error {
	var st syscall.Stat_t
	for {
		err := syscall.Stat(name, &st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "stat", Path: name, Err: err}
		}
		fromStat(&st, out)
		return nil
	}
}

// fstat stats an open file; it allocates nothing.
func fstat(fd int, out *fileStat) error {
	var st syscall.Stat_t
	for {
		err := syscall.Fstat(fd, &st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		fromStat(&st, out)
		return nil
	}
}

// openFile opens name for reading. O_NONBLOCK keeps a FIFO that matches a
// pattern from blocking the open; it changes nothing for a regular file.
func openFile(name string) (int, error) {
	for {
		fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return fd, nil
	}
}

// pread reads from fd at off, once: a short count means the end of the
// file for now. It allocates nothing.
func pread(fd int, b []byte, off int64) (int, error) {
	for {
		n, err := syscall.Pread(fd, b, off)
		if err == syscall.EINTR {
			continue
		}
		if n < 0 {
			n = 0
		}
		return n, err
	}
}

func closeFile(fd int) { syscall.Close(fd) }

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
