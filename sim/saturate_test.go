package sim

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// TestSaturateFindsTheProcessorsCapacity: four servers busy 25 ms a card
// and no queue carry 160 cards/s; past that cards are turned away (503).
// The search measured saturate runs (ramp, stop rule, bisection, judging)
// finds 155/s (the bisection's last step under it), the errors as the reason and the processor as the station,
// with the simulator as the engine of each step.
func TestSaturateFindsTheProcessorsCapacity(t *testing.T) {
	m := tinyModel()
	m.Stations[0].Servers, m.Stations[0].Queue = 4, 0
	m.Stations[0].Service = Service{Distribution: Constant, Value: 25 * time.Millisecond}
	m.Station("db-read").Servers = 100
	sc := oneStep(t, "s")
	plan := reports.SearchPlan{Rates: reports.RampRates(40, 40, 400, 100), Capped: true, Refine: true}
	crit := reports.Criteria{SLO: reports.SLO{Quantile: 0.99, Latency: time.Second, ErrorBudget: 0.01}}
	var progress strings.Builder
	out, err := Saturate(context.Background(), SaturateOptions{
		Run: Options{Scenario: sc, Model: m, Seed: 1}, Plan: plan, Start: 40, Step: 40, Max: 400,
		StepDuration: 10 * time.Second, Criteria: crit, Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := out.Report
	var rates []float64
	for _, p := range rep.Steps {
		rates = append(rates, p.Rate)
	}
	// The ramp to the first clear failure: 160/s, right at capacity,
	// loses 2% (over the budget, not clearly), 200/s 20%; then three
	// bisections between 120/s and 160/s.
	if want := []float64{40, 80, 120, 160, 200, 140, 150, 155}; !slices.Equal(rates, want) {
		t.Fatalf("steps at %v/s, want %v", rates, want)
	}
	s := rep.Saturation
	if s == nil || math.Abs(s.OfferedRate-155) > 0.5 || !strings.HasPrefix(s.Reason, "errors") || s.Component != "s via nexi" {
		t.Fatalf("saturation %+v: want 155/s offered, errors over budget, s via nexi", s)
	}
	if rep.Target != "sim" || out.Summary.Source != "sim" || !strings.Contains(rep.Stopped, "200.0/s failed clearly") {
		t.Fatalf("target %q, source %q, stopped %q", rep.Target, out.Summary.Source, rep.Stopped)
	}
	// Every step's arrivals, in one summary.
	if want := int64(10 * (40 + 80 + 120 + 160 + 200 + 140 + 150 + 155)); out.Summary.Arrivals != want {
		t.Fatalf("%d arrivals in the summary, want %d", out.Summary.Arrivals, want)
	}
	var nexi *reports.StationPoint
	for i, p := range rep.Steps[4].Stations {
		if p.Name == "nexi" {
			nexi = &rep.Steps[4].Stations[i]
		}
	}
	if nexi == nil || nexi.Failed < 0.15 || nexi.Utilisation < 0.9 {
		t.Fatalf("nexi at 200/s: %+v, want about 20%% turned away and its servers busy", nexi)
	}
	// No queue: no wait, each card held 25 ms, all four servers busy at
	// once, as the bank mocks' metrics would say.
	if nexi.PeakBusy != 1 || nexi.MeanWaitMs != 0 || math.Abs(nexi.MeanLatencyMs-25) > 1e-6 {
		t.Fatalf("nexi at 200/s: peak busy %v, mean wait %v ms, mean latency %v ms: want 1, 0, 25", nexi.PeakBusy, nexi.MeanWaitMs, nexi.MeanLatencyMs)
	}
	if !strings.Contains(progress.String(), "bisection step 8: 155.0/s journeys for 10s") {
		t.Fatalf("progress:\n%s", progress.String())
	}
}
