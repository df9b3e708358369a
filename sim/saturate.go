package sim

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

// SaturateOptions configure a simulated saturation search: the search
// `stampede saturate` runs against a stack, with the simulator as the
// engine of each step.
type SaturateOptions struct {
	// Run holds what every step shares: Scenario (its journeys and SLO;
	// each step replaces its profile), Model, Seed, Grace (default
	// DefaultSaturateGrace) and Sinks. Start is left zero: each step
	// starts where the one before ended, in virtual time.
	Run Options
	// Plan is the ramp (checked by the caller, as replay.SaturateOptions.Plan
	// checks a measured search's) and its bisection.
	Plan reports.SearchPlan
	// Start, Step and Max are the plan's rates as given, journeys per
	// second, for the record; StepDuration is how long each step holds
	// its rate.
	Start, Step, Max float64
	StepDuration     time.Duration
	Criteria         reports.Criteria // the SLO and minimum goodput a step must meet
	// Gates judge the whole search once it has ended; the scenario's own
	// do not (a search goes past saturation on purpose).
	Gates []reports.Gate
	// Progress, when set, gets a line per step as a measured search prints.
	Progress io.Writer
}

// DefaultSaturateGrace is how long a step's journeys may go on after its
// arrivals stop unless Run.Grace says otherwise: a measured search's
// default, since a journey cut short counts against the step's goodput.
const DefaultSaturateGrace = time.Minute

// SaturateOutcome is a simulated search's record and summary.
type SaturateOutcome struct {
	Report      *reports.SaturationReport // saturation.json, "target": "sim"
	Summary     *reports.Summary          // every step's results, "source": "sim", with the saturation
	Interrupted bool
}

// Saturate runs a saturation search on the model: one simulated Run per
// step, holding one arrival rate of the scenario's journey mix for
// StepDuration, the scenario's seed moved on by the step's index as a
// measured search moves it. Which rate comes next, when saturation is
// confirmed and where to bisect is reports.Search's, each step's verdict
// reports.MeasureStep's and the record reports.Search.Finish's: the code
// that judges a measured search. The stations the model's steps report
// stand in for the bank mocks' metrics. Cancelling ctx stops the search
// after the step under way, which is left out.
func Saturate(ctx context.Context, o SaturateOptions) (*SaturateOutcome, error) {
	if o.Run.Scenario == nil || o.Run.Model == nil {
		return nil, fmt.Errorf("%w: a saturation search needs a scenario and a model", ErrInvalidModel)
	}
	if o.StepDuration <= 0 {
		return nil, fmt.Errorf("%w: step duration %s must be positive", ErrInvalidModel, o.StepDuration)
	}
	if o.Run.Grace <= 0 {
		o.Run.Grace = DefaultSaturateGrace
	}
	start := o.Run.Start
	if start.IsZero() {
		start = LaunchDay
	}
	all := reports.NewAccumulator(reports.WithStart(start))
	search := reports.NewSearch(o.Plan)
	base := o.Run.Scenario
	elapsed := time.Duration(0) // virtual time from the search's start
	steps, interrupted := 0, false
	for {
		rate, refine, ok := search.Next()
		if !ok {
			break
		}
		steps++
		sc := *base
		sc.Profile = &scenarios.Profile{Stages: []scenarios.Stage{{Kind: scenarios.Hold, From: scenarios.Rate(rate), To: scenarios.Rate(rate), Duration: o.StepDuration}}}
		sc.Seed += int64(steps)
		sc.Gates = nil // a step is judged by the search, not by the scenario's gates
		ro := o.Run
		ro.Scenario = &sc
		ro.Seed = o.Run.Seed + uint64(steps)
		ro.Start = start.Add(elapsed)
		var meter reports.StepMeter
		ro.Sinks = append(ro.Sinks[:len(ro.Sinks):len(ro.Sinks)], &meter, all)
		if w := o.Progress; w != nil {
			kind := "step"
			if refine {
				kind = "bisection step"
			}
			fmt.Fprintf(w, "%s %d: %s journeys for %s\n", kind, steps, reports.FormatRate(rate), o.StepDuration)
		}
		out, err := Run(ctx, ro)
		if err != nil {
			return nil, fmt.Errorf("step %d (%s): %w", steps, reports.FormatRate(rate), err)
		}
		if out.Summary.Interrupted {
			interrupted = true
			break
		}
		plan := reports.StepPlan{Index: steps, Rate: rate, Duration: o.StepDuration, Start: elapsed, Refine: refine}
		p := reports.MeasureStep(plan, out.Summary, meter.Timing(), o.Criteria)
		p.Stations = stationPoints(out.Stations, o.StepDuration)
		search.Record(p)
		elapsed += o.StepDuration + o.Run.Grace
		if w := o.Progress; w != nil {
			verdict := "held"
			if !p.Pass {
				verdict = p.Verdict()
			}
			fmt.Fprintf(w, "step %d: offered %s, goodput %s (%s), errors %s: %s\n", steps, reports.FormatRate(p.OfferedRate),
				reports.FormatRate(p.Goodput), reports.FormatPercent(p.GoodputRatio), reports.FormatPercent(p.ErrorRate), verdict)
		}
	}
	stopped := ""
	if interrupted {
		stopped = "interrupted"
	}
	rep, sum := search.Finish(all, reports.SearchRecord{
		Scenario:     base.Name,
		Source:       "sim",
		Target:       "sim",
		Criteria:     o.Criteria,
		Start:        o.Start,
		Step:         o.Step,
		Max:          o.Max,
		StepDuration: o.StepDuration,
		Refine:       o.Plan.Refine,
		StepsRun:     steps,
		Stopped:      stopped,
		Interrupted:  interrupted,
		Gates:        o.Gates,
	})
	reports.Sinks(o.Run.Sinks).NoteSummary(sum)
	return &SaturateOutcome{Report: rep, Summary: sum, Interrupted: interrupted}, nil
}

// stationPoints turns what the model's stations did in a step of length d
// into the points the bank mocks' metrics give a measured step, so the
// analysis can name the station that crossed first: utilisation is the
// step's work (busy server-seconds, its drain included) over its servers ×
// d; mean latency is the mean wait for a server plus the mean time one
// was held. The stack's own limits (its admission, its pool) and its database are
// not bank mock stations.
func stationPoints(rs []StationReport, d time.Duration) []reports.StationPoint {
	var ps []reports.StationPoint
	for _, r := range rs {
		if r.Kind != KindProcessor && r.Kind != KindIBAN && r.Kind != KindBank {
			continue
		}
		p := reports.StationPoint{Name: r.Name, Kind: r.Kind, Requests: r.Arrivals,
			Utilisation: math.Min(1, r.Busy/(float64(r.Servers)*d.Seconds())), PeakQueue: float64(r.PeakQueue)}
		if r.Servers > 0 {
			p.PeakBusy = float64(r.PeakBusy) / float64(r.Servers)
		}
		if r.Granted > 0 {
			wait := r.Waited / float64(r.Granted)
			p.MeanWaitMs = wait * 1000
			p.MeanLatencyMs = (wait + r.Busy/float64(r.Granted)) * 1000
		}
		if r.Arrivals > 0 {
			p.Failed = float64(r.Full+r.TimedOut+r.Down+r.Cancelled) / float64(r.Arrivals)
		}
		ps = append(ps, p)
	}
	return ps
}
