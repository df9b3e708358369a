package textfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(small, []byte("name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(strings.Repeat("k", 101)), 0o644); err != nil {
		t.Fatal(err)
	}
	exact := filepath.Join(dir, "exact.yaml")
	if err := os.WriteFile(exact, []byte(strings.Repeat("k", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("small file", func(t *testing.T) {
		b, err := Read(small, 100)
		if err != nil || string(b) != "name: x\n" {
			t.Fatalf("Read = %q, %v", b, err)
		}
	})
	t.Run("exactly the limit", func(t *testing.T) {
		if b, err := Read(exact, 100); err != nil || len(b) != 100 {
			t.Fatalf("Read = %d bytes, %v", len(b), err)
		}
	})
	t.Run("one byte over", func(t *testing.T) {
		if _, err := Read(big, 100); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("endless device", func(t *testing.T) {
		if _, err := Read("/dev/zero", MaxConfig); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("FIFO without a writer", func(t *testing.T) {
		// A blocking open would never return: the test would time out.
		if b, err := Read(fifo, 100); err != nil || len(b) != 0 {
			t.Fatalf("Read = %q, %v; want empty", b, err)
		}
	})
	t.Run("folder", func(t *testing.T) {
		if _, err := Read(dir, 100); err == nil {
			t.Fatal("reading a folder succeeded")
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := Read(filepath.Join(dir, "nope"), 100); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v, want ErrNotExist", err)
		}
	})
}
