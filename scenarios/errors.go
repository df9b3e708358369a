package scenarios

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every error about bad input: a malformed or
// invalid scenario file, an unknown stock name, a bad rate or quick-mode
// option. The CLI maps it to exit code 2.
var ErrInvalid = errors.New("invalid scenario")

// ErrFeederExhausted is wrapped by NewUser when a feeder in "unique" mode has
// no row left for the user: the run needs more data than the file holds.
var ErrFeederExhausted = errors.New("feeder exhausted")

// Problem is one thing wrong with a scenario file.
type Problem struct {
	File    string
	Line    int    // 1-based line in File
	Key     string // dotted path of the offending key, "journeys[0].steps[2].think.p95"; "" for the whole file
	Message string
}

// String formats the problem as "file:line: key: message".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found in a scenario file, in file
// order, one a line. It wraps ErrInvalid.
type ValidationError struct {
	Problems []Problem
}

// Error returns the problems, one a line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns ErrInvalid, so errors.Is(err, ErrInvalid) holds.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// invalidf returns an error wrapping ErrInvalid.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
