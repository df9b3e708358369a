package reports

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseGate(t *testing.T) {
	tests := []struct {
		expr    string
		want    Gate
		wantErr string
	}{
		{expr: "p99<800ms", want: Gate{Metric: "p99", Op: "<", Threshold: 800}},
		{expr: "p50 <= 1.5ms", want: Gate{Metric: "p50", Op: "<=", Threshold: 1.5}},
		{expr: "max<2s", want: Gate{Metric: "max", Op: "<", Threshold: 2000}},
		{expr: "mean<20ms", want: Gate{Metric: "mean", Op: "<", Threshold: 20}},
		{expr: "p99.9<1s", want: Gate{Metric: "p999", Op: "<", Threshold: 1000}},
		{expr: "p95<250us", want: Gate{Metric: "p95", Op: "<", Threshold: 0.25}},
		{expr: "errors<1%", want: Gate{Metric: "errors", Op: "<", Threshold: 0.01}},
		{expr: "error_rate<1%", want: Gate{Metric: "errors", Op: "<", Threshold: 0.01}},
		{expr: "success_ratio>=0.95", want: Gate{Metric: "success_ratio", Op: ">=", Threshold: 0.95}},
		{expr: "retry_share<=10%", want: Gate{Metric: "retry_share", Op: "<=", Threshold: 0.1}},
		{expr: "achieved/offered>=99%", want: Gate{Metric: "achieved/offered", Op: ">=", Threshold: 0.99}},
		{expr: "goodput>4000/s", want: Gate{Metric: "goodput", Op: ">", Threshold: 4000}},
		{expr: "journey_goodput>100/s", want: Gate{Metric: "journey_goodput", Op: ">", Threshold: 100}},
		{expr: "achieved_rate>=5000", want: Gate{Metric: "achieved_rate", Op: ">=", Threshold: 5000}},
		{expr: "offered_rate>=5000/s", want: Gate{Metric: "offered_rate", Op: ">=", Threshold: 5000}},
		{expr: "saturation_rate>=300/s", want: Gate{Metric: "saturation_rate", Op: ">=", Threshold: 300}},
		{expr: "recovery<30s", want: Gate{Metric: "recovery", Op: "<", Threshold: 30000}},
		{expr: "dropped<=0", want: Gate{Metric: "dropped", Op: "<=", Threshold: 0}},
		{expr: "p99{step:add-card}<1s", want: Gate{Metric: "p99", Step: "add-card", Op: "<", Threshold: 1000}},
		{expr: "p99{ step : enroll/add card }<1s", want: Gate{Metric: "p99", Step: "enroll/add card", Op: "<", Threshold: 1000}},
		{expr: "errors{upstream:nexi}<5%", want: Gate{Metric: "errors", Upstream: "nexi", Op: "<", Threshold: 0.05}},
		{expr: "p95<500ms over 10s", want: Gate{Metric: "p95", Op: "<", Threshold: 500, Window: 10 * time.Second}},
		{expr: "errors<20% over 1m abort_on_fail", want: Gate{Metric: "errors", Op: "<", Threshold: 0.2, Window: time.Minute, AbortOnFail: true}},
		{expr: "  p99<1s abort_on_fail after 30s ", want: Gate{Metric: "p99", Op: "<", Threshold: 1000, AbortOnFail: true, AbortAfter: 30 * time.Second}},
		{expr: "p99=800ms", wantErr: "want METRIC<VALUE"},
		{expr: "<800ms", wantErr: "want METRIC<VALUE"},
		{expr: "", wantErr: "want METRIC<VALUE"},
		{expr: "p98<800ms", wantErr: `unknown metric "p98"`},
		{expr: "p99<800", wantErr: "not a duration"},
		{expr: "p99<-1ms", wantErr: "not a duration"},
		{expr: "p99<", wantErr: "not a duration"},
		{expr: "p99<101h", wantErr: "not a duration"},
		{expr: "errors<2", wantErr: "between 0 and 100%"},
		{expr: "errors<NaN", wantErr: "between 0 and 100%"},
		{expr: "errors<abc", wantErr: "not a ratio"},
		{expr: "goodput>-1", wantErr: "non-negative number"},
		{expr: "goodput>NaN", wantErr: "non-negative number"},
		{expr: "goodput>Inf", wantErr: "non-negative number"},
		{expr: "p99<>800ms", wantErr: "not a duration"},
		{expr: "p99{step:add-card<1s", wantErr: "want a filter like"},
		{expr: "p99{step}<1s", wantErr: "want a filter like"},
		{expr: "p99{step:}<1s", wantErr: "want a filter like"},
		{expr: "p99{journey:x}<1s", wantErr: `unknown filter "journey"`},
		{expr: "p99{upstream:nexi}<1s", wantErr: "p99 cannot be narrowed to an upstream"},
		{expr: "saturation_rate{step:x}>1", wantErr: "cannot be narrowed to a step"},
		{expr: "p95<500ms over", wantErr: "want a window like 10s"},
		{expr: "p95<500ms over 1.5s", wantErr: "whole seconds"},
		{expr: "p95<500ms over 0s", wantErr: "whole seconds"},
		{expr: "p95<500ms over ten", wantErr: "whole seconds"},
		{expr: "recovery<30s over 10s", wantErr: "no per-window value"},
		{expr: "saturation_rate>1/s abort_on_fail", wantErr: "only known once the run has ended"},
		{expr: "p99<1s abort_on_fail after", wantErr: "want a delay"},
		{expr: "p99<1s abort_on_fail after -1s", wantErr: "want a delay"},
		{expr: "p99<1s abort_on_fail over 10s", wantErr: `unexpected "over 10s"`},
		{expr: "p99<1s please", wantErr: "not a duration"},
		{expr: "p99<1s over 10s now", wantErr: `unexpected "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			g, err := ParseGate(tt.expr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseGate(%q) = %+v, %v; want an error with %q", tt.expr, g, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.expr)) {
					t.Errorf("error %q does not name the expression", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Expr = tt.expr
			th := g.Threshold
			g.Threshold, tt.want.Threshold = 0, g.Threshold-tt.want.Threshold
			if g != (Gate{Expr: tt.want.Expr, Metric: tt.want.Metric, Step: tt.want.Step, Upstream: tt.want.Upstream, Op: tt.want.Op,
				Window: tt.want.Window, AbortOnFail: tt.want.AbortOnFail, AbortAfter: tt.want.AbortAfter}) || !near(tt.want.Threshold, 0, 1e-12) {
				t.Errorf("ParseGate(%q) = %+v (threshold %v), want %+v", tt.expr, g, th, tt.want)
			}
		})
	}
}

func TestGateString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"p99 < 800ms", "p99<800ms"},
		{"p99.9<1500us", "p999<1.5ms"},
		{"errors<0.07", "errors<7%"},
		{"errors<1e-3", "errors<0.1%"},
		{"goodput>=4000", "goodput>=4000/s"},
		{"dropped<=3", "dropped<=3"},
		{"p95{step:add-card}<500ms over 60s", "p95{step:add-card}<500ms over 1m"},
		{"errors{upstream:nexi}<5% over 1h0m0s abort_on_fail after 90s", "errors{upstream:nexi}<5% over 1h abort_on_fail after 1m30s"},
		{"recovery<1m", "recovery<1m"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			g, err := ParseGate(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGateHolds(t *testing.T) {
	tests := []struct {
		op     string
		actual float64
		want   bool
	}{
		{"<", 9, true}, {"<", 10, false}, {"<=", 10, true}, {"<=", 11, false},
		{">", 11, true}, {">", 10, false}, {">=", 10, true}, {">=", 9, false},
		{"<", math.NaN(), false}, {">=", math.NaN(), false},
	}
	for _, tt := range tests {
		g := Gate{Op: tt.op, Threshold: 10}
		if got := g.Holds(tt.actual); got != tt.want {
			t.Errorf("%v %s 10 = %v, want %v", tt.actual, tt.op, got, tt.want)
		}
	}
}

func TestParseSLO(t *testing.T) {
	tests := []struct {
		name, in string
		want     SLO
		wantErr  string
	}{
		{"empty keeps the base", "", DefaultSLO, ""},
		{"both", "p99=500ms,errors=2%", SLO{Quantile: 0.99, Latency: 500 * time.Millisecond, ErrorBudget: 0.02}, ""},
		{"quantile only", " p90 = 1s ", SLO{Quantile: 0.90, Latency: time.Second, ErrorBudget: 0.01}, ""},
		{"p95", "p95=300ms", SLO{Quantile: 0.95, Latency: 300 * time.Millisecond, ErrorBudget: 0.01}, ""},
		{"errors only, as a ratio", "errors=0.005", SLO{Quantile: 0.99, Latency: 800 * time.Millisecond, ErrorBudget: 0.005}, ""},
		{"empty parts", ",,errors=1%,", DefaultSLO, ""},
		{"no equals", "p99<800ms", SLO{}, "want key=value"},
		{"zero latency", "p99=0s", SLO{}, "positive duration"},
		{"bad latency", "p99=fast", SLO{}, "positive duration"},
		{"bad budget", "errors=200%", SLO{}, "between 0 and 100%"},
		{"unknown key", "p42=1s", SLO{}, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSLO(tt.in, DefaultSLO)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSLO(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseSLO(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseRatio(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"1%", 0.01, true}, {"0.01", 0.01, true}, {"100%", 1, true}, {"0", 0, true},
		{"1", 1, true}, {"101%", 0, false}, {"-1%", 0, false}, {"NaN", 0, false}, {"Inf%", 0, false}, {"%", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRatio(tt.in)
			if (err == nil) != tt.ok || (tt.ok && !near(got, tt.want, 1e-12)) {
				t.Errorf("ParseRatio(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParseGate(f *testing.F) {
	for _, s := range []string{"p99<800ms", "errors<1%", "goodput>=4000/s", "dropped<=0", "p 9 9 < 1 h", "<", ">=", "max>NaNms",
		"p99{step:add-card}<1s over 10s", "errors{upstream:nexi}<5% abort_on_fail after 30s", "errors<0.07", "p999<1.000000001s",
		"p99{step:a b}<1s over 1m0s abort_on_fail", "recovery<=2h", "achieved/offered>99.5%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		g, err := ParseGate(expr)
		if err != nil {
			return
		}
		rule, ok := gateRules[g.Metric]
		if _, kind := gateMetrics[g.Metric]; !ok || !kind {
			t.Fatalf("accepted unknown metric %q", g.Metric)
		}
		switch g.Op {
		case "<", "<=", ">", ">=":
		default:
			t.Fatalf("accepted op %q", g.Op)
		}
		if math.IsNaN(g.Threshold) || math.IsInf(g.Threshold, 0) || g.Threshold < 0 {
			t.Fatalf("accepted threshold %v", g.Threshold)
		}
		if (g.Step != "" && !rule.step) || (g.Upstream != "" && !rule.upstream) || (g.Window > 0 && !rule.window) || (g.AbortOnFail && !rule.live) ||
			(g.Step != "" && g.Upstream != "") || g.Window%time.Second != 0 || g.AbortAfter < 0 || (g.AbortAfter > 0 && !g.AbortOnFail) {
			t.Fatalf("accepted an impossible gate %+v", g)
		}
		if g.Expr != expr {
			t.Fatalf("Expr %q, want %q", g.Expr, expr)
		}
		// parse(format(g)) == g, and the canonical form is a fixed point.
		canon := g.String()
		again, err := ParseGate(canon)
		if err != nil {
			t.Fatalf("ParseGate(%q) (the canonical form of %q): %v", canon, expr, err)
		}
		again.Expr = g.Expr
		if again != g {
			t.Fatalf("ParseGate(%q) = %+v, want %+v", canon, again, g)
		}
		if again.String() != canon {
			t.Fatalf("canonical form %q writes back as %q", canon, again.String())
		}
	})
}

func FuzzParseSLO(f *testing.F) {
	for _, s := range []string{"p99=800ms,errors=1%", "", "errors=0.5", "p999=1h", ",=,", "p50==1s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		slo, err := ParseSLO(in, DefaultSLO)
		if err != nil {
			return
		}
		if slo.Latency <= 0 || !(slo.ErrorBudget >= 0 && slo.ErrorBudget <= 1) || !(slo.Quantile > 0 && slo.Quantile < 1) {
			t.Fatalf("ParseSLO(%q) accepted %+v", in, slo)
		}
	})
}
