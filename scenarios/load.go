package scenarios

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/stampede-load/stampede/internal/textfile"
	"github.com/stampede-load/stampede/internal/yamlconf"
)

// Parse reads a scenario from src and validates it. file names it in
// messages ("file:line: key: message") and is the folder relative feeder,
// certificate and banks paths are taken from. The error lists every problem
// found, one a line, and wraps ErrInvalid. Parse never panics.
func Parse(file string, src []byte) (*Scenario, error) {
	return parseScenario(file, src, dirFiles{dir: filepath.Dir(file)})
}

// Load reads and parses the scenario file at path. A file that cannot be
// read, or is larger than textfile.MaxConfig, is an error wrapping both
// ErrInvalid and the cause; the size is checked before decoding.
func Load(path string) (*Scenario, error) {
	src, err := textfile.Read(path, textfile.MaxConfig)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return Parse(path, src)
}

// parseScenario is Parse with the files the scenario names read from fl.
func parseScenario(file string, src []byte, fl files) (s *Scenario, err error) {
	d := &decoder{Decoder: yamlconf.New(file, fileKind), files: fl}
	defer func() {
		// A parser of untrusted input must not take the process down;
		// FuzzParse checks this never fires.
		if r := recover(); r != nil {
			s = nil
			err = &ValidationError{Problems: []Problem{{File: file, Line: 1, Message: fmt.Sprintf("internal error while parsing: %v", r)}}, Invalid: ErrInvalid}
		}
	}()
	switch root := d.Parse(src); {
	case root != nil:
		s = d.scenario(root)
	case !d.Failed():
		d.AddAt(1, "", "the file is empty")
	}
	if d.Failed() {
		d.SortByLine()
		return nil, d.Err(ErrInvalid)
	}
	return s, nil
}

// epoch is the default reference time of synthetic identities: the start of
// the current UTC year, so a user's identity is stable for a year and its
// card expiries (one to five years later) stay in the future.
func epoch() time.Time {
	return time.Date(time.Now().UTC().Year(), time.January, 1, 0, 0, 0, 0, time.UTC)
}
