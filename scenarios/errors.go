package scenarios

import (
	"errors"
	"fmt"

	"github.com/stampede-load/stampede/internal/yamlconf"
)

// ErrInvalid is wrapped by every error about bad input: a malformed or
// invalid scenario file, an unknown stock name, a bad rate or quick-mode
// option. The CLI maps it to exit code 2.
var ErrInvalid = errors.New("invalid scenario")

// ErrFeederExhausted is wrapped by NewUser when a feeder in "unique" mode has
// no row left for the user: the run needs more data than the file holds.
var ErrFeederExhausted = errors.New("feeder exhausted")

// Problem is one thing wrong with a scenario file: "file:line: key: message".
type Problem = yamlconf.Problem

// ValidationError lists every problem found in a scenario file, in file
// order, one a line. It matches ErrInvalid.
type ValidationError = yamlconf.Error

// invalidf returns an error wrapping ErrInvalid.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
