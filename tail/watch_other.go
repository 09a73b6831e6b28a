//go:build !linux

package tail

import "errors"

func newWatcher() (watcher, error) { return nil, errors.New("tail: no inotify on this system") }
