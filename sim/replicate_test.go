package sim

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
)

func TestReplicateEstimatesAcrossSeeds(t *testing.T) {
	m := tinyModel()
	m.Stations[0].Servers, m.Stations[0].Queue = 1, 1
	m.Stations[0].Service = Service{Distribution: Exponential, Mean: 45 * time.Millisecond}
	sc := oneStep(t, "s")
	seed := sc.Seed
	reps, outs, err := Replicate(context.Background(), Options{Scenario: sc, Model: m, Seed: 3}, 8)
	if err != nil {
		t.Fatal(err)
	}
	if reps.N != 8 || len(outs) != 8 || sc.Seed != seed {
		t.Fatalf("%d replications, %d outcomes, seed %d (was %d)", reps.N, len(outs), sc.Seed, seed)
	}
	var success *Figure
	for i := range reps.Figures {
		if reps.Figures[i].Name == "request success" {
			success = &reps.Figures[i]
		}
	}
	if success == nil {
		t.Fatalf("no request success among %+v", reps.Figures)
	}
	var xs []float64
	for _, o := range outs {
		xs = append(xs, 100*o.Summary.SuccessRatio)
	}
	if want := MeanCI(xs); success.Estimate != want || want.HalfWidth == 0 {
		t.Fatalf("request success %+v, want %+v from the outcomes, with a spread", success.Estimate, want)
	}
	if outs[0].Summary.OK == outs[1].Summary.OK && outs[1].Summary.OK == outs[2].Summary.OK {
		t.Error("replications 1-3 succeeded exactly alike: seeds not moved on")
	}
	var b strings.Builder
	if err := reps.Write(&b); err != nil || !strings.Contains(b.String(), "8 replications") {
		t.Fatalf("table: %v\n%s", err, b.String())
	}
}

func TestWideIntervalsAreFlagged(t *testing.T) {
	narrow := Figure{Estimate: Estimate{Mean: 100, HalfWidth: 4, N: 10}}
	wide := Figure{Estimate: Estimate{Mean: 100, HalfWidth: 6, N: 10}}
	if narrow.Wide() || !wide.Wide() {
		t.Fatalf("±4%% wide %v, ±6%% wide %v; want false, true", narrow.Wide(), wide.Wide())
	}
	r := &Replications{N: 10, Figures: []Figure{wide}}
	var b strings.Builder
	_ = r.Write(&b)
	if !strings.Contains(b.String(), "WIDE") {
		t.Fatalf("wide figure not flagged:\n%s", b.String())
	}
}

func TestSteadySuccessCutsTheWarmUp(t *testing.T) {
	var series []reports.SeriesPoint
	for i := range 400 {
		ok := int64(100)
		if i < 60 {
			ok = 40 // a cold start
		}
		if i%7 == 0 {
			ok -= 4
		}
		series = append(series, reports.SeriesPoint{Ended: 100, OK: ok})
	}
	est, warm := SteadySuccess(series)
	if warm < 60 || warm > 70 {
		t.Errorf("warm-up cut at %d seconds, want about 60", warm)
	}
	if math.Abs(est.Mean-0.9943) > 0.002 || !est.Covers(1-0.04/7) {
		t.Errorf("steady success %+v, want about 0.9943", est)
	}
}
