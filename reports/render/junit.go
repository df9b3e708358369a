package render

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"

	"github.com/stampede-load/stampede/reports"
)

// JUnit XML, the shape CI systems (GitHub, GitLab, Jenkins) read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: a test suite per run and a
// test case per gate, named by its expression, failing with its actual
// value (or why it could not be judged). A run without gates gets one
// case, "run", that fails only when the run was interrupted. The verdict
// is the suite's system-out.
func WriteJUnit(w io.Writer, runs []*Run) error {
	out := junitSuites{Name: "stampede"}
	for _, r := range runs {
		s := r.Summary
		v := NewVerdict(r)
		name := s.Scenario
		if name == "" {
			name = r.Name
		}
		suite := junitSuite{Name: "stampede." + name, Time: strconv.FormatFloat(s.DurationS+s.WaitS, 'f', 3, 64), SystemOut: v.Text()}
		if !s.StartedAt.IsZero() {
			suite.Timestamp = s.StartedAt.UTC().Format("2006-01-02T15:04:05")
		}
		suite.Properties = []junitProperty{{"source", s.Source}, {"run", r.Name}, {"requests", strconv.FormatInt(s.Requests, 10)},
			{"success_ratio", strconv.FormatFloat(s.SuccessRatio, 'f', -1, 64)}, {"p99_ms", strconv.FormatFloat(s.Latency.P99, 'f', -1, 64)}}
		class := "stampede." + name + ".gates"
		for _, g := range s.Gates {
			c := junitCase{Name: g.Expr, Classname: class, Time: "0", SystemOut: "actual " + reports.FormatGateValue(g.Metric, g.Actual)}
			if !g.Pass {
				msg := g.Expr + ": " + gateFailure(g)
				c.Failure = &junitFailure{Message: msg, Type: "gate", Text: msg + "\n\n" + v.Text()}
				suite.Failures++
			}
			suite.Cases = append(suite.Cases, c)
		}
		if len(s.Gates) == 0 {
			c := junitCase{Name: "run", Classname: "stampede." + name, Time: suite.Time}
			if s.Interrupted {
				c.Failure = &junitFailure{Message: "the run was interrupted", Type: "interrupted", Text: v.Text()}
				suite.Failures++
			}
			suite.Cases = append(suite.Cases, c)
		}
		suite.Tests = len(suite.Cases)
		out.Tests += suite.Tests
		out.Failures += suite.Failures
		out.Suites = append(out.Suites, suite)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	return nil
}
