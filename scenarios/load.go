package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stampede-load/stampede/internal/textfile"
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

// yamlLine finds the line in yaml.v3's error messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseScenario is Parse with the files the scenario names read from fl.
func parseScenario(file string, src []byte, fl files) (s *Scenario, err error) {
	d := &decoder{file: file, files: fl}
	defer func() {
		// A parser of untrusted input must not take the process down;
		// FuzzParse checks this never fires.
		if r := recover(); r != nil {
			s = nil
			err = &ValidationError{Problems: []Problem{{File: file, Line: 1, Message: fmt.Sprintf("internal error while parsing: %v", r)}}}
		}
	}()
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	switch err := dec.Decode(&root); {
	case errors.Is(err, io.EOF):
		d.add(&yaml.Node{Line: 1}, "", "the file is empty")
	case err != nil:
		d.yamlError(err)
	default:
		var next yaml.Node
		switch err := dec.Decode(&next); {
		case err == nil:
			d.add(&next, "", "a scenario file holds one YAML document; found a second one")
		case !errors.Is(err, io.EOF):
			d.yamlError(err)
		}
		s = d.scenario(&root)
	}
	if len(d.problems) > 0 {
		slices.SortStableFunc(d.problems, func(a, b Problem) int { return a.Line - b.Line })
		if d.dropped > 0 {
			last := d.problems[len(d.problems)-1].Line
			d.problems = append(d.problems, Problem{File: file, Line: last, Message: fmt.Sprintf("and %d more problems", d.dropped)})
		}
		return nil, &ValidationError{Problems: d.problems}
	}
	return s, nil
}

// yamlError reports a YAML syntax error at its line (line 1 when yaml.v3
// gives none).
func (d *decoder) yamlError(err error) {
	line, msg := 1, err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Key: "yaml", Message: msg})
}

// epoch is the default reference time of synthetic identities: the start of
// the current UTC year, so a user's identity is stable for a year and its
// card expiries (one to five years later) stay in the future.
func epoch() time.Time {
	return time.Date(time.Now().UTC().Year(), time.January, 1, 0, 0, 0, 0, time.UTC)
}
