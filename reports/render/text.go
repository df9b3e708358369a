package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter/tw"

	"github.com/stampede-load/stampede/reports"
)

// textWidth is where the table format wraps the verdict.
const textWidth = 100

// writeTextReport writes the report for a terminal: each run's verdict, then
// its tables (the saturation search's steps when it was one). Several
// runs get their key figures side by side first.
func writeTextReport(w io.Writer, runs []*Run) error {
	ew := &errWriter{w: w}
	if len(runs) > 1 {
		if err := writeGridTable(ew, keyGrid(runs)); err != nil {
			return fmt.Errorf("key figures: %w", err)
		}
		ew.printf("\n")
	}
	for i, r := range runs {
		if i > 0 {
			ew.printf("\n")
		}
		if len(runs) > 1 {
			ew.printf("== %s\n", r.Name)
		}
		v := NewVerdict(r)
		ew.printf("Verdict\n")
		for _, p := range v.Paragraphs {
			ew.printf("%s\n\n", wrap(p, textWidth))
		}
		if ew.err != nil {
			return ew.err
		}
		if r.Saturation != nil {
			if err := WriteSaturationTable(w, r.Saturation); err != nil {
				return err
			}
			ew.printf("\n")
		}
		if err := WriteTable(w, r.Summary); err != nil {
			return err
		}
		if reps := r.Summary.Replications; reps != nil && len(reps.Figures) > 0 {
			ew.printf("\n%d replications: mean ± 95%% confidence half-width\n", reps.N)
			if err := writeGridTable(ew, replicationGrid(reps)); err != nil {
				return fmt.Errorf("replications: %w", err)
			}
		}
		if c := r.Baseline; c != nil {
			ew.printf("\nAgainst the baseline %s: %s\n\n", r.BaselineName, compareHeadline(c))
			if err := writeGridTable(ew, compareGrid(c)); err != nil {
				return fmt.Errorf("baseline: %w", err)
			}
			for _, n := range c.Notes {
				ew.printf("note: %s\n", n)
			}
		}
	}
	return ew.err
}

// writeGridTable writes g as a terminal table.
func writeGridTable(ew *errWriter, g grid) error {
	aligns := make([]tw.Align, len(g.Head))
	for i := range aligns {
		aligns[i] = tw.AlignLeft
		if i < len(g.Right) && g.Right[i] {
			aligns[i] = tw.AlignRight
		}
	}
	t := NewTable(ew, aligns...)
	t.Header(g.Head)
	for _, r := range g.Rows {
		if err := t.Append(r); err != nil {
			return err
		}
	}
	return t.Render()
}

// wrap breaks text at spaces so no line passes width runes.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(text) {
		wl := len([]rune(word))
		if i > 0 {
			if n+1+wl > width {
				b.WriteByte('\n')
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(word)
		n += wl
	}
	return b.String()
}

// writeJSONReport writes the summary.json contract with the verdict in its
// "verdict" field: one summary, or an array of them for several runs.
func writeJSONReport(w io.Writer, runs []*Run) error {
	out := make([]*reports.Summary, len(runs))
	for i, r := range runs {
		s := *r.Summary
		s.Verdict = NewVerdict(r).Text()
		out[i] = &s
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	var v any = out
	if len(out) == 1 {
		v = out[0]
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}
