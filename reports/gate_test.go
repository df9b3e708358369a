package reports

import (
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
		{expr: "p95<250us", want: Gate{Metric: "p95", Op: "<", Threshold: 0.25}},
		{expr: "errors<1%", want: Gate{Metric: "errors", Op: "<", Threshold: 0.01}},
		{expr: "success_ratio>=0.95", want: Gate{Metric: "success_ratio", Op: ">=", Threshold: 0.95}},
		{expr: "retry_share<=10%", want: Gate{Metric: "retry_share", Op: "<=", Threshold: 0.1}},
		{expr: "goodput>4000/s", want: Gate{Metric: "goodput", Op: ">", Threshold: 4000}},
		{expr: "achieved_rate>=5000", want: Gate{Metric: "achieved_rate", Op: ">=", Threshold: 5000}},
		{expr: "dropped<=0", want: Gate{Metric: "dropped", Op: "<=", Threshold: 0}},
		{expr: "p99=800ms", wantErr: "want METRIC<VALUE"},
		{expr: "<800ms", wantErr: "want METRIC<VALUE"},
		{expr: "", wantErr: "want METRIC<VALUE"},
		{expr: "p98<800ms", wantErr: `unknown metric "p98"`},
		{expr: "p99<800", wantErr: "not a duration"},
		{expr: "p99<-1ms", wantErr: "not a duration"},
		{expr: "p99<", wantErr: "not a duration"},
		{expr: "errors<2", wantErr: "between 0 and 100%"},
		{expr: "errors<NaN", wantErr: "between 0 and 100%"},
		{expr: "errors<abc", wantErr: "not a ratio"},
		{expr: "goodput>-1", wantErr: "non-negative number"},
		{expr: "goodput>NaN", wantErr: "non-negative number"},
		{expr: "goodput>Inf", wantErr: "non-negative number"},
		{expr: "p99<>800ms", wantErr: "not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			g, err := ParseGate(tt.expr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseGate(%q) = %+v, %v; want an error with %q", tt.expr, g, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Expr = tt.expr
			if g.Expr != tt.want.Expr || g.Metric != tt.want.Metric || g.Op != tt.want.Op || !near(g.Threshold, tt.want.Threshold, 1e-12) {
				t.Errorf("ParseGate(%q) = %+v, want %+v", tt.expr, g, tt.want)
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
	for _, s := range []string{"p99<800ms", "errors<1%", "goodput>=4000/s", "dropped<=0", "p 9 9 < 1 h", "<", ">=", "max>NaNms"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		g, err := ParseGate(expr)
		if err != nil {
			return
		}
		if _, ok := gateMetrics[g.Metric]; !ok {
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
		if g.Expr != expr {
			t.Fatalf("Expr %q, want %q", g.Expr, expr)
		}
		again, err := ParseGate(g.Expr)
		if err != nil || again != g {
			t.Fatalf("re-parse: %+v, %v; want %+v", again, err, g)
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
