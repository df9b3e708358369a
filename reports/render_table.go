package reports

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// maxExampleCell bounds an example in the terminal table; summary.json
// keeps it whole.
const maxExampleCell = 60

// WriteTable renders s for a terminal: a headline, the per-step table with
// a totals row, dropped arrivals, retries and the queueing inside the
// generator, the error modes, saturation when known, and the gates. Tables
// are drawn in plain ASCII so CI logs show them intact.
func WriteTable(w io.Writer, s *Summary) error {
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
		ew.printf("\ndropped arrivals: %s (%s of requests)\n", count(s.Dropped), pct(ratio(s.Dropped, s.Requests)))
		ew.printf("retries: %s (%s of requests)", count(s.Retries), pct(s.RetryShare))
		if ra := s.RetryAmplification; ra != nil {
			ew.printf("; load amplified ×%s overall, peak ×%s at +%ss", decimal(ra.Factor, 2), decimal(ra.PeakFactor, 2), decimal(ra.PeakS, 1))
		}
		ew.printf("\n")
		if s.Queue == (LatencyMs{}) && s.SendLatency == (LatencyMs{}) {
			ew.printf("generator queueing: not recorded (the results carry no send time)\n")
		} else {
			ew.printf("generator queueing: p99 %s waiting to be sent; p99 %s from the intended time vs %s from sending\n",
				ms(s.Queue.P99), ms(s.Latency.P99), ms(s.SendLatency.P99))
		}
	}

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
			ew.printf("\nsaturation: at %s offered, %s", perSec(sat.OfferedRate), sat.Reason)
		default:
			ew.printf("\nsaturation: %s", sat.Reason)
		}
		if sat.Component != "" {
			ew.printf(" (%s)", sat.Component)
		}
		if sat.KneeRate > 0 {
			ew.printf("; knee at %s", perSec(sat.KneeRate))
		}
		if u := sat.USL; u != nil && u.PeakRate == 0 {
			ew.printf("; USL: no peak in sight, linear at λ=%s", perSec(u.Lambda))
		} else if u != nil {
			ew.printf("; USL peak %s (σ=%.4g κ=%.4g", perSec(u.PeakRate), u.Sigma, u.Kappa)
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

func writeHeadline(ew *errWriter, s *Summary) {
	name := s.Scenario
	if name == "" {
		name = "run"
	}
	ew.printf("%s · %s · %ss offered + %ss wait", name, orDash(s.Source), decimal(s.DurationS, 1), decimal(s.WaitS, 1))
	if !s.StartedAt.IsZero() {
		ew.printf(" · started %s", s.StartedAt.Format("2006-01-02T15:04:05Z07:00"))
	}
	ew.printf("\n")
	if s.Interrupted {
		ew.printf("INTERRUPTED: the run was stopped early; the figures cover what ran\n")
	}
	ew.printf("requests %s · offered %s · achieved %s · goodput %s · success %s\n",
		count(s.Requests), perSec(s.OfferedRate), perSec(s.AchievedRate), perSec(s.Goodput), pct(s.SuccessRatio))
	if s.Arrivals > 0 || s.JourneysCompleted > 0 {
		ew.printf("journeys: %s arrived (%s) · %s completed (%s)\n",
			count(s.Arrivals), perSec(s.ArrivalRate), count(s.JourneysCompleted), perSec(s.JourneyGoodput))
	}
}

// newTable returns an ASCII table with the given column alignments.
func newTable(w io.Writer, aligns ...tw.Align) *tablewriter.Table {
	al := tw.CellAlignment{PerColumn: aligns}
	return tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleASCII)})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignmentConfig(al),
		tablewriter.WithRowAlignmentConfig(al),
		tablewriter.WithFooterAlignmentConfig(al),
	)
}

func stepTable(ew *errWriter, s *Summary) error {
	l, r := tw.AlignLeft, tw.AlignRight
	t := newTable(ew, l, r, r, r, r, r, r, r, r, l)
	t.Header("step", "requests", "offered", "achieved", "success", "p50", "p90", "p99", "max", "top errors")
	journeys := map[string]bool{}
	for _, st := range s.Steps {
		journeys[st.Journey] = true
	}
	for _, st := range s.Steps {
		name := st.Name
		if len(journeys) > 1 {
			name = stepName(stepKey{st.Journey, st.Name})
		}
		timed := st.Requests > st.Dropped
		if err := t.Append(name, count(st.Requests), perSec(st.OfferedRate), perSec(st.AchievedRate), pct(st.SuccessRatio),
			latencyCell(st.Latency.P50, timed), latencyCell(st.Latency.P90, timed), latencyCell(st.Latency.P99, timed),
			latencyCell(st.Latency.Max, timed), topErrors(st.Errors)); err != nil {
			return fmt.Errorf("step table: %w", err)
		}
	}
	var top []ModeCount
	for _, e := range s.Errors {
		if len(top) == 3 {
			break
		}
		top = append(top, ModeCount{Mode: e.Mode, Upstream: e.Upstream, Count: e.Count, Share: e.Share})
	}
	timed := s.Requests > s.Dropped
	t.Footer("total", count(s.Requests), perSec(s.OfferedRate), perSec(s.AchievedRate), pct(s.SuccessRatio),
		latencyCell(s.Latency.P50, timed), latencyCell(s.Latency.P90, timed), latencyCell(s.Latency.P99, timed),
		latencyCell(s.Latency.Max, timed), topErrors(top))
	if err := t.Render(); err != nil {
		return fmt.Errorf("step table: %w", err)
	}
	return ew.err
}

// latencyCell is ms(v), or "-" when no request was timed.
func latencyCell(v float64, timed bool) string {
	if !timed {
		return "-"
	}
	return ms(v)
}

// topErrors lists modes one per line: "http 503 QUEUE_FULL (nexi) 12.5%".
func topErrors(m []ModeCount) string {
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
		b.WriteString(" " + pct(e.Share))
	}
	return b.String()
}

func errorTable(ew *errWriter, s *Summary) error {
	l, r := tw.AlignLeft, tw.AlignRight
	t := newTable(ew, l, l, r, r, r, r, l, l)
	t.Header("mode", "upstream", "count", "share", "onset", "offered at onset", "first in", "example")
	for _, e := range s.Errors {
		if err := t.Append(string(e.Mode), orDash(e.Upstream), count(e.Count), pct(e.Share),
			"+"+decimal(e.OnsetS, 1)+"s", perSec(e.OnsetOfferedRate), orDash(e.Step), orDash(clip(errorCause(e.Example), maxExampleCell))); err != nil {
			return fmt.Errorf("error table: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("error table: %w", err)
	}
	return ew.err
}

func gateTable(ew *errWriter, s *Summary) error {
	l, r := tw.AlignLeft, tw.AlignRight
	t := newTable(ew, l, r, l)
	t.Header("gate", "actual", "result")
	for _, g := range s.Gates {
		res := "pass"
		if !g.Pass {
			res = "FAIL"
			if g.Reason != "" {
				res += ": " + g.Reason
			}
		}
		if err := t.Append(g.Expr, gateValue(g.Metric, g.Actual), res); err != nil {
			return fmt.Errorf("gate table: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("gate table: %w", err)
	}
	return ew.err
}

// gateValue formats a gate's actual value in its metric's unit.
func gateValue(metric string, v float64) string {
	switch gateMetrics[metric] {
	case "duration":
		return ms(v)
	case "ratio":
		return pct(v)
	case "rate":
		return perSec(v)
	case "count":
		return count(int64(v))
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// ms formats milliseconds for a human: 850µs, 1.25ms, 12.5ms, 125ms, 1.25s.
func ms(v float64) string {
	switch {
	case v <= 0:
		return "0"
	case v < 1:
		return strconv.FormatFloat(v*1e3, 'f', 0, 64) + "µs"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	case v < 1000:
		return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
	case v < 10000:
		return strconv.FormatFloat(v/1e3, 'f', 2, 64) + "s"
	default:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "s"
	}
}

// pct formats a ratio as a percentage with two decimals.
func pct(v float64) string { return strconv.FormatFloat(v*100, 'f', 2, 64) + "%" }

// perSec formats a rate with one decimal and thousands separators.
func perSec(v float64) string { return decimal(v, 1) + "/s" }

// count formats an integer with thousands separators.
func count(n int64) string { return decimal(float64(n), 0) }

// decimal formats v with prec decimals and thousands separators.
func decimal(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// clip shortens s to n runes, marking the cut.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
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
