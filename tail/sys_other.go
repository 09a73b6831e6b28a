//go:build !unix

package tail

import (
	"errors"
	"io/fs"
)

// supported is false where files have no device and inode numbers to know
// them by: New fails with ErrUnsupported.
const supported = false

type fileStat struct {
	id      fileID
	size    int64
	mtime   int64
	regular bool
}

var errNoSys = errors.New("tail: not supported on this system")

func statName(string, *fileStat) error      { return errNoSys }
func fstat(int, *fileStat) error            { return errNoSys }
func openFile(string) (int, error)          { return -1, errNoSys }
func pread(int, []byte, int64) (int, error) { return 0, errNoSys }
func closeFile(int)                         {}
func isNotExist(err error) bool             { return errors.Is(err, fs.ErrNotExist) }
