package reports

import (
	"reflect"
	"testing"
)

// verdicts plays a search whose steps pass at or below capacity and fail
// above it (clearly at or above clear, when clear > 0), and returns the
// rates it asked for, bisection steps marked negative.
func verdicts(plan SearchPlan, capacity, clear float64) (asked []float64, s *Search) {
	s = NewSearch(plan)
	for {
		rate, refine, ok := s.Next()
		if !ok {
			return asked, s
		}
		if refine {
			asked = append(asked, -rate)
		} else {
			asked = append(asked, rate)
		}
		p := StepPoint{Rate: rate, Refine: refine, Pass: rate <= capacity}
		if !p.Pass {
			p.Reasons = []string{"goodput below 95% of offered"}
			p.Clear = clear > 0 && rate >= clear
		}
		s.Record(p)
	}
}

func TestSearch(t *testing.T) {
	ramp := []float64{10, 20, 30, 40, 50}
	tests := []struct {
		name            string
		plan            SearchPlan
		capacity, clear float64
		asked           []float64
		stopped         string
	}{
		{"two failing steps in a row", SearchPlan{Rates: ramp}, 15, 0, []float64{10, 20, 30},
			"saturation confirmed: two failing steps in a row (20.0/s and 30.0/s)"},
		{"a failing step then a passing one starts again", SearchPlan{Rates: []float64{10, 20, 30, 40, 50, 60}}, 35, 0, []float64{10, 20, 30, 40, 50},
			"saturation confirmed: two failing steps in a row (40.0/s and 50.0/s)"},
		{"one step failing clearly", SearchPlan{Rates: ramp}, 25, 30, []float64{10, 20, 30},
			"saturation confirmed: 30.0/s failed clearly (goodput below 95% of offered)"},
		{"the plan's end, capped", SearchPlan{Rates: ramp, Capped: true}, 100, 0, ramp,
			"reached --max 50.0/s without confirming saturation"},
		{"the plan's end, open", SearchPlan{Rates: ramp}, 100, 0, ramp,
			"no saturation after 5 steps (up to 50.0/s)"},
		{"bisection", SearchPlan{Rates: ramp, Refine: true}, 16, 0, []float64{10, 20, 30, -15, -17.5, -16.3},
			"saturation confirmed: two failing steps in a row (20.0/s and 30.0/s)"},
		{"bisection steps bounded", SearchPlan{Rates: ramp, Refine: true, RefineSteps: 1}, 16, 0, []float64{10, 20, 30, -15},
			"saturation confirmed: two failing steps in a row (20.0/s and 30.0/s)"},
		{"nothing to bisect when the first step fails", SearchPlan{Rates: ramp, Refine: true}, 5, 0, []float64{10, 20},
			"saturation confirmed: two failing steps in a row (10.0/s and 20.0/s)"},
		{"nothing to bisect when all held", SearchPlan{Rates: ramp, Refine: true, Capped: true}, 100, 0, ramp,
			"reached --max 50.0/s without confirming saturation"},
		{"bisection goes on past 2%", SearchPlan{Rates: []float64{100, 103, 106}, Refine: true, RefineSteps: 1}, 100, 0, []float64{100, 103, 106, -101.5},
			"saturation confirmed: two failing steps in a row (103.0/s and 106.0/s)"},
		{"bisection stops within 2%", SearchPlan{Rates: []float64{100, 101.5, 103}, Refine: true}, 100, 0, []float64{100, 101.5, 103},
			"saturation confirmed: two failing steps in a row (101.5/s and 103.0/s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked, s := verdicts(tt.plan, tt.capacity, tt.clear)
			if !reflect.DeepEqual(asked, tt.asked) || s.Stopped() != tt.stopped {
				t.Errorf("asked %v, stopped %q\nwant  %v, %q", asked, s.Stopped(), tt.asked, tt.stopped)
			}
			if len(s.Points()) != len(tt.asked) {
				t.Errorf("%d points recorded, want %d", len(s.Points()), len(tt.asked))
			}
		})
	}
}

func TestSearchBracket(t *testing.T) {
	s := NewSearch(SearchPlan{})
	if _, _, ok := s.Bracket(); ok {
		t.Error("a bracket without points")
	}
	// Steps are taken by rate, not by the order they ran; a pass above the
	// lowest failure does not count.
	for _, p := range []StepPoint{{Rate: 100, Pass: true}, {Rate: 200}, {Rate: 150, Pass: true, Refine: true}, {Rate: 250, Pass: true}, {Rate: 175, Refine: true}} {
		s.Record(p)
	}
	if good, bad, ok := s.Bracket(); !ok || good != 150 || bad != 175 {
		t.Errorf("bracket %v..%v (%v), want 150..175", good, bad, ok)
	}
}

func TestRampRates(t *testing.T) {
	tests := []struct {
		start, step, top float64
		max              int
		want             []float64
	}{
		{10, 10, 40, 100, []float64{10, 20, 30, 40}},
		{10, 10, 35, 100, []float64{10, 20, 30, 35}},
		{10, 10, 0, 3, []float64{10, 20, 30}},
		{10, 5, 10, 100, []float64{10}},
	}
	for _, tt := range tests {
		if got := RampRates(tt.start, tt.step, tt.top, tt.max); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("RampRates(%v, %v, %v, %d) = %v, want %v", tt.start, tt.step, tt.top, tt.max, got, tt.want)
		}
	}
}
