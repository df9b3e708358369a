package render

import (
	"io"
	"strings"
)

// maxMarkdownErrors bounds the error modes in Markdown: a pull request
// comment or a job summary should fit on a screen.
const maxMarkdownErrors = 5

// WriteMarkdown writes the report for a pull request or
// $GITHUB_STEP_SUMMARY: per run the verdict, the failing gates with their
// actual values, the comparison with its baseline when it has one; then the key figures side by side, the steps and the
// most frequent error modes.
func WriteMarkdown(w io.Writer, runs []*Run) error {
	ew := &errWriter{w: w}
	var names []string
	for _, r := range runs {
		names = append(names, runTitle(r))
	}
	ew.printf("## stampede · %s\n", strings.Join(names, " vs "))
	for _, r := range runs {
		v := NewVerdict(r)
		ew.printf("\n")
		if len(runs) > 1 {
			ew.printf("### %s\n\n", mdEscape(r.Name))
		}
		switch {
		case v.Gates > 0 && v.Pass:
			ew.printf("**PASS**: all %d gates passed.\n\n", v.Gates)
		case v.Gates > 0:
			ew.printf("**FAIL**: %d of %d gates failed.\n\n", v.Failed, v.Gates)
		}
		for _, p := range v.Paragraphs {
			ew.printf("> %s\n>\n", mdEscape(p))
		}
		if v.Failed > 0 {
			ew.printf("\nFailing gates:\n\n")
			mdGrid(ew, gateGrid(r.Summary, true))
		}
		if c := r.Baseline; c != nil {
			ew.printf("\n")
			writeCompareMarkdown(ew, "### Against the baseline "+mdEscape(r.BaselineName)+"\n\n"+mdEscape(compareHeadline(c)), c)
		}
	}
	ew.printf("\n### Key figures\n\n")
	mdGrid(ew, keyGrid(runs))
	for _, r := range runs {
		suffix := ""
		if len(runs) > 1 {
			suffix = " · " + r.Name
		}
		if reps := r.Summary.Replications; reps != nil && len(reps.Figures) > 0 {
			ew.printf("\n### %d replications%s\n\n", reps.N, mdEscape(suffix))
			mdGrid(ew, replicationGrid(reps))
		}
		if r.Saturation != nil {
			ew.printf("\n### Saturation search%s\n\n", mdEscape(suffix))
			mdGrid(ew, searchGrid(r.Saturation))
		}
		if len(r.Summary.Steps) > 0 {
			ew.printf("\n### Steps%s\n\n", mdEscape(suffix))
			mdGrid(ew, stepGrid(r.Summary))
		}
		if len(r.Summary.Errors) > 0 {
			ew.printf("\n### Error modes%s\n\n", mdEscape(suffix))
			mdGrid(ew, errorGrid(r.Summary, maxMarkdownErrors))
			if more := len(r.Summary.Errors) - maxMarkdownErrors; more > 0 {
				ew.printf("\n…and %d more (the HTML report and summary.json have them all).\n", more)
			}
		}
	}
	return ew.err
}

// runTitle names a run: its scenario, else its folder.
func runTitle(r *Run) string {
	if r.Summary.Scenario != "" {
		return mdEscape(r.Summary.Scenario)
	}
	return mdEscape(r.Name)
}

func mdGrid(ew *errWriter, g grid) {
	row := func(cells []string) {
		ew.printf("|")
		for _, c := range cells {
			ew.printf(" %s |", mdEscape(c))
		}
		ew.printf("\n")
	}
	row(g.Head)
	ew.printf("|")
	for i := range g.Head {
		if i < len(g.Right) && g.Right[i] {
			ew.printf(" ---: |")
		} else {
			ew.printf(" --- |")
		}
	}
	ew.printf("\n")
	for _, r := range g.Rows {
		row(r)
	}
}

// mdEscape keeps text literal in Markdown: table pipes, emphasis, HTML.
var mdEscape = strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;", "`", "\\`", "\n", " ").Replace
