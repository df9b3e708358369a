package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/stampede-load/stampede/reports"
)

// maxExampleCell bounds an example in the terminal table; summary.json
// keeps it whole.
const maxExampleCell = 60

// WriteTable renders s for a terminal: a headline, the per-step table with
// a totals row, dropped arrivals, retries and the queueing inside the
// generator, the error modes, saturation when known, and the gates. Tables
// are drawn in plain ASCII so CI logs show them intact.
func WriteTable(w io.Writer, s *reports.Summary) error {
	ew := &errWriter{w: w}
	writeHeadline(ew, s)
	if ew.err != nil {
		return ew.err
	}

	if s.Requests == 0 {
		ew.printf("\nno requests were recorded\n")
	} else {
		ew.printf("\nSteps\n")
		if err := stepTable(ew, s); err != nil {
			return err
		}
		ew.printf("\ndropped arrivals: %s (%s of requests)\n", reports.FormatCount(s.Dropped), reports.FormatPercent(s.DroppedShare()))
		ew.printf("retries: %s (%s of requests)", reports.FormatCount(s.Retries), reports.FormatPercent(s.RetryShare))
		if ra := s.RetryAmplification; ra != nil {
			ew.printf("; load amplified ×%s overall, peak ×%s at +%ss", reports.FormatDecimal(ra.Factor, 2), reports.FormatDecimal(ra.PeakFactor, 2), reports.FormatDecimal(ra.PeakS, 1))
		}
		ew.printf("\n")
		if s.Queue == (reports.LatencyMs{}) && s.SendLatency == (reports.LatencyMs{}) {
			ew.printf("generator queueing: not recorded (the results carry no send time)\n")
		} else {
			ew.printf("generator queueing: p99 %s waiting to be sent; p99 %s from the intended time vs %s from sending\n",
				reports.FormatMillis(s.Queue.P99), reports.FormatMillis(s.Latency.P99), reports.FormatMillis(s.SendLatency.P99))
		}
	}
	writeGenerator(ew, s.Generator)

	if len(s.Errors) > 0 {
		ew.printf("\nError modes\n")
		if err := errorTable(ew, s); err != nil {
			return err
		}
	}
	if sat := s.Saturation; sat != nil {
		switch {
		case sat.Saturated && sat.OfferedRate == 0 && sat.ArrivalRate == 0 && sat.FailedRate > 0:
			ew.printf("\nsaturation: already at the first step, %s", sat.Reason)
		case sat.Saturated:
			ew.printf("\nsaturation: at %s offered, %s", reports.FormatRate(sat.OfferedRate), sat.Reason)
		default:
			ew.printf("\nsaturation: %s", sat.Reason)
		}
		if sat.Component != "" {
			ew.printf(" (%s)", sat.Component)
		}
		if sat.KneeRate > 0 {
			ew.printf("; knee at %s", reports.FormatRate(sat.KneeRate))
		}
		if u := sat.USL; u != nil && u.PeakRate == 0 {
			ew.printf("; USL: no peak in sight, linear at λ=%s", reports.FormatRate(u.Lambda))
		} else if u != nil {
			ew.printf("; USL peak %s (σ=%.4g κ=%.4g", reports.FormatRate(u.PeakRate), u.Sigma, u.Kappa)
			if u.R2 != 0 {
				ew.printf(" R²=%.2f", u.R2)
			}
			ew.printf(")")
		}
		ew.printf("\n")
	}
	if m := s.Metastability; m != nil {
		ew.printf("\nmetastability: %s\n", m.Verdict)
	}
	writeOutputs(ew, s.Outputs)
	if len(s.Gates) > 0 {
		ew.printf("\nGates\n")
		if err := gateTable(ew, s); err != nil {
			return err
		}
		passed := 0
		for _, g := range s.Gates {
			if g.Pass {
				passed++
			}
		}
		verdict := "PASS"
		if !s.Passed() {
			verdict = "FAIL"
		}
		ew.printf("%s: %d of %d gates passed\n", verdict, passed, len(s.Gates))
	}
	return ew.err
}

// writeOutputs says how each live output fared, loudest when it was down.
func writeOutputs(ew *errWriter, outs []reports.OutputStatus) {
	for _, o := range outs {
		switch {
		case o.Down:
			ew.printf("\n%s %s: DOWN at the end of the run, %d of %d pushes failed: %s\n", o.Kind, o.URL, o.Failed, o.Pushes, o.LastError)
		case o.Failed > 0:
			ew.printf("\n%s %s: %d of %d pushes failed (last: %s)\n", o.Kind, o.URL, o.Failed, o.Pushes, o.LastError)
		default:
			ew.printf("\n%s %s: %d pushes\n", o.Kind, o.URL, o.Pushes)
		}
	}
}

func writeHeadline(ew *errWriter, s *reports.Summary) {
	name := s.Scenario
	if name == "" {
		name = "run"
	}
	ew.printf("%s · %s · %ss offered + %ss wait", name, orDash(s.Source), reports.FormatDecimal(s.DurationS, 1), reports.FormatDecimal(s.WaitS, 1))
	if !s.StartedAt.IsZero() {
		ew.printf(" · started %s", s.StartedAt.Format("2006-01-02T15:04:05Z07:00"))
	}
	ew.printf("\n")
	if s.Interrupted {
		ew.printf("INTERRUPTED: the run was stopped early; the figures cover what ran\n")
	}
	ew.printf("requests %s · offered %s · achieved %s · goodput %s · success %s\n",
		reports.FormatCount(s.Requests), reports.FormatRate(s.OfferedRate), reports.FormatRate(s.AchievedRate), reports.FormatRate(s.Goodput), reports.FormatPercent(s.SuccessRatio))
	if s.Arrivals > 0 || s.JourneysCompleted > 0 {
		ew.printf("journeys: %s arrived (%s) · %s completed (%s)\n",
			reports.FormatCount(s.Arrivals), reports.FormatRate(s.ArrivalRate), reports.FormatCount(s.JourneysCompleted), reports.FormatRate(s.JourneyGoodput))
	}
}

// NewTable returns an ASCII table in the style of stampede's reports, with
// one alignment per column, for every terminal table (the audit's too).
func NewTable(w io.Writer, aligns ...tw.Align) *tablewriter.Table {
	al := tw.CellAlignment{PerColumn: aligns}
	return tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleASCII)})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignmentConfig(al),
		tablewriter.WithRowAlignmentConfig(al),
		tablewriter.WithFooterAlignmentConfig(al),
	)
}

func stepTable(ew *errWriter, s *reports.Summary) error {
	l, r := tw.AlignLeft, tw.AlignRight
	t := NewTable(ew, l, r, r, r, r, r, r, r, r, l)
	t.Header("step", "requests", "offered", "achieved", "success", "p50", "p90", "p99", "max", "top errors")
	journeys := map[string]bool{}
	for _, st := range s.Steps {
		journeys[st.Journey] = true
	}
	for _, st := range s.Steps {
		name := st.Name
		if len(journeys) > 1 {
			name = st.FullName()
		}
		timed := st.Requests > st.Dropped
		if err := t.Append(name, reports.FormatCount(st.Requests), reports.FormatRate(st.OfferedRate), reports.FormatRate(st.AchievedRate), reports.FormatPercent(st.SuccessRatio),
			latencyCell(st.Latency.P50, timed), latencyCell(st.Latency.P90, timed), latencyCell(st.Latency.P99, timed),
			latencyCell(st.Latency.Max, timed), topErrors(st.Errors)); err != nil {
			return fmt.Errorf("step table: %w", err)
		}
	}
	var top []reports.ModeCount
	for _, e := range s.Errors {
		if len(top) == 3 {
			break
		}
		top = append(top, reports.ModeCount{Mode: e.Mode, Upstream: e.Upstream, Count: e.Count, Share: e.Share})
	}
	timed := s.Requests > s.Dropped
	t.Footer("total", reports.FormatCount(s.Requests), reports.FormatRate(s.OfferedRate), reports.FormatRate(s.AchievedRate), reports.FormatPercent(s.SuccessRatio),
		latencyCell(s.Latency.P50, timed), latencyCell(s.Latency.P90, timed), latencyCell(s.Latency.P99, timed),
		latencyCell(s.Latency.Max, timed), topErrors(top))
	if err := t.Render(); err != nil {
		return fmt.Errorf("step table: %w", err)
	}
	return ew.err
}

// latencyCell is reports.FormatMillis(v), or "-" when no request was timed.
func latencyCell(v float64, timed bool) string {
	if !timed {
		return "-"
	}
	return reports.FormatMillis(v)
}

// topErrors lists modes one per line: "http 503 QUEUE_FULL (nexi) 12.5%".
func topErrors(m []reports.ModeCount) string {
	if len(m) == 0 {
		return "-"
	}
	var b strings.Builder
	for i, e := range m {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(string(e.Mode))
		if e.Upstream != "" {
			b.WriteString(" (" + e.Upstream + ")")
		}
		b.WriteString(" " + reports.FormatPercent(e.Share))
	}
	return b.String()
}

func errorTable(ew *errWriter, s *reports.Summary) error {
	l, r := tw.AlignLeft, tw.AlignRight
	t := NewTable(ew, l, l, r, r, r, r, l, l)
	t.Header("mode", "upstream", "count", "share", "onset", "offered at onset", "first in", "example")
	for _, e := range s.Errors {
		if err := t.Append(string(e.Mode), orDash(e.Upstream), reports.FormatCount(e.Count), reports.FormatPercent(e.Share),
			"+"+reports.FormatDecimal(e.OnsetS, 1)+"s", reports.FormatRate(e.OnsetOfferedRate), orDash(e.Step), orDash(reports.Clip(reports.ErrorCause(e.Example), maxExampleCell))); err != nil {
			return fmt.Errorf("error table: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("error table: %w", err)
	}
	return ew.err
}

func gateTable(ew *errWriter, s *reports.Summary) error {
	l, r := tw.AlignLeft, tw.AlignRight
	t := NewTable(ew, l, r, l)
	t.Header("gate", "actual", "result")
	for _, g := range s.Gates {
		res := "pass"
		if !g.Pass {
			res = "FAIL"
			if d := gateDetail(g); d != "" {
				res += ": " + d
			}
		}
		if err := t.Append(g.Expr, reports.FormatGateValue(g.Metric, g.Actual), res); err != nil {
			return fmt.Errorf("gate table: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("gate table: %w", err)
	}
	return ew.err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// errWriter keeps the first write error so rendering code can write freely
// and check once.
type errWriter struct {
	w   io.Writer
	err error
}

// Write writes p unless an earlier write failed.
func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = fmt.Errorf("write report: %w", err)
	}
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}

// writeGenerator says whether the generator itself was the limit, and what
// to do about it; nothing for a run that did not measure it (a simulation).
func writeGenerator(ew *errWriter, g *reports.Generator) {
	if g == nil {
		return
	}
	ew.printf("generator: %s\n", g)
	if g.Limited() {
		ew.printf("  what to do: %s\n", g.Advice)
	}
	for _, w := range g.Warning {
		ew.printf("  warning: %s\n", w)
	}
}
