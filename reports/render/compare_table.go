package render

import (
	"fmt"
	"io"

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
	if err := writeGridTable(ew, compareGrid(c)); err != nil {
		return fmt.Errorf("compare table: %w", err)
	}
	for _, n := range c.Notes {
		ew.printf("note: %s\n", n)
	}
	return ew.err
}

// compareGrid is a comparison's rows, one per metric of the run and of
// each step, for every format.
func compareGrid(c *reports.Comparison) grid {
	g := grid{Head: []string{"scope", "metric", "base", "new", "change", "typical second", "p (Holm)", "95% interval", "verdict"},
		Right: []bool{false, false, true, true, true, true, true, false, false}}
	for i := range c.Changes {
		mc := &c.Changes[i]
		g.Rows = append(g.Rows, []string{scopeName(mc), mc.Metric, compareValue(mc, mc.Base), compareValue(mc, mc.New),
			fmt.Sprintf("%+.1f%%", 100*mc.Change), fmt.Sprintf("%+.1f%%", 100*mc.Shift), fmt.Sprintf("%.2g", mc.PAdjusted), interval(mc), verdictText(mc)})
	}
	return g
}

// verdictText is the verdict, with the seconds that would decide an
// inconclusive one.
func verdictText(mc *reports.MetricChange) string {
	if mc.Verdict == reports.Inconclusive && mc.MoreSeconds > 0 {
		return fmt.Sprintf("inconclusive: ~%.0f s more", mc.MoreSeconds)
	}
	return mc.Verdict
}
