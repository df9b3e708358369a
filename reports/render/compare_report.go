package render

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter/tw"

	"github.com/stampede-load/stampede/reports"
)

// compareValue formats a compared metric in its unit.
func compareValue(mc *reports.MetricChange, v float64) string {
	switch mc.Unit {
	case "ms":
		return reports.FormatMillis(v)
	case "ratio":
		return reports.FormatPercent(v)
	case "per_s":
		return reports.FormatRate(v)
	}
	return fmt.Sprint(v)
}

// scopeName is "run" for the whole run, else the step.
func scopeName(mc *reports.MetricChange) string {
	if mc.Step == "" {
		return "run"
	}
	return mc.Step
}

// interval formats the bootstrap interval, "-" without one.
func interval(mc *reports.MetricChange) string {
	if !mc.Interval {
		return "-"
	}
	return fmt.Sprintf("[%+.1f%%, %+.1f%%]", 100*mc.Low, 100*mc.High)
}

// compareHeadline is the comparison's verdict in one line.
func compareHeadline(c *reports.Comparison) string {
	v := c.Verdicts
	return fmt.Sprintf("%s: %d regressions, %d improvements, %d no change, %d inconclusive (floor %.0f%%, α %.2g after Holm over %d metrics)",
		c.Scenario, v[reports.Regression], v[reports.Improvement], v[reports.NoChange], v[reports.Inconclusive], 100*c.Floor, c.Alpha, len(c.Changes))
}

// WriteCompareTable writes a comparison as a terminal table.
func WriteCompareTable(w io.Writer, c *reports.Comparison) error {
	ew := &errWriter{w: w}
	ew.printf("%s\n\n", compareHeadline(c))
	l, r := tw.AlignLeft, tw.AlignRight
	t := NewTable(ew, l, l, r, r, r, r, l, l)
	t.Header("scope", "metric", "base", "new", "change", "p (Holm)", "95% interval", "verdict")
	for i := range c.Changes {
		mc := &c.Changes[i]
		if err := t.Append(scopeName(mc), mc.Metric, compareValue(mc, mc.Base), compareValue(mc, mc.New),
			fmt.Sprintf("%+.1f%%", 100*mc.Change), fmt.Sprintf("%.2g", mc.PAdjusted), interval(mc), verdictText(mc)); err != nil {
			return fmt.Errorf("compare table: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("compare table: %w", err)
	}
	for _, n := range c.Notes {
		ew.printf("note: %s\n", n)
	}
	return ew.err
}

// verdictText is the verdict, with the seconds that would decide an
// inconclusive one.
func verdictText(mc *reports.MetricChange) string {
	if mc.Verdict == reports.Inconclusive && mc.MoreSeconds > 0 {
		return fmt.Sprintf("inconclusive: ~%.0f s more", mc.MoreSeconds)
	}
	return mc.Verdict
}

// WriteCompareMarkdown writes a comparison for a pull request or
// $GITHUB_STEP_SUMMARY: the verdict, the regressions first, then every row.
func WriteCompareMarkdown(w io.Writer, c *reports.Comparison) error {
	ew := &errWriter{w: w}
	ew.printf("### Comparison: %s\n\n", compareHeadline(c))
	for i := range c.Changes {
		if mc := &c.Changes[i]; mc.Verdict == reports.Regression {
			ew.printf("- **regression**: %s %s %s → %s (%s)\n", scopeName(mc), mc.Metric, compareValue(mc, mc.Base), compareValue(mc, mc.New), mc.Why)
		}
	}
	ew.printf("\n| scope | metric | base | new | change | p (Holm) | 95%% interval | verdict |\n|---|---|--:|--:|--:|--:|---|---|\n")
	for i := range c.Changes {
		mc := &c.Changes[i]
		ew.printf("| %s | %s | %s | %s | %+.1f%% | %.2g | %s | %s |\n", mdCell(scopeName(mc)), mc.Metric, compareValue(mc, mc.Base),
			compareValue(mc, mc.New), 100*mc.Change, mc.PAdjusted, interval(mc), verdictText(mc))
	}
	return ew.err
}

// mdCell escapes a Markdown table cell.
func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

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
