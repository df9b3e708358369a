package bank

import (
	"os"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// validateAlone checks one station's configuration as a live change would.
func (st StationConfig) validateAlone(name string) error {
	p := newProblems("", nil)
	st.validate(p, name, true)
	return p.err()
}
