package sim

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

func TestParseVary(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Vary
	}{
		{"stations.nexi.servers=8..64", Vary{Param: "stations.nexi.servers", From: 8, To: 64, Step: 1}},
		{" stack.workers = 16..256:16 ", Vary{Param: "stack.workers", From: 16, To: 256, Step: 16}},
		{"stack.pool=5..5", Vary{Param: "stack.pool", From: 5, To: 5, Step: 1}},
	} {
		got, err := ParseVary(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseVary(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "stations.nexi.servers", "=1..2", "x=8", "x=64..8", "x=0..8", "x=a..8", "x=1..8:0",
		"x=1..8:", "x=1..2000000", "x=1...8"} {
		if v, err := ParseVary(bad); err == nil {
			t.Errorf("ParseVary(%q) = %+v, want an error", bad, v)
		}
	}
}

func TestVaryValuesEndAtTheTop(t *testing.T) {
	v := Vary{Param: "p", From: 16, To: 100, Step: 32}
	if got, want := v.Values(), []int{16, 48, 80, 100}; !slices.Equal(got, want) {
		t.Fatalf("values %v, want %v", got, want)
	}
}

func TestVaryNamesTheModelsParameters(t *testing.T) {
	m := tinyModel()
	v := Vary{Param: "stations.nexi.servers", From: 1, To: 9, Step: 1}
	if err := v.Set(m, 9); err != nil || m.Station("nexi").Servers != 9 {
		t.Fatalf("set: %v, servers %d", err, m.Station("nexi").Servers)
	}
	for _, p := range []string{"stack.workers", "stack.pool", "stack.bulkhead", "stations.iban.queue"} {
		if err := (Vary{Param: p}).Check(m); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	err := Vary{Param: "stations.nexy.servers"}.Check(m)
	if !errors.Is(err, ErrInvalidModel) || !strings.Contains(err.Error(), "did you mean \"stations.nexi.servers\"?") {
		t.Fatalf("unknown station: %v", err)
	}
	for _, p := range []string{"stack.threads", "stations.nexi.weight", "nexi", "stations..servers"} {
		if err := (Vary{Param: p}).Check(m); !errors.Is(err, ErrInvalidModel) {
			t.Errorf("%s: %v, want ErrInvalidModel", p, err)
		}
	}
}

func FuzzParseVary(f *testing.F) {
	for _, s := range []string{"stations.nexi.servers=8..64", "stack.workers=16..256:16", "x=1..1", "x=3..2", "=..", "a=1..2:3:4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVary(s)
		if err != nil {
			return
		}
		if v.From < 1 || v.To < v.From || v.Step < 1 || v.Param == "" {
			t.Fatalf("%q parsed to %+v", s, v)
		}
		back, err := ParseVary(v.String())
		if err != nil || back != v {
			t.Fatalf("%q: %+v printed as %q read back as %+v, %v", s, v, v.String(), back, err)
		}
		vs := v.Values()
		if vs[0] != v.From || vs[len(vs)-1] != v.To || !slices.IsSorted(vs) {
			t.Fatalf("%+v: values %v", v, vs)
		}
	})
}

// staircase holds where a*b >= 600 and b >= 10: monotone in both.
func staircase(vary []Vary, calls *atomic.Int64) func(context.Context, []int) (*Config, error) {
	values := [][]int{vary[0].Values(), vary[1].Values()}
	return func(_ context.Context, idx []int) (*Config, error) {
		calls.Add(1)
		a, b := values[0][idx[0]], values[1][idx[1]]
		holds := a*b >= 600 && b >= 10
		return &Config{Values: []int{a, b}, Cost: float64(a + 2*b), Holds: holds, Latency: 1}, nil
	}
}

func TestPlanFindsTheMinimalFrontierWithoutTheGrid(t *testing.T) {
	vary := []Vary{{Param: "stations.nexi.servers", From: 1, To: 64, Step: 1}, {Param: "stack.workers", From: 1, To: 256, Step: 1}}
	// Every minimal configuration of the grid, by brute force.
	var want [][]int
	for a := 1; a <= 64; a++ {
		for b := 1; b <= 256; b++ {
			if a*b >= 600 && b >= 10 && (a == 1 || (a-1)*b < 600) && (b == 10 || a*(b-1) < 600) {
				want = append(want, []int{a, b})
			}
		}
	}
	for _, workers := range []int{1, 3} {
		var calls atomic.Int64
		o := PlanOptions{Scenario: func() (*scenarios.Scenario, error) { return &scenarios.Scenario{}, nil }, Model: tinyModel(),
			Vary: vary, SLO: reports.SLO{Quantile: 0.99, Latency: time.Second}, Workers: workers}
		p, err := planCapacity(context.Background(), o, staircase(vary, &calls))
		if err != nil {
			t.Fatal(err)
		}
		var got [][]int
		for i, c := range p.Holding {
			got = append(got, c.Values)
			if i > 0 && c.Cost < p.Holding[i-1].Cost {
				t.Errorf("workers %d: not cheapest first: %v after %v", workers, c, p.Holding[i-1])
			}
		}
		slices.SortFunc(got, slices.Compare)
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("workers %d: frontier %v, want %v", workers, got, want)
		}
		// A binary search per value of the first parameter, at most.
		if n := calls.Load(); n > 1+64*(1+8) || int(n) != p.Simulated || p.Grid != 64*256 {
			t.Fatalf("workers %d: %d simulations (plan says %d of %d)", workers, n, p.Simulated, p.Grid)
		}
	}
}

func TestPlanStopsWhenTheLargestFails(t *testing.T) {
	vary := []Vary{{Param: "stations.nexi.servers", From: 1, To: 5, Step: 1}, {Param: "stack.workers", From: 1, To: 5, Step: 1}}
	var calls atomic.Int64
	o := PlanOptions{Scenario: func() (*scenarios.Scenario, error) { return &scenarios.Scenario{}, nil }, Model: tinyModel(),
		Vary: vary, SLO: reports.SLO{Quantile: 0.99, Latency: time.Second}, Workers: 2}
	p, err := planCapacity(context.Background(), o, staircase(vary, &calls))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Holding) != 0 || calls.Load() != 1 || p.Largest == nil || !slices.Equal(p.Largest.Values, []int{5, 5}) {
		t.Fatalf("holding %v, %d calls, largest %+v", p.Holding, calls.Load(), p.Largest)
	}
	var b strings.Builder
	if err := p.Write(&b); err != nil || !strings.Contains(b.String(), "no configuration in the ranges holds the SLO: the largest (stations.nexi.servers=5, stack.workers=5)") {
		t.Fatalf("%v\n%s", err, b.String())
	}
}

func TestPlanRefusesBadOptions(t *testing.T) {
	sc := func() (*scenarios.Scenario, error) { return &scenarios.Scenario{}, nil }
	slo := reports.SLO{Quantile: 0.99, Latency: time.Second}
	v := Vary{Param: "stack.workers", From: 1, To: 2, Step: 1}
	for name, o := range map[string]PlanOptions{
		"twice":         {Scenario: sc, Model: tinyModel(), Vary: []Vary{v, v}, SLO: slo},
		"unknown":       {Scenario: sc, Model: tinyModel(), Vary: []Vary{{Param: "stack.threads", From: 1, To: 2, Step: 1}}, SLO: slo},
		"cost":          {Scenario: sc, Model: tinyModel(), Vary: []Vary{v}, SLO: slo, Cost: map[string]float64{"stack.pool": 2}},
		"no vary":       {Scenario: sc, Model: tinyModel(), SLO: slo},
		"no latency":    {Scenario: sc, Model: tinyModel(), Vary: []Vary{v}},
		"negative cost": {Scenario: sc, Model: tinyModel(), Vary: []Vary{v}, SLO: slo, Cost: map[string]float64{"stack.workers": -1}},
	} {
		if _, err := PlanCapacity(context.Background(), o); !errors.Is(err, ErrInvalidModel) {
			t.Errorf("%s: %v, want ErrInvalidModel", name, err)
		}
	}
}

// A noisy stack is not quite monotone, so what a plan finds depends on
// which configurations it probes; with the same workers it is the same
// plan however the goroutines are scheduled.
func TestPlanIsTheSameForTheSameWorkers(t *testing.T) {
	vary := []Vary{{Param: "stations.nexi.servers", From: 1, To: 40, Step: 1}, {Param: "stack.workers", From: 1, To: 100, Step: 1}}
	values := [][]int{vary[0].Values(), vary[1].Values()}
	judge := func(_ context.Context, idx []int) (*Config, error) {
		a, b := values[0][idx[0]], values[1][idx[1]]
		for range (a*7 + b*13) % 17 {
			runtime.Gosched() // let another search run ahead
		}
		noise := (a*31 + b*17) % 9 // up to 8 units of capacity either way
		return &Config{Values: []int{a, b}, Cost: float64(a + b), Holds: a*b+noise*40 >= 900}, nil
	}
	var first string
	for i := range 20 {
		o := PlanOptions{Scenario: func() (*scenarios.Scenario, error) { return &scenarios.Scenario{}, nil }, Model: tinyModel(),
			Vary: vary, SLO: reports.SLO{Quantile: 0.99, Latency: time.Second}, Workers: 4}
		p, err := planCapacity(context.Background(), o, judge)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := p.Write(&b); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = b.String()
		} else if b.String() != first {
			t.Fatalf("run %d found another plan:\n%s\nwant\n%s", i, b.String(), first)
		}
	}
}

// TestPlanProgressEndsEachSimulationAtTheProfilesEnd: after each
// simulation the progress counts it and shows its clock at the profile's
// end, not where the last in-run tick left it.
func TestPlanProgressEndsEachSimulationAtTheProfilesEnd(t *testing.T) {
	vary := []Vary{{Param: "stations.nexi.servers", From: 1, To: 64, Step: 1}, {Param: "stack.workers", From: 1, To: 64, Step: 1}}
	var calls atomic.Int64
	sc := &scenarios.Scenario{Profile: &scenarios.Profile{Stages: []scenarios.Stage{{Duration: 25 * time.Second}, {Duration: 5 * time.Second}}}}
	var got []PlanProgress
	o := PlanOptions{Scenario: func() (*scenarios.Scenario, error) { return sc, nil }, Model: tinyModel(),
		Vary: vary, SLO: reports.SLO{Quantile: 0.99, Latency: time.Second},
		Progress: func(p PlanProgress) { got = append(got, p) }}
	if _, err := planCapacity(context.Background(), o, staircase(vary, &calls)); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || int64(len(got)) != calls.Load() {
		t.Fatalf("%d progress reports for %d simulations", len(got), calls.Load())
	}
	for i, p := range got {
		if p.Simulated != i+1 || p.Clock != 30*time.Second || p.Span != 30*time.Second {
			t.Errorf("report %d: %d simulated, clock %s of %s; want %d, 30s of 30s", i, p.Simulated, p.Clock, p.Span, i+1)
		}
	}
}
