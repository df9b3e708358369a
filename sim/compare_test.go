package sim

import (
	"strings"
	"testing"

	"github.com/stampede-load/stampede/reports"
)

func TestCompareJudgesEachFigureByItsBound(t *testing.T) {
	mode := func(m string, up string, n int64, onset float64) reports.ErrorSummary {
		return reports.ErrorSummary{Mode: reports.ErrorMode(m), Upstream: up, Count: n, OnsetS: onset}
	}
	measured := &reports.Summary{Arrivals: 100, JourneysCompleted: 50, SuccessRatio: 0.80,
		Steps: []reports.StepSummary{{Journey: "j", Name: "add", SuccessRatio: 0.6}},
		Errors: []reports.ErrorSummary{mode("http 504 X", "nexi", 30, 20), mode("http 502 Y", "sia", 20, 18),
			mode("http 502 Y", "nexi", 10, 19), mode("timeout", "", 1, 5)},
		Metastability: &reports.Metastability{Recovered: true, RecoveryS: 60}}
	simulated := &reports.Summary{Arrivals: 100, JourneysCompleted: 54, SuccessRatio: 0.86,
		Steps: []reports.StepSummary{{Journey: "j", Name: "add", SuccessRatio: 0.69}},
		Errors: []reports.ErrorSummary{mode("http 504 X", "nexi", 31, 26), mode("http 502 Y", "nexi", 19, 19),
			mode("http 502 Y", "sia", 18, 14)},
		Metastability: &reports.Metastability{Recovered: true, RecoveryS: 74}}
	c := Compare(measured, simulated)
	got := map[string]bool{}
	for _, r := range c.Rows {
		if r.Bound != "" {
			got[r.Figure] = r.Pass
		}
	}
	want := map[string]bool{
		"journeys completed": true, "request success": false, "step j/add": true, "top 3 error modes": true,
		"onset of http 504 X via nexi": false, "onset of http 502 Y via sia": true, "onset of http 502 Y via nexi": true,
		"recovery after the peak": true,
	}
	for fig, pass := range want {
		if p, ok := got[fig]; !ok || p != pass {
			t.Errorf("%s: pass %v (judged %v), want %v", fig, p, ok, pass)
		}
	}
	if len(got) != len(want) || c.Pass() {
		t.Errorf("judged %v; Pass() = %v, want false", got, c.Pass())
	}
	var b strings.Builder
	if err := c.Write(&b); err != nil || !strings.Contains(b.String(), "| request success | 80.0% | 86.0% | ±5 points | **off** |") {
		t.Errorf("table:\n%s", b.String())
	}
}
