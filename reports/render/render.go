package render

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/stampede-load/stampede/reports"
)

// ErrBadInput marks a report request that cannot be met from what it was
// given: an unknown format, a folder that holds no run, runs that cannot
// be reported together.
var ErrBadInput = errors.New("bad report input")

// Run is one run to report: its summary, the saturation search's steps
// when it was one, and a name for column heads when runs are shown side
// by side.
type Run struct {
	Name       string                    // usually the run folder's base name
	Summary    *reports.Summary          // required
	Saturation *reports.SaturationReport // nil unless the run was a saturation search

	// Baseline is the run compared with a base run of its scenario
	// (report --baseline; see CompareWithBaseline), nil for none. The
	// table, Markdown and HTML show it; BaselineName names the base.
	Baseline     *reports.Comparison
	BaselineName string
}

// CompareWithBaseline compares each run with base, a run of the same
// scenario named name, as stampede compare does (reports.Compare), and
// keeps the comparison in the run for the table, Markdown and HTML to
// show. Runs of another scenario are an error wrapping
// reports.ErrNotComparable.
func CompareWithBaseline(runs []*Run, name string, base *reports.Summary, o reports.CompareOptions) error {
	for _, r := range runs {
		c, err := reports.Compare(base, r.Summary, o)
		if err != nil {
			return fmt.Errorf("--baseline %s and %s: %w", name, r.Name, err)
		}
		r.Baseline, r.BaselineName = c, name
	}
	return nil
}

// Format is an output format of Write.
type Format string

// The formats.
const (
	Table    Format = "table"
	Markdown Format = "md"
	JSON     Format = "json"
	HTML     Format = "html"
	JUnit    Format = "junit"
)

// Formats lists every format, for help texts.
var Formats = []Format{Table, Markdown, JSON, HTML, JUnit}

// ParseFormat reads a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("%w: format %q: want %s", ErrBadInput, s, strings.Join(names, ", "))
}

// Write renders runs in format f: one run, or several side by side.
func Write(w io.Writer, f Format, runs []*Run) error {
	if len(runs) == 0 {
		return fmt.Errorf("%w: no run to report", ErrBadInput)
	}
	for _, r := range runs {
		if r == nil || r.Summary == nil {
			return fmt.Errorf("%w: a run without a summary", ErrBadInput)
		}
	}
	switch f {
	case Table:
		return writeTextReport(w, runs)
	case Markdown:
		return WriteMarkdown(w, runs)
	case JSON:
		return writeJSONReport(w, runs)
	case HTML:
		return WriteHTML(w, runs)
	case JUnit:
		return WriteJUnit(w, runs)
	}
	_, err := ParseFormat(string(f))
	return err
}

// The report files a run leaves in its folder.
const (
	HTMLFile     = "report.html"
	MarkdownFile = "report.md"
)

// WriteFiles writes report.html and report.md of runs into dir. Each is
// written beside its final name and renamed into place, so a reader never
// sees half a report.
func WriteFiles(dir string, runs []*Run) error {
	for _, f := range []struct {
		name   string
		format Format
	}{{HTMLFile, HTML}, {MarkdownFile, Markdown}} {
		if err := reports.WriteFileAtomic(filepath.Join(dir, f.name), func(w io.Writer) error { return Write(w, f.format, runs) }); err != nil {
			return err
		}
	}
	return nil
}
