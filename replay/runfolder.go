package replay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// RunsDir is the folder the runs go in unless --out says otherwise.
const RunsDir = "runs"

// DefaultRunDir is a run's folder unless --out says otherwise:
// runs/TIMESTAMP-NAME, the time local to the second, so runs sort by when
// they started. name is the scenario's, with a suffix for other kinds of run
// ("launch-day-saturate").
func DefaultRunDir(name string, now time.Time) string {
	return filepath.Join(RunsDir, now.Format("20060102-150405")+"-"+name)
}

// runFiles are the files whose presence marks a folder as holding a run
// (of `run` or of `saturate`).
var runFiles = []string{RunInfoFile, ResultsFile, SummaryFile, SaturationFile, "stack.db"}

// PrepareRunFolder checks that dir can take a new run before anything
// starts, without creating it: it must be (or be creatable in) a folder the
// process can write to, and must not hold an earlier run, whose results would be overwritten and
// whose stack.db an embedded stack would reuse (its audit would then count
// the earlier run's cards as writes from nowhere). With force, an earlier
// run's embedded database is removed and its other files are overwritten.
// Errors wrap ErrBadInput and name the --out flag.
func PrepareRunFolder(dir string, force bool) error {
	fi, err := os.Stat(dir)
	switch {
	case missing(err):
		return checkCreatable(dir)
	case err != nil:
		return fmt.Errorf("%w: --out %s: %w", ErrBadInput, dir, err)
	case !fi.IsDir():
		return fmt.Errorf("%w: --out %s is a file, not a folder", ErrBadInput, dir)
	}
	for _, name := range runFiles {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			continue
		}
		if !force {
			return fmt.Errorf("%w: --out %s already holds a run (%s); choose another folder, or add --force to replace it", ErrBadInput, dir, name)
		}
		break
	}
	if force {
		for _, name := range []string{"stack.db", "stack.db-wal", "stack.db-shm", "stack.db-journal"} {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%w: --out %s: %w", ErrBadInput, dir, err)
			}
		}
	}
	return checkWritable(dir, dir)
}

// checkCreatable checks that the missing folder dir can be created: its
// nearest existing ancestor is a folder the process can write to.
func checkCreatable(dir string) error {
	parent := filepath.Dir(filepath.Clean(dir))
	for {
		fi, err := os.Stat(parent)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("%w: --out %s: %s is a file, not a folder", ErrBadInput, dir, parent)
		case err == nil:
			return checkWritable(dir, parent)
		case !missing(err):
			return fmt.Errorf("%w: --out %s: %w", ErrBadInput, dir, err)
		}
		up := filepath.Dir(parent)
		if up == parent {
			return fmt.Errorf("%w: --out %s: %w", ErrBadInput, dir, err)
		}
		parent = up
	}
}

// checkWritable checks that the process can create a file in folder, which
// is out (the --out flag) or its nearest existing ancestor.
func checkWritable(out, folder string) error {
	probe, err := os.CreateTemp(folder, ".stampede-write-check-*")
	if err != nil {
		return fmt.Errorf("%w: --out %s is not writable: %w", ErrBadInput, out, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// missing reports whether a Stat error says the path does not exist,
// including because a component of it is a file.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
