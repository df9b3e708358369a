package sim

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/stampede-load/stampede/reports"
)

// Comparison sets a simulated run beside a measured one, figure by figure,
// each judged by the bound the simulator is held to: journeys completed
// and overall success within 5 points, each step's success within 10, the
// same top three error modes with the same upstreams, their onsets within
// 5 s, recovery after the peak within 15 s.
type Comparison struct {
	Rows []ComparisonRow
}

// ComparisonRow is one figure of a Comparison.
type ComparisonRow struct {
	Figure    string
	Measured  string
	Simulated string
	Bound     string // what the difference must stay within; "" for a figure shown, not judged
	Pass      bool
}

// Pass reports whether every judged figure is within its bound.
func (c *Comparison) Pass() bool {
	for _, r := range c.Rows {
		if r.Bound != "" && !r.Pass {
			return false
		}
	}
	return true
}

// Compare judges simulated against measured.
func Compare(measured, simulated *reports.Summary) *Comparison {
	c := &Comparison{}
	ratio := func(n, of int64) float64 {
		if of == 0 {
			return 0
		}
		return float64(n) / float64(of)
	}
	points := func(fig string, m, s, bound float64) {
		c.Rows = append(c.Rows, ComparisonRow{Figure: fig, Measured: pct(m), Simulated: pct(s),
			Bound: fmt.Sprintf("±%.0f points", bound*100), Pass: math.Abs(m-s) <= bound})
	}
	c.Rows = append(c.Rows,
		ComparisonRow{Figure: "journeys arrived", Measured: fmt.Sprint(measured.Arrivals), Simulated: fmt.Sprint(simulated.Arrivals)},
		ComparisonRow{Figure: "requests", Measured: fmt.Sprint(measured.Requests), Simulated: fmt.Sprint(simulated.Requests)})
	points("journeys completed", ratio(measured.JourneysCompleted, measured.Arrivals), ratio(simulated.JourneysCompleted, simulated.Arrivals), 0.05)
	points("request success", measured.SuccessRatio, simulated.SuccessRatio, 0.05)
	simSteps := map[string]reports.StepSummary{}
	for _, s := range simulated.Steps {
		simSteps[s.Journey+"/"+s.Name] = s
	}
	for _, m := range measured.Steps {
		s, ok := simSteps[m.Journey+"/"+m.Name]
		if !ok {
			c.Rows = append(c.Rows, ComparisonRow{Figure: "step " + m.Journey + "/" + m.Name, Measured: pct(m.SuccessRatio),
				Simulated: "(not simulated)", Bound: "±10 points"})
			continue
		}
		points("step "+m.Journey+"/"+m.Name, m.SuccessRatio, s.SuccessRatio, 0.10)
	}
	mt, st := topModes(measured, 3), topModes(simulated, 3)
	c.Rows = append(c.Rows, ComparisonRow{Figure: "top 3 error modes", Measured: strings.Join(modeNames(mt), "; "),
		Simulated: strings.Join(modeNames(st), "; "), Bound: "same three, same upstreams",
		Pass: sameSet(modeNames(mt), modeNames(st))})
	simModes := map[string]reports.ErrorSummary{}
	for _, e := range simulated.Errors {
		simModes[modeName(e)] = e
	}
	for _, e := range mt {
		row := ComparisonRow{Figure: "onset of " + modeName(e), Measured: fmt.Sprintf("+%.1fs", e.OnsetS), Bound: "±5 s"}
		if s, ok := simModes[modeName(e)]; ok {
			row.Simulated = fmt.Sprintf("+%.1fs", s.OnsetS)
			row.Pass = math.Abs(s.OnsetS-e.OnsetS) <= 5
		} else {
			row.Simulated = "(never)"
		}
		c.Rows = append(c.Rows, row)
	}
	row := ComparisonRow{Figure: "recovery after the peak", Measured: recovery(measured.Metastability),
		Simulated: recovery(simulated.Metastability), Bound: "±15 s"}
	if m, s := measured.Metastability, simulated.Metastability; m != nil && s != nil {
		row.Pass = math.Abs(m.RecoveryS-s.RecoveryS) <= 15
	} else {
		row.Pass = m == nil && s == nil
	}
	c.Rows = append(c.Rows, row)
	return c
}

func recovery(m *reports.Metastability) string {
	switch {
	case m == nil:
		return "(no overload)"
	case m.Recovered:
		return fmt.Sprintf("%.0f s", m.RecoveryS)
	}
	return fmt.Sprintf("none in %.0f s", m.RecoveryS)
}

func topModes(s *reports.Summary, n int) []reports.ErrorSummary {
	errs := slices.Clone(s.Errors)
	slices.SortStableFunc(errs, func(a, b reports.ErrorSummary) int { return int(b.Count - a.Count) })
	return errs[:min(n, len(errs))]
}

func modeName(e reports.ErrorSummary) string {
	if e.Upstream == "" {
		return string(e.Mode)
	}
	return string(e.Mode) + " via " + e.Upstream
}

func modeNames(es []reports.ErrorSummary) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = modeName(e)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

// Write prints the comparison as a Markdown table, one figure a row.
func (c *Comparison) Write(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| figure | measured | simulated | bound | |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range c.Rows {
		verdict := ""
		if r.Bound != "" {
			verdict = map[bool]string{true: "ok", false: "**off**"}[r.Pass]
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.Figure, r.Measured, r.Simulated, r.Bound, verdict)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
