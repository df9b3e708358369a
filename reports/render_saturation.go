package reports

import (
	"fmt"
	"io"
	"strconv"

	"github.com/olekukonko/tablewriter/tw"
)

// WriteSaturationTable renders a saturation search for a terminal: the
// plan and criteria, one row per step in the order they ran (bisection
// steps marked), why the search stopped, and the bank mock stations at the
// first step that failed when their metrics were read. The saturation
// point itself is in the run's summary (WriteTable).
func WriteSaturationTable(w io.Writer, r *SaturationReport) error {
	ew := &errWriter{w: w}
	name := r.Scenario
	if name == "" {
		name = "run"
	}
	maxRate := "until saturation"
	if r.MaxRate > 0 {
		maxRate = "up to " + perSec(r.MaxRate)
	}
	ew.printf("%s · saturation search · from %s by %s %s · %ss a step", name, perSec(r.StartRate), perSec(r.StepRate),
		maxRate, decimal(r.StepDurationS, 1))
	if r.Refine {
		ew.printf(" · refined")
	}
	ew.printf("\nholds when goodput >= %s of offered, %s\n", pctShort(r.MinGoodput), r.SLO)
	if r.Interrupted {
		ew.printf("INTERRUPTED: the search was stopped early; the figures cover the steps that ran\n")
	}
	if len(r.Steps) == 0 {
		ew.printf("\nno step ran\n")
		return ew.err
	}
	quantile := "p99"
	if slo, err := ParseSLO(r.SLO, DefaultSLO); err == nil {
		quantile = quantileName(slo.Quantile)
	}

	ew.printf("\nSteps (rates per second: journeys planned, requests offered and achieved, journeys completed)\n")
	l, rt := tw.AlignLeft, tw.AlignRight
	t := newTable(ew, rt, rt, rt, rt, rt, rt, rt, rt, rt, rt, l)
	t.Header("step", "rate", "offered", "achieved", "goodput", "p50", quantile, "errors", "in-flight", "L=X·W", "result")
	for i := range r.Steps {
		p := &r.Steps[i]
		step := strconv.Itoa(p.Index)
		if p.Refine {
			step += " bisect"
		}
		timed := p.Requests > p.failedUntimed()
		if err := t.Append(step, perSec(p.Rate), perSec(p.OfferedRate), perSec(p.AchievedRate),
			perSec(p.Goodput)+" ("+pct(p.GoodputRatio)+")", latencyCell(p.Latency.P50, timed),
			latencyCell(quantileMs(p.Latency, quantileOf(quantile)), timed), pct(p.ErrorRate),
			decimal(p.InFlight, 1), decimal(p.LittleInFlight, 1), describeStep(p)); err != nil {
			return fmt.Errorf("saturation table: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("saturation table: %w", err)
	}
	if r.Stopped != "" {
		ew.printf("stopped: %s\n", r.Stopped)
	}
	if err := stationTable(ew, r); err != nil {
		return err
	}
	return ew.err
}

// stationTable shows the stations at the lowest-rate step that failed, or
// at the highest step when none did.
func stationTable(ew *errWriter, r *SaturationReport) error {
	var at *StepPoint
	for i := range r.Steps {
		p := &r.Steps[i]
		switch {
		case len(p.Stations) == 0:
		case at == nil:
			at = p
		case !p.Pass && (at.Pass || p.Rate < at.Rate):
			at = p
		case p.Pass && at.Pass && p.Rate > at.Rate:
			at = p
		}
	}
	if at == nil {
		return nil
	}
	ew.printf("\nBank mock stations at step %d (%s)\n", at.Index, perSec(at.Rate))
	l, rt := tw.AlignLeft, tw.AlignRight
	t := newTable(ew, l, l, rt, rt, rt, rt, rt, rt)
	t.Header("station", "kind", "requests", "failed", "utilisation", "peak queue", "mean latency", "mean wait")
	for _, s := range at.Stations {
		if err := t.Append(s.Name, orDash(s.Kind), count(s.Requests), pct(s.Failed), pct(s.Utilisation),
			decimal(s.PeakQueue, 0), ms(s.MeanLatencyMs), ms(s.MeanWaitMs)); err != nil {
			return fmt.Errorf("station table: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("station table: %w", err)
	}
	return ew.err
}
