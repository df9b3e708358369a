package scenarios

import (
	"io/fs"
	"os"
	"path/filepath"
)

// files reads the files a scenario names (feeders, certificates, banks).
type files interface {
	path(name string) string // where name is: relative names are taken from the scenario's folder
	read(name string) ([]byte, error)
	exists(name string) error
}

// dirFiles finds files on disk relative to a folder.
type dirFiles struct{ dir string }

func (f dirFiles) path(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(f.dir, name)
}

func (f dirFiles) read(name string) ([]byte, error) { return os.ReadFile(f.path(name)) }

func (f dirFiles) exists(name string) error {
	_, err := os.Stat(f.path(name))
	return err
}

// fsFiles finds files in a file system (the embedded stock scenarios).
type fsFiles struct{ fsys fs.FS }

func (f fsFiles) path(name string) string { return name }

func (f fsFiles) read(name string) ([]byte, error) { return fs.ReadFile(f.fsys, name) }

func (f fsFiles) exists(name string) error {
	_, err := fs.Stat(f.fsys, name)
	return err
}
