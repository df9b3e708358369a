package render

import (
	"encoding/xml"
	"fmt"
	"io"

	"github.com/stampede-load/stampede/reports"
)

// WriteCompareJUnit writes a comparison as a JUnit XML report: one test
// case per metric, failing on a regression, skipped when inconclusive.
func WriteCompareJUnit(w io.Writer, c *reports.Comparison) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type skipped struct {
		Message string `xml:"message,attr"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		ClassName string   `xml:"classname,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		Skipped   *skipped `xml:"skipped,omitempty"`
		SystemOut string   `xml:"system-out,omitempty"`
	}
	type testsuite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Skipped  int        `xml:"skipped,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	ts := testsuite{Name: "stampede compare " + c.Scenario, Tests: len(c.Changes)}
	for i := range c.Changes {
		mc := &c.Changes[i]
		tc := testcase{Name: scopeName(mc) + " " + mc.Metric, ClassName: "stampede.compare." + c.Scenario,
			SystemOut: fmt.Sprintf("base %s, new %s: %s", compareValue(mc, mc.Base), compareValue(mc, mc.New), mc.Why)}
		switch mc.Verdict {
		case reports.Regression:
			tc.Failure = &failure{Message: "regression: " + mc.Why, Text: tc.SystemOut}
			ts.Failures++
		case reports.Inconclusive:
			tc.Skipped = &skipped{Message: "inconclusive: " + mc.Why}
			ts.Skipped++
		}
		ts.Cases = append(ts.Cases, tc)
	}
	ew := &errWriter{w: w}
	ew.printf("%s", xml.Header)
	enc := xml.NewEncoder(ew)
	enc.Indent("", "  ")
	if err := enc.Encode(ts); err != nil {
		return fmt.Errorf("compare junit: %w", err)
	}
	ew.printf("\n")
	return ew.err
}
