package reports

import (
	"bytes"
	"encoding/json"
	"math"
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

// TestSummaryJSONContract pins every summary.json field the README's
// "Results and summary.json" table and DESIGN.md document, with its JSON
// type and, where the fixture lets it be checked, its unit (seconds, ms,
// per second): tools script against them, so none is renamed or dropped.
// The summary is the accumulator's over a fixed replay; the parts only a
// saturation search, a live output or the generator's probe fill in are
// set as those fill them.
func TestSummaryJSONContract(t *testing.T) {
	results := launchFixture()
	s := accumulate(results).Summary(SummaryMeta{Scenario: "launch-day", Source: "replay", Series: true,
		TimeScale: 0.5, RateScale: 2, SLO: DefaultSLO,
		Gates: mustGates(t, "p99<800ms", "errors<1% over 5s")})
	s.Verdict = "saturated at 150/s"
	s.Aborted = &GateResult{Expr: "errors<1% over 5s abort_on_fail", Aborted: true}
	s.Gates[1].Aborted, s.Gates[1].Step, s.Gates[1].Upstream, s.Gates[1].NoData = true, "enroll/add-card", "nexi", true
	s.Gates[1].Reason = "a failed window"
	s.Saturation = &Saturation{OfferedRate: 150, Reason: "p99 over SLO", Component: "add-card via nexi", Step: "enroll/add-card",
		Upstream: "nexi", KneeRate: 140, USL: &USL{Sigma: 0.02, Kappa: 0.001, Lambda: 10, PeakRate: 166, R2: 0.99}}
	s.Metastability = &Metastability{Verdict: "recovered"}
	s.Outputs = []OutputStatus{{Kind: "prometheus-remote-write", URL: "http://127.0.0.1:9090/api/v1/write", Pushes: 3, Failed: 1, Retries: 2, Down: true, LastError: "refused"}}
	s.Generator = &Generator{Verdict: GeneratorLimited, Limits: []string{"cpu"}, Advice: "fewer journeys", Warning: []string{"in flight"},
		Cores: 2, CPUMean: 0.5, CPUPeak: 0.95, PacerLagP99: 60, PacerLagMax: 80, Arrivals: 100, LateArrivals: 10, LateShare: 0.1,
		GCPauseMs: 3, GCPauseShare: 0.01, InFlightPeak: 9, InFlightCap: 10, FDsPeak: 20, FDLimit: 1024}
	b := NewBand(100, 4)
	s.Replications = &Replications{N: 5, Figures: []ReplicatedFigure{{Name: "goodput", Unit: "/s", Mean: 100, HalfWidth: 6, Wide: true}},
		Series: []BandPoint{{T: 0, Width: 1, Offered: b, Achieved: b, Goodput: b, P99: b}}}

	var buf bytes.Buffer
	if err := EncodeSummary(&buf, s); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}

	// has asserts that obj (at path) is an object holding each key with
	// the JSON type its suffix names: key:s string, key:n number, key:b
	// bool, key:o object, key:a array.
	has := func(obj any, path string, keys ...string) map[string]any {
		t.Helper()
		o, ok := obj.(map[string]any)
		if !ok {
			t.Fatalf("%s is %T, not an object", path, obj)
		}
		for _, kt := range keys {
			k, typ, _ := strings.Cut(kt, ":")
			v, ok := o[k]
			if !ok {
				t.Errorf("%s has no %q", path, k)
				continue
			}
			var good bool
			switch typ {
			case "s":
				_, good = v.(string)
			case "n":
				_, good = v.(float64)
			case "b":
				_, good = v.(bool)
			case "o":
				_, good = v.(map[string]any)
			case "a":
				_, good = v.([]any)
			}
			if !good {
				t.Errorf("%s.%s is %T, want JSON type %q", path, k, v, typ)
			}
		}
		return o
	}
	// first is the first element of the array at o[key].
	first := func(o map[string]any, path, key string) any {
		t.Helper()
		a, _ := o[key].([]any)
		if len(a) == 0 {
			t.Fatalf("%s.%s is empty or missing", path, key)
		}
		return a[0]
	}
	latency := []string{"p50:n", "p90:n", "p95:n", "p99:n", "p999:n", "max:n", "mean:n"}
	seriesKeys := []string{"t_s:n", "width_s:n", "offered:n", "arrivals:n", "sent:n", "ended:n", "goodput:n", "failed:n",
		"dropped:n", "retries:n", "latency_ms:o", "concurrency:n"}

	top := has(m, "summary", "scenario:s", "source:s", "duration_s:n", "wait_s:n", "requests:n", "offered_rate:n",
		"achieved_rate:n", "goodput:n", "journey_goodput:n", "success_ratio:n", "dropped:n", "retry_share:n",
		"latency_ms:o", "send_latency_ms:o", "queue_ms:o", "steps:a", "errors:a", "saturation:o", "metastability:o",
		"retry_amplification:o", "series:a", "slo:s", "time_scale:n", "rate_scale:n", "latency_spectrum:a", "verdict:s",
		"aborted:o", "gates:a", "latency_hdr:s", "outputs:a", "generator:o", "replications:o")
	for _, k := range []string{"latency_ms", "send_latency_ms", "queue_ms"} {
		has(top[k], k, latency...)
	}
	has(first(top, "summary", "latency_spectrum"), "latency_spectrum[0]", "p:n", "ms:n")
	step := has(first(top, "summary", "steps"), "steps[0]", "name:s", "requests:n", "success_ratio:n", "latency_ms:o",
		"spectrum:a", "latency_hdr:s", "series:a")
	has(step["latency_ms"], "steps[0].latency_ms", latency...)
	has(first(step, "steps[0]", "series"), "steps[0].series[0]", seriesKeys...)
	has(first(top, "summary", "errors"), "errors[0]", "mode:s", "count:n", "share:n", "onset_s:n", "onset_offered_rate:n",
		"upstream:s", "example:s", "status:n", "code:s", "message:s")
	sat := has(top["saturation"], "saturation", "offered_rate:n", "reason:s", "component:s", "step:s", "upstream:s", "knee_rate:n", "usl:o")
	has(sat["usl"], "saturation.usl", "sigma:n", "kappa:n", "lambda:n", "peak_rate:n", "r2:n")
	series := top["series"].([]any)
	has(series[0], "series[0]", seriesKeys...)
	var withErrors map[string]any
	for _, p := range series {
		if p := p.(map[string]any); p["errors"] != nil {
			withErrors = p
			break
		}
	}
	if withErrors == nil {
		t.Fatal("no series interval has errors[]")
	}
	has(first(withErrors, "series[]", "errors"), "series[].errors[0]", "mode:s", "upstream:s", "count:n", "share:n")
	has(top["aborted"], "aborted", "expr:s", "aborted:b")
	gate := has(first(top, "summary", "gates"), "gates[0]", "expr:s", "metric:s", "threshold:n", "actual:n", "pass:b", "unit:s")
	windowed := has(top["gates"].([]any)[1], "gates[1]", "expr:s", "metric:s", "threshold:n", "actual:n", "pass:b", "unit:s",
		"reason:s", "no_data:b", "step:s", "upstream:s", "aborted:b", "window_s:n", "windows:n", "windows_failed:n", "failed_window:o")
	has(windowed["failed_window"], "gates[1].failed_window", "t_s:n", "width_s:n", "actual:n", "requests:n")
	has(first(top, "summary", "outputs"), "outputs[0]", "kind:s", "url:s", "pushes:n", "failed:n", "retries:n", "down:b", "last_error:s")
	has(top["generator"], "generator", "verdict:s", "limits:a", "advice:s", "warnings:a", "cores:n", "cpu_mean:n", "cpu_peak:n",
		"pacer_lag_p99_ms:n", "pacer_lag_max_ms:n", "arrivals:n", "late_arrivals:n", "late_share:n", "gc_pause_ms:n",
		"gc_pause_share:n", "inflight_peak:n", "inflight_cap:n", "fds_peak:n", "fd_limit:n")
	reps := has(top["replications"], "replications", "n:n", "figures:a", "series:a")
	has(first(reps, "replications", "figures"), "replications.figures[0]", "name:s", "unit:s", "mean:n", "half_width:n", "wide:b")
	bp := has(first(reps, "replications", "series"), "replications.series[0]", "t_s:n", "width_s:n", "offered:o", "achieved:o", "goodput:o", "p99_ms:o")
	for _, k := range []string{"offered", "achieved", "goodput", "p99_ms"} {
		has(bp[k], "replications.series[0]."+k, "mean:n", "half_width:n")
	}
	if t.Failed() {
		return
	}

	// Units, against the fixture's own results: seconds, milliseconds
	// (HDR, within 0.1%), requests per second.
	firstDue, lastDue, maxMs, maxQueueMs := results[0].Intended, results[0].Intended, 0.0, 0.0
	for _, r := range results {
		if r.Intended.Before(firstDue) {
			firstDue = r.Intended
		}
		if r.Intended.After(lastDue) {
			lastDue = r.Intended
		}
		if !r.Dropped {
			maxMs = max(maxMs, float64(r.Latency)/float64(time.Millisecond))
			maxQueueMs = max(maxQueueMs, float64(r.Sent.Sub(r.Intended))/float64(time.Millisecond))
		}
	}
	num := func(o any, k string) float64 { return o.(map[string]any)[k].(float64) }
	durationS := lastDue.Sub(firstDue).Seconds()
	if got := num(top, "duration_s"); math.Abs(got-durationS) > 0.0005 { // rounded to the ms
		t.Errorf("duration_s = %v, want %v (seconds)", got, durationS)
	}
	if got, want := num(top, "requests"), float64(len(results)); got != want {
		t.Errorf("requests = %v, want %v", got, want)
	}
	if got, want := num(top, "offered_rate"), float64(len(results))/durationS; !near(got, want, 1e-3) {
		t.Errorf("offered_rate = %v, want %v (per second)", got, want)
	}
	if got := num(top["latency_ms"], "max"); !near(got, maxMs, 1e-3) {
		t.Errorf("latency_ms.max = %v, want %v (ms)", got, maxMs)
	}
	if got := num(top["queue_ms"], "max"); !near(got, maxQueueMs, 1e-2) {
		t.Errorf("queue_ms.max = %v, want %v (ms)", got, maxQueueMs)
	}
	if gate["unit"] != "ms" || gate["actual"] != num(top["latency_ms"], "p99") {
		t.Errorf("gates[0] %v: want unit ms and actual latency_ms.p99 %v", gate, num(top["latency_ms"], "p99"))
	}
	if windowed["window_s"] != 5.0 || windowed["unit"] != "ratio" {
		t.Errorf("gates[1] window_s %v unit %v, want 5 (seconds) and ratio", windowed["window_s"], windowed["unit"])
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
