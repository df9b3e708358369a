package render

import (
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/olekukonko/tablewriter/tw"

	"github.com/stampede-load/stampede/reports"
)

// WriteSaturationTable renders a saturation search for a terminal: the
// plan and criteria, one row per step in the order they ran (bisection
// steps marked), why the search stopped, and the bank mock stations at the
// first step that failed when their metrics were read. The saturation
// point itself is in the run's summary (WriteTable).
func WriteSaturationTable(w io.Writer, r *reports.SaturationReport) error {
	ew := &errWriter{w: w}
	name := r.Scenario
	if name == "" {
		name = "run"
	}
	maxRate := "until saturation"
	if r.MaxRate > 0 {
		maxRate = "up to " + reports.FormatRate(r.MaxRate)
	}
	ew.printf("%s · saturation search · from %s by %s %s · %ss a step", name, reports.FormatRate(r.StartRate), reports.FormatRate(r.StepRate),
		maxRate, reports.FormatDecimal(r.StepDurationS, 1))
	if r.Refine {
		ew.printf(" · refined")
	}
	ew.printf("\nholds when goodput >= %s of offered, %s\n", reports.FormatPercentShort(r.MinGoodput), r.SLO)
	if r.Interrupted {
		ew.printf("INTERRUPTED: the search was stopped early; the figures cover the steps that ran\n")
	}
	if len(r.Steps) == 0 {
		ew.printf("\nno step ran\n")
		return ew.err
	}
	q := reports.DefaultSLO.Quantile
	if slo, err := reports.ParseSLO(r.SLO, reports.DefaultSLO); err == nil {
		q = slo.Quantile
	}
	quantile := reports.QuantileName(q)

	ew.printf("\nSteps (rates per second: journeys planned, requests offered and achieved, journeys completed)\n")
	l, rt := tw.AlignLeft, tw.AlignRight
	t := NewTable(ew, rt, rt, rt, rt, rt, rt, rt, rt, rt, rt, l)
	t.Header("step", "rate", "offered", "achieved", "goodput", "p50", quantile, "errors", "in-flight", "L=X·W", "result")
	unsteady := false
	for i := range r.Steps {
		p := &r.Steps[i]
		little := reports.FormatDecimal(p.LittleInFlight, 1)
		if !p.Steady {
			little += " *"
			unsteady = true
		}
		step := strconv.Itoa(p.Index)
		if p.Refine {
			step += " bisect"
		}
		timed := p.Requests > p.Untimed()
		if err := t.Append(step, reports.FormatRate(p.Rate), reports.FormatRate(p.OfferedRate), reports.FormatRate(p.AchievedRate),
			reports.FormatRate(p.Goodput)+" ("+reports.FormatPercent(p.GoodputRatio)+")", latencyCell(p.Latency.P50, timed),
			latencyCell(p.Latency.At(q), timed), reports.FormatPercent(p.ErrorRate),
			reports.FormatDecimal(p.InFlight, 1), little, p.Verdict()); err != nil {
			return fmt.Errorf("saturation table: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("saturation table: %w", err)
	}
	if unsteady {
		ew.printf("* Little's law (in flight = throughput × latency) misses the measured in-flight by more than 10%%: a queue was still growing\n")
	}
	if r.Stopped != "" {
		ew.printf("stopped: %s\n", r.Stopped)
	}
	if err := stationTable(ew, r); err != nil {
		return err
	}
	return ew.err
}

// maxStationRows bounds the station table: the bank mocks have a station
// per bank, most of them idle.
const maxStationRows = 8

// stationTable shows the stations at the lowest-rate step that failed, or
// at the highest step when none did.
func stationTable(ew *errWriter, r *reports.SaturationReport) error {
	var at *reports.StepPoint
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
	stations := append([]reports.StationPoint(nil), at.Stations...)
	sort.SliceStable(stations, func(i, j int) bool {
		si, sj := &stations[i], &stations[j]
		if si.Failed != sj.Failed {
			return si.Failed > sj.Failed
		}
		return si.Utilisation > sj.Utilisation
	})
	more := 0
	if len(stations) > maxStationRows {
		stations, more = stations[:maxStationRows], len(stations)-maxStationRows
	}
	ew.printf("\nBank mock stations at step %d (%s), busiest first\n", at.Index, reports.FormatRate(at.Rate))
	l, rt := tw.AlignLeft, tw.AlignRight
	t := NewTable(ew, l, l, rt, rt, rt, rt, rt, rt, rt)
	t.Header("station", "kind", "requests", "failed", "utilisation", "peak busy", "peak queue", "mean latency", "mean wait")
	for _, s := range stations {
		if err := t.Append(s.Name, orDash(s.Kind), reports.FormatCount(s.Requests), reports.FormatPercent(s.Failed), reports.FormatPercent(s.Utilisation), reports.FormatPercent(s.PeakBusy),
			reports.FormatDecimal(s.PeakQueue, 0), reports.FormatMillis(s.MeanLatencyMs), reports.FormatMillis(s.MeanWaitMs)); err != nil {
			return fmt.Errorf("station table: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("station table: %w", err)
	}
	if more > 0 {
		ew.printf("(%d quieter stations left out; saturation.json has them all)\n", more)
	}
	return ew.err
}
