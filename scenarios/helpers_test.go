package scenarios

import (
	"errors"
	"strings"
	"testing"
)

// mustParse parses a scenario that must be valid.
func mustParse(t testing.TB, src string) *Scenario {
	t.Helper()
	s, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

// parseErr parses a scenario that must be invalid and returns its message,
// checking the error wraps ErrInvalid.
func parseErr(t testing.TB, src string) string {
	t.Helper()
	_, err := Parse("test.yaml", []byte(src))
	if err == nil {
		t.Fatalf("Parse succeeded, want an error")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	return err.Error()
}

// minimal is a valid scenario to add keys to.
const minimal = `name: t
profile:
  - hold: {rate: 10/s, duration: 10s}
journeys:
  - name: j
    steps:
      - {name: s, path: /}
`

// withLines joins lines into a file.
func withLines(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
