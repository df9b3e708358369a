package replay

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPrepareRunFolder(t *testing.T) {
	write := func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("missing folder is left to the run", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		if err := PrepareRunFolder(dir, false); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Dir(dir)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a check created folders: %v", err)
		}
	})
	t.Run("empty folder is used", func(t *testing.T) {
		if err := PrepareRunFolder(t.TempDir(), false); err != nil {
			t.Fatal(err)
		}
	})
	for _, name := range runFiles {
		t.Run("earlier run with "+name+" is refused", func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, name))
			err := PrepareRunFolder(dir, false)
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "--out") || !strings.Contains(err.Error(), "--force") {
				t.Fatalf("err = %v; want bad input naming --out and --force", err)
			}
		})
	}
	t.Run("force removes the old database", func(t *testing.T) {
		dir := t.TempDir()
		for _, name := range []string{RunInfoFile, "stack.db", "stack.db-wal"} {
			write(t, filepath.Join(dir, name))
		}
		if err := PrepareRunFolder(dir, true); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"stack.db", "stack.db-wal"} {
			if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s still there: %v", name, err)
			}
		}
	})
	t.Run("a file is refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "f")
		write(t, path)
		if err := PrepareRunFolder(path, true); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "is a file") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("under a file is refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "f")
		write(t, path)
		if err := PrepareRunFolder(filepath.Join(path, "a", "run"), false); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "is a file") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unwritable folder is refused", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		if os.Geteuid() == 0 {
			dir = "/proc" // root writes through permissions, not into procfs
		}
		if err := PrepareRunFolder(dir, false); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "not writable") {
			t.Fatalf("err = %v", err)
		}
		if err := PrepareRunFolder(filepath.Join(dir, "new", "run"), false); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "not writable") {
			t.Fatalf("under it: err = %v", err)
		}
	})
}

// FuzzReadRunInfo: a run.json reads into a RunInfo that writes back and
// reads again the same, or is refused as bad input with a short message.
func FuzzReadRunInfo(f *testing.F) {
	f.Add([]byte(`{"scenario":"ci-smoke","source":"stock:ci-smoke","seed":1,"target":"http://127.0.0.1:8080","time_scale":1,"rate_scale":1,"started_at":"2020-12-08T08:00:00Z"}`))
	f.Add([]byte(`{"source":"/etc/passwd","shard":"2/4","start_at":"2020-12-08T08:00:00.5Z","start_offset_ms":3.5}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"seed":1e400}`))
	f.Add([]byte(`not json at all`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, RunInfoFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		info, err := ReadRunInfo(dir)
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("not bad input: %v", err)
			}
			if len(err.Error()) > 400+len(dir) {
				t.Fatalf("a %d-byte error", len(err.Error()))
			}
			return
		}
		if err := writeRunInfo(dir, info); err != nil {
			t.Fatal(err)
		}
		again, err := ReadRunInfo(dir)
		if err != nil || !reflect.DeepEqual(again, info) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, info)
		}
	})
}
