// Package golden compares rendered output with golden files under a test's
// testdata/ folder, and rewrites them when the test runs with -update:
//
//	go test ./reports/render -run TestWriteTableGolden -update
//
// It is for tests only, and imports nothing of the project's.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// update is registered once per test binary that imports the package.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Check compares got with testdata/name, or writes got there under -update.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (rerun with -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
