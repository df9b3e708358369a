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
	same := Figure{Estimate: Estimate{Mean: 0, HalfWidth: 0, N: 10}} // no retries in any replication
	if narrow.Wide() || !wide.Wide() || same.Wide() {
		t.Fatalf("±4%% wide %v, ±6%% wide %v, 0 ± 0 wide %v; want false, true, false", narrow.Wide(), wide.Wide(), same.Wide())
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

func TestReplicationBands(t *testing.T) {
	// Three replications of 3,000 seconds; replication r offers 10+r
	// requests a second, answers them all with 9+r successes and a p99 of
	// 100·(r+1) ms, but the third stops after 2,000 s and times nothing
	// in second 1,001.
	series := make([][]reports.SeriesPoint, 3)
	for r := range series {
		for i := range 3000 {
			if r == 2 && i >= 2000 {
				break
			}
			p := reports.SeriesPoint{T: float64(i), Width: 1, Offered: int64(10 + r), Ended: int64(10 + r), Goodput: int64(9 + r),
				Latency: reports.LatencyMs{P99: float64(100 * (r + 1))}}
			if r == 2 && i/2 == 500 {
				p.Latency.P99 = 0
			}
			series[r] = append(series[r], p)
		}
	}
	b := bands(series)
	if len(b) != 1000 || b[0].T != 0 || b[0].Width != 3 || b[999].T != 2997 {
		t.Fatalf("%d bands, first %+v, last %+v; want 1,000 of 3 s", len(b), b[0], b[len(b)-1])
	}
	t975 := 4.302652729911275 // Student t, 2 degrees of freedom
	hw := func(sd float64) float64 { return math.Round(t975*sd/math.Sqrt(3)*1e3) / 1e3 }
	want := reports.BandPoint{T: 3, Width: 3, Offered: reports.Band{Mean: 11, HalfWidth: hw(1)}, Achieved: reports.Band{Mean: 11, HalfWidth: hw(1)},
		Goodput: reports.Band{Mean: 10, HalfWidth: hw(1)}, P99: reports.Band{Mean: 200, HalfWidth: hw(100)}}
	if b[1] != want {
		t.Errorf("second band %+v, want %+v", b[1], want)
	}
	// Seconds 1,000 and 1,001: the third replication timed nothing in
	// 1,001 but its worst p99 over the interval is still 300 ms.
	if p := b[333].P99; p.Mean != 200 {
		t.Errorf("band at +%v s: p99 %+v, want the three replications' 200 ms", b[333].T, p)
	}
	// Past 2,000 s the third replication offered nothing: it counts as 0.
	if o := b[800].Offered; o.Mean != 7 || o.HalfWidth != hw(math.Sqrt(37)) {
		t.Errorf("band at +%v s: offered %+v, want the mean of 10, 11 and 0", b[800].T, o)
	}
	if p := b[800].P99; p.Mean != 150 || p.HalfWidth != math.Round(12.706204736174705*math.Sqrt(5000)/math.Sqrt(2)*1e3)/1e3 {
		t.Errorf("band at +%v s: p99 %+v, want the two replications that timed requests", b[800].T, p)
	}
	if bands(nil) != nil || bands([][]reports.SeriesPoint{{}}) != nil {
		t.Error("bands of no points")
	}
}
