package yamlconf

import (
	"fmt"
	"strings"
)

// Problem is one mistake in a config file, located where it was written.
// As an error (*Problem) it matches the sentinel of the file's Error, so a
// command can map any single problem to its exit code.
type Problem struct {
	File    string // the file's name; "" for a value built in Go
	Line    int    // 1-based line in File; 0 when unknown
	Key     string // dotted path of the key, "journeys[0].steps[2].think.p95"; "" for the whole file
	Message string

	invalid error // the sentinel the problem matches
}

// String formats the problem as "file:line: key: message", leaving out the
// parts that are unknown ("line 3: key: message" without a file).
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error returns p.String().
func (p *Problem) Error() string { return p.String() }

// Is reports whether target is the sentinel of the file's Error.
func (p *Problem) Is(target error) bool { return p.invalid != nil && target == p.invalid }

// Error is every problem found in one file, in the order the Decoder
// reports them, one a line. It matches (errors.Is) its sentinel, and
// unwraps to its problems, each a *Problem.
type Error struct {
	Problems []Problem
	Invalid  error // the caller's bad-input sentinel (scenarios.ErrInvalid, bank.ErrInvalidConfig)
}

// Error returns the problems, one a line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Is reports whether target is e's sentinel.
func (e *Error) Is(target error) bool { return e.Invalid != nil && target == e.Invalid }

// Unwrap returns the problems, each a *Problem matching e's sentinel.
func (e *Error) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i := range e.Problems {
		p := e.Problems[i]
		p.invalid = e.Invalid
		out[i] = &p
	}
	return out
}
