// Package filelock takes advisory, exclusive locks on files: a process
// that holds one is the only crmsync process doing what the lock guards.
// The kernel releases a lock when its process ends, however it ends.
package filelock

import (
	"errors"
	"os"
	"syscall"
)

// TryLock creates path (mode 0600) if needed and takes its exclusive lock
// without waiting. It returns the open file, whose Close releases the lock,
// or ok false, and no file, when another open file holds the lock — in
// another process or in this one.
func TryLock(path string) (f *os.File, ok bool, err error) {
	f, err = os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close() // the lock's error is the one to report
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return f, true, nil
}
