// Package textfile reads the small files a user names on the command line
// (scenarios, banks files, run records) with a size limit, so that a huge
// file, /dev/zero or a FIFO nobody writes to cannot exhaust memory or hang
// the process. It owns nothing else and imports nothing of the project's.
package textfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// MaxConfig is the size limit for configuration files: a scenario or a
// banks file is a few kilobytes, so one megabyte is room to spare and keeps
// the YAML decoder's memory in the tens of megabytes.
const MaxConfig = 1 << 20 // bytes

// ErrTooLarge is wrapped by the error for a file over its size limit.
var ErrTooLarge = errors.New("file too large")

// Read returns the contents of the file at path, or an error when it holds
// more than limit bytes. The file is opened without blocking, so a FIFO no
// one has opened for writing reads as empty instead of hanging the open;
// a pipe with a writer is read until the writer closes it.
func Read(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s is a folder, not a file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: %w: over the limit of %d bytes", path, ErrTooLarge, limit)
	}
	return b, nil
}
