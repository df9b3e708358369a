package render

import (
	"strconv"
	"strings"

	"github.com/stampede-load/stampede/reports"
)

// grid is a table for Markdown and HTML: a header row and body rows of
// cells already formatted; Right marks the columns to align right.
type grid struct {
	Head  []string
	Rows  [][]string
	Right []bool
}

// keyGrid is the key figures, one column per run.
func keyGrid(runs []*Run) grid {
	g := grid{Head: []string{""}, Right: []bool{false}}
	for _, r := range runs {
		g.Head = append(g.Head, r.Name)
		g.Right = append(g.Right, true)
	}
	row := func(name string, f func(s *reports.Summary) string) {
		cells := []string{name}
		for _, r := range runs {
			cells = append(cells, f(r.Summary))
		}
		g.Rows = append(g.Rows, cells)
	}
	row("source", func(s *reports.Summary) string { return s.Source })
	row("duration", func(s *reports.Summary) string {
		return reports.FormatDecimal(s.DurationS, 1) + " s offered + " + reports.FormatDecimal(s.WaitS, 1) + " s wait"
	})
	row("requests", func(s *reports.Summary) string { return reports.FormatCount(s.Requests) })
	row("offered", func(s *reports.Summary) string { return reports.FormatRate(s.OfferedRate) })
	row("achieved", func(s *reports.Summary) string { return reports.FormatRate(s.AchievedRate) })
	row("goodput", func(s *reports.Summary) string { return reports.FormatRate(s.Goodput) })
	row("success", func(s *reports.Summary) string { return reports.FormatPercent(s.SuccessRatio) })
	row("journeys completed", func(s *reports.Summary) string {
		if s.Arrivals == 0 {
			return "-"
		}
		return reports.FormatCount(s.JourneysCompleted) + " of " + reports.FormatCount(s.Arrivals)
	})
	row("p50 / p90 / p99", func(s *reports.Summary) string {
		return reports.FormatMillis(s.Latency.P50) + " / " + reports.FormatMillis(s.Latency.P90) + " / " + reports.FormatMillis(s.Latency.P99)
	})
	row("p99.9 / max", func(s *reports.Summary) string {
		return reports.FormatMillis(s.Latency.P999) + " / " + reports.FormatMillis(s.Latency.Max)
	})
	row("dropped arrivals", func(s *reports.Summary) string { return reports.FormatCount(s.Dropped) })
	row("retries", func(s *reports.Summary) string {
		return reports.FormatCount(s.Retries) + " (" + reports.FormatPercent(s.RetryShare) + ")"
	})
	any := func(f func(s *reports.Summary) bool) bool {
		for _, r := range runs {
			if f(r.Summary) {
				return true
			}
		}
		return false
	}
	if any(func(s *reports.Summary) bool { return s.Saturation != nil }) {
		row("saturation", func(s *reports.Summary) string {
			if s.Saturation == nil || !s.Saturation.Saturated {
				return "-"
			}
			return reports.FormatRate(s.Saturation.OfferedRate)
		})
	}
	if any(func(s *reports.Summary) bool { return s.Metastability != nil }) {
		row("recovery", func(s *reports.Summary) string {
			m := s.Metastability
			switch {
			case m == nil:
				return "-"
			case m.Recovered:
				return "after " + seconds(m.RecoveryS)
			}
			return "none in " + seconds(m.RecoveryS)
		})
	}
	if any(func(s *reports.Summary) bool { return s.TimeScale > 0 || s.RateScale > 0 }) {
		row("scale", func(s *reports.Summary) string {
			sc := scaleOf(s)
			return "time ×" + strconv.FormatFloat(sc.time, 'g', -1, 64) + ", rate ×" + strconv.FormatFloat(sc.rate, 'g', -1, 64)
		})
	}
	if any(func(s *reports.Summary) bool { return len(s.Gates) > 0 }) {
		row("gates", func(s *reports.Summary) string {
			v := NewVerdict(&Run{Summary: s})
			if v.Gates == 0 {
				return "-"
			}
			if v.Pass {
				return "PASS (" + strconv.Itoa(v.Gates) + ")"
			}
			return "FAIL (" + strconv.Itoa(v.Failed) + " of " + strconv.Itoa(v.Gates) + ")"
		})
	}
	return g
}

// gateGrid is a run's gates; only the failing ones when failingOnly.
func gateGrid(s *reports.Summary, failingOnly bool) grid {
	g := grid{Head: []string{"gate", "actual", "result"}, Right: []bool{false, true, false}}
	for _, gr := range s.Gates {
		if failingOnly && gr.Pass {
			continue
		}
		res := "pass"
		if !gr.Pass {
			res = "FAIL"
			if gr.Reason != "" {
				res += ": " + gr.Reason
			}
		}
		g.Rows = append(g.Rows, []string{gr.Expr, reports.FormatGateValue(gr.Metric, gr.Actual), res})
	}
	return g
}

// stepGrid is a run's steps.
func stepGrid(s *reports.Summary) grid {
	g := grid{Head: []string{"step", "requests", "success", "p50", "p90", "p99", "max", "top error"},
		Right: []bool{false, true, true, true, true, true, true, false}}
	journeys := map[string]bool{}
	for _, st := range s.Steps {
		journeys[st.Journey] = true
	}
	for _, st := range s.Steps {
		name := st.Name
		if len(journeys) > 1 {
			name = st.Journey + "/" + st.Name
		}
		top := "-"
		if len(st.Errors) > 0 {
			e := st.Errors[0]
			top = string(e.Mode)
			if e.Upstream != "" {
				top += " via " + e.Upstream
			}
			top += " " + reports.FormatPercent(e.Share)
		}
		timed := st.Requests > st.Dropped
		cell := func(v float64) string {
			if !timed {
				return "-"
			}
			return reports.FormatMillis(v)
		}
		g.Rows = append(g.Rows, []string{name, reports.FormatCount(st.Requests), reports.FormatPercent(st.SuccessRatio), cell(st.Latency.P50),
			cell(st.Latency.P90), cell(st.Latency.P99), cell(st.Latency.Max), top})
	}
	return g
}

// replicationGrid is a replicated simulation's headline figures, each the
// mean with its 95% half-width, a wide one flagged.
func replicationGrid(r *reports.Replications) grid {
	g := grid{Head: []string{"figure", "mean", "± 95%", ""}, Right: []bool{false, true, true, false}}
	for _, f := range r.Figures {
		note := ""
		if f.Wide {
			note = "wide: run more replications"
		}
		unit := f.Unit
		if unit != "" && unit != "%" && unit != "/s" {
			unit = " " + unit
		}
		g.Rows = append(g.Rows, []string{f.Name, reports.FormatDecimal(f.Mean, 2) + unit, reports.FormatDecimal(f.HalfWidth, 2) + unit, note})
	}
	return g
}

// errorGrid is a run's error modes, at most limit of them (0: all).
func errorGrid(s *reports.Summary, limit int) grid {
	g := grid{Head: []string{"mode", "upstream", "count", "share", "onset", "offered at onset", "first in", "message"},
		Right: []bool{false, false, true, true, true, true, false, false}}
	sc := scaleOf(s)
	for i, e := range s.Errors {
		if limit > 0 && i == limit {
			break
		}
		msg := e.Message
		if msg == "" {
			msg = e.Example
		}
		onset := "+" + reports.FormatDecimal(e.OnsetS, 1) + "s"
		rate := reports.FormatRate(e.OnsetOfferedRate)
		if sc.time != 1 {
			onset += " (+" + seconds(e.OnsetS*sc.time) + " real)"
		}
		if sc.rate != 1 {
			rate += " (" + reports.FormatRate(e.OnsetOfferedRate/sc.rate) + " real)"
		}
		g.Rows = append(g.Rows, []string{string(e.Mode), orDash(e.Upstream), reports.FormatCount(e.Count), reports.FormatPercent(e.Share), onset, rate, orDash(e.Step), orDash(reports.Clip(msg, 90))})
	}
	return g
}

// searchGrid is a saturation search's steps in the order they ran.
func searchGrid(rep *reports.SaturationReport) grid {
	slo, err := reports.ParseSLO(rep.SLO, reports.DefaultSLO)
	if err != nil {
		slo = reports.DefaultSLO
	}
	q := reports.QuantileName(slo.Quantile)
	g := grid{Head: []string{"step", "rate", "offered", "achieved", "goodput", "p50", q, "errors", "in flight", "result"},
		Right: []bool{true, true, true, true, true, true, true, true, true, false}}
	for _, p := range rep.Steps {
		step := strconv.Itoa(p.Index)
		if p.Refine {
			step += " bisect"
		}
		res := "ok"
		if !p.Pass {
			res = strings.Join(p.Reasons, "; ")
		}
		g.Rows = append(g.Rows, []string{step, reports.FormatRate(p.Rate), reports.FormatRate(p.OfferedRate), reports.FormatRate(p.AchievedRate),
			reports.FormatRate(p.Goodput) + " (" + reports.FormatPercent(p.GoodputRatio) + ")", reports.FormatMillis(p.Latency.P50), reports.FormatMillis(p.Latency.At(slo.Quantile)),
			reports.FormatPercent(p.ErrorRate), reports.FormatDecimal(p.InFlight, 1), res})
	}
	return g
}
