package render

import (
	"io"

	"github.com/stampede-load/stampede/reports"
)

// WriteCompareMarkdown writes a comparison for a pull request or
// $GITHUB_STEP_SUMMARY: the verdict, the regressions first, then every row.
func WriteCompareMarkdown(w io.Writer, c *reports.Comparison) error {
	ew := &errWriter{w: w}
	writeCompareMarkdown(ew, "### Comparison: "+compareHeadline(c), c)
	return ew.err
}

// writeCompareMarkdown writes a comparison under heading: the regressions,
// then every row.
func writeCompareMarkdown(ew *errWriter, heading string, c *reports.Comparison) {
	ew.printf("%s\n\n", heading)
	for i := range c.Changes {
		if mc := &c.Changes[i]; mc.Verdict == reports.Regression {
			ew.printf("- **regression**: %s %s %s → %s (%s)\n", mdEscape(scopeName(mc)), mc.Metric, compareValue(mc, mc.Base), compareValue(mc, mc.New), mdEscape(mc.Why))
		}
	}
	ew.printf("\n")
	mdGrid(ew, compareGrid(c))
}
