package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/internal/golden"
)

func mustGates(t testing.TB, exprs ...string) []Gate {
	t.Helper()
	var gs []Gate
	for _, e := range exprs {
		g, err := ParseGate(e)
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	return gs
}

func TestEvaluateGates(t *testing.T) {
	s := &Summary{
		Requests: 1000, Dropped: 5, SuccessRatio: 0.97, RetryShare: 0.04, Goodput: 4100, AchievedRate: 4990,
		Latency: LatencyMs{P50: 1.2, P90: 3.4, P95: 5, P99: 12, P999: 40, Max: 900},
	}
	tests := []struct {
		expr   string
		actual float64
		pass   bool
	}{
		{"p50<2ms", 1.2, true},
		{"p90<3ms", 3.4, false},
		{"p95<=5ms", 5, true},
		{"p99<800ms", 12, true},
		{"p999<40ms", 40, false},
		{"max<1s", 900, true},
		{"errors<1%", 0.03, false},
		{"errors<=3%", 0.03, true},
		{"success_ratio>=0.95", 0.97, true},
		{"retry_share<5%", 0.04, true},
		{"goodput>4000/s", 4100, true},
		{"achieved_rate>=5000", 4990, false},
		{"dropped<=0", 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got := EvaluateGates(s, mustGates(t, tt.expr))
			if len(got) != 1 || !near(got[0].Actual, tt.actual, 1e-9) || got[0].Pass != tt.pass || got[0].Expr != tt.expr {
				t.Errorf("got %+v, want actual %v pass %v", got, tt.actual, tt.pass)
			}
		})
	}

	t.Run("no measurement is never a pass", func(t *testing.T) {
		gates := mustGates(t, "p99<800ms", "dropped<=10", "errors<100%")
		for _, c := range []struct {
			name string
			s    *Summary
			want []bool
		}{
			{"no requests", &Summary{}, []bool{false, false, false}},
			{"all dropped", &Summary{Requests: 3, Dropped: 3}, []bool{false, true, false}},
		} {
			got := EvaluateGates(c.s, gates)
			for i, g := range got {
				if g.Pass != c.want[i] || (!g.Pass && g.Reason == "" && g.Metric == "p99") {
					t.Errorf("%s: %+v, want pass %v with a reason", c.name, g, c.want[i])
				}
			}
		}
	})
}

func TestSummaryPassed(t *testing.T) {
	tests := []struct {
		name  string
		gates []GateResult
		want  bool
	}{
		{"no gates", nil, true},
		{"all pass", []GateResult{{Pass: true}, {Pass: true}}, true},
		{"one fails", []GateResult{{Pass: true}, {Pass: false}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (&Summary{Gates: tt.gates}).Passed(); got != tt.want {
				t.Errorf("Passed() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSummaryJSONContract pins the summary.json field names DESIGN.md
// promises: tools script against them, so they are never renamed.
func TestSummaryJSONContract(t *testing.T) {
	s := accumulate(launchFixture()).Summary(SummaryMeta{Scenario: "launch-day", Source: "replay", Gates: mustGates(t, "p99<800ms")})
	s.Saturation = &Saturation{USL: &USL{}}
	var buf bytes.Buffer
	if err := EncodeSummary(&buf, s); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	has := func(obj any, path string, keys ...string) {
		o, ok := obj.(map[string]any)
		if !ok {
			t.Fatalf("%s is %T, not an object", path, obj)
		}
		for _, k := range keys {
			if _, ok := o[k]; !ok {
				t.Errorf("%s has no %q", path, k)
			}
		}
	}
	has(m, "summary", "scenario", "source", "duration_s", "requests", "offered_rate", "achieved_rate", "goodput",
		"success_ratio", "dropped", "retry_share", "latency_ms", "steps", "errors", "saturation", "gates")
	has(m["latency_ms"], "latency_ms", "p50", "p90", "p99", "p999", "max")
	has(m["steps"].([]any)[0], "steps[0]", "name", "requests", "success_ratio", "latency_ms")
	has(m["errors"].([]any)[0], "errors[0]", "mode", "count", "share", "onset_s", "onset_offered_rate", "upstream", "example")
	has(m["saturation"], "saturation", "offered_rate", "reason", "component", "knee_rate", "usl")
	has(m["saturation"].(map[string]any)["usl"], "usl", "sigma", "kappa", "lambda", "peak_rate")
	has(m["gates"].([]any)[0], "gates[0]", "expr", "actual", "pass")
	if _, ok := m["series"]; ok {
		t.Error("series written though not asked for")
	}
}

func TestSummaryFileRoundTrip(t *testing.T) {
	s := accumulate(launchFixture()).Summary(SummaryMeta{Scenario: "launch-day", Source: "sim", Interrupted: true,
		Gates: mustGates(t, "p99<800ms", "errors<1%"), Series: true})
	path := filepath.Join(t.TempDir(), "summary.json")
	if err := WriteSummaryFile(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSummary(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("read back a different summary:\n got %+v\nwant %+v", got, s)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if _, err := ReadSummary(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("reading a missing file did not fail")
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{"), 0o644)
	if _, err := ReadSummary(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad file: %v, want an error naming it", err)
	}
	if err := WriteSummaryFile(filepath.Join(t.TempDir(), "no", "such", "dir.json"), s); err == nil {
		t.Error("writing into a missing directory did not fail")
	}
}

// renderCases are the summaries the golden files pin; the renderers'
// tests (package render) read them back from testdata/NAME.json.
func renderCases(t *testing.T) map[string]*Summary {
	gates := mustGates(t, "p99<800ms", "errors<1%", "goodput>100/s", "dropped<=0")
	launch := accumulate(launchFixture()).Summary(SummaryMeta{Scenario: "launch-day", Source: "replay", Gates: gates})

	two := smallRun()
	for _, r := range smallRun() {
		r.Journey, r.Intended = "browse", r.Intended.Add(500*time.Millisecond)
		two = append(two, r)
	}
	interrupted := accumulate(two, WithStart(t0)).Summary(SummaryMeta{Scenario: "bank-outage", Source: "sim", Interrupted: true,
		Gates: mustGates(t, "p99<1s", "success_ratio>=0.9")})
	interrupted.Saturation = &Saturation{OfferedRate: 3900, Reason: "p99 over SLO", Component: "add-card via nexi", KneeRate: 3700, Saturated: true,
		USL: &USL{Sigma: 0.021, Kappa: 0.0004, Lambda: 510, PeakRate: 4120}}

	empty := NewAccumulator().Summary(SummaryMeta{Scenario: "ci", Source: "replay", Gates: mustGates(t, "p99<800ms")})

	return map[string]*Summary{"launch": launch, "interrupted": interrupted, "empty": empty}
}

func TestEncodeSummaryGolden(t *testing.T) {
	for name, s := range renderCases(t) {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := EncodeSummary(&buf, s); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, name+".json", buf.Bytes())
			back, err := DecodeSummary(&buf)
			if err != nil || !reflect.DeepEqual(back, s) {
				t.Errorf("decoding the JSON back: %v", err)
			}
		})
	}
	t.Run("series", func(t *testing.T) {
		var buf bytes.Buffer
		s := accumulate(smallRun(), WithStart(t0.Add(-300*time.Millisecond))).Summary(SummaryMeta{Scenario: "small", Source: "replay", Series: true})
		if err := EncodeSummary(&buf, s); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, "series.json", buf.Bytes())
	})
}

// brokenWriter fails every write.
type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestEncodeSummaryWriteError(t *testing.T) {
	s := renderCases(t)["launch"]
	if err := EncodeSummary(brokenWriter{}, s); err == nil {
		t.Error("EncodeSummary with a failing writer returned nil")
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{FormatMillis(0), "0"}, {FormatMillis(0.85), "850µs"}, {FormatMillis(1.234), "1.23ms"}, {FormatMillis(12.34), "12.3ms"}, {FormatMillis(123.4), "123ms"},
		{FormatMillis(1234), "1.23s"}, {FormatMillis(12345), "12.3s"},
		{FormatPercent(0.9296), "92.96%"}, {FormatRate(4990), "4,990.0/s"}, {FormatCount(1234567), "1,234,567"}, {FormatCount(-1234), "-1,234"},
		{FormatDecimal(999.95, 1), "1,000.0"}, {Clip("a  b\nc", 10), "a b c"}, {Clip("abcdef", 4), "abc…"},
		{FormatGateValue("errors", 0.01), "1.00%"}, {FormatGateValue("dropped", 3), "3"}, {FormatGateValue("goodput", 5), "5.0/s"}, {FormatGateValue("p99", 1.5), "1.50ms"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
