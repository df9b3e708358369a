package render

import (
	"io"
	"strings"

	"github.com/stampede-load/stampede/reports"
)

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
	ew.printf("\n| scope | metric | base | new | change | typical second | p (Holm) | 95%% interval | verdict |\n|---|---|--:|--:|--:|--:|--:|---|---|\n")
	for i := range c.Changes {
		mc := &c.Changes[i]
		ew.printf("| %s | %s | %s | %s | %+.1f%% | %+.1f%% | %.2g | %s | %s |\n", mdCell(scopeName(mc)), mc.Metric, compareValue(mc, mc.Base),
			compareValue(mc, mc.New), 100*mc.Change, 100*mc.Shift, mc.PAdjusted, interval(mc), verdictText(mc))
	}
	return ew.err
}

// mdCell escapes a Markdown table cell.
func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
