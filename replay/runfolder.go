package replay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// runFiles are the files whose presence marks a folder as holding a run
// (of `run` or of `saturate`).
var runFiles = []string{RunInfoFile, ResultsFile, SummaryFile, SaturationFile, "stack.db"}

// PrepareRunFolder makes dir ready for a new run before anything starts:
// it is created if missing, must be a folder the process can write to, and
// must not hold an earlier run, whose results would be overwritten and
// whose stack.db an embedded stack would reuse (its audit would then count
// the earlier run's cards as writes from nowhere). With force, an earlier
// run's embedded database is removed and its other files are overwritten.
// Errors wrap ErrBadInput and name the --out flag.
func PrepareRunFolder(dir string, force bool) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("%w: --out %s: %w", ErrBadInput, dir, err)
		}
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
	probe, err := os.CreateTemp(dir, ".stampede-write-check-*")
	if err != nil {
		return fmt.Errorf("%w: --out %s is not writable: %w", ErrBadInput, dir, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}
