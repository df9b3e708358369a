package render

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/internal/golden"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/resultsfile"
)

// fixtures are run folders under testdata: the main job's launch-day run
// on the embedded naive stack (summary.json as `stampede report --format
// json` wrote it) and a saturation search of the step scenario.
var fixtures = []string{"launch-day", "saturation"}

// loadFixture reads a fixture run folder.
func loadFixture(t testing.TB, name string) *Run {
	t.Helper()
	l, err := LoadRun(filepath.Join("testdata", name), func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	return &l.Run
}

// TestGolden pins the table, Markdown, JSON and JUnit renderings of the
// fixtures, one run and two side by side.
func TestGolden(t *testing.T) {
	cases := map[string][]*Run{}
	for _, f := range fixtures {
		cases[f] = []*Run{loadFixture(t, f)}
	}
	cases["side-by-side"] = []*Run{loadFixture(t, "launch-day"), loadFixture(t, "saturation")}
	for name, runs := range cases {
		for _, f := range []struct {
			format Format
			ext    string
		}{{Table, "txt"}, {Markdown, "md"}, {JSON, "json"}, {JUnit, "xml"}} {
			t.Run(name+"."+f.ext, func(t *testing.T) {
				var buf bytes.Buffer
				if err := Write(&buf, f.format, runs); err != nil {
					t.Fatal(err)
				}
				golden.Check(t, "report-"+name+"."+f.ext, buf.Bytes())
			})
		}
	}
}

// TestVerdictMainJob pins the verdict of the main job: what saturated and
// where, at real scale, who failed first, how users were hurt and with
// which messages, the recovery, the gates.
func TestVerdictMainJob(t *testing.T) {
	v := NewVerdict(loadFixture(t, "launch-day"))
	if v.Pass || v.Gates != 2 || v.Failed != 2 || len(v.Paragraphs) != 4 {
		t.Fatalf("pass %v, %d of %d gates failed, %d paragraphs; want a fail, 2 of 2, 4 paragraphs:\n%s", v.Pass, v.Failed, v.Gates, len(v.Paragraphs), v.Text())
	}
	for i, want := range [][]string{
		{"The target saturated at about 146 first attempts/s (1,460/s at real scale)",
			"Its p99 went over the SLO's 800ms at +8.7 s (815ms), with 177 requests/s (1,770/s at real scale) offered",
			"its error rate passed the 1% budget at +18 s (6.17%), with 324 requests/s (3,240/s at real scale) offered",
			"First to fail: sia (http 502 COBADGE_SEARCH_FAILED in enroll-and-add-card/cobadge-poll from +18 s, at 314 requests/s offered), then nexi, iccrea and iban."},
		{"Users were hurt: 20.70% of 33,028 requests failed, 2,257 of 5,080 journeys (44%) did not complete",
			"http 502 BANCOMAT_SEARCH_FAILED via iccrea (5.65% of requests: “Non siamo riusciti a recuperare la tua carta PagoBancomat”)",
			"“Si è verificato un errore temporaneo nel salvataggio di questa carta”", "and 5 more modes."},
		{"It recovered 53 s (8 min 50 s at real scale) after the offered first attempts fell back under 146 requests/s (1,460/s at real scale).",
			"Retries multiplied the load by 1.06 overall"},
		{"Gates: 2 of 2 failed: p99<800ms (actual 8.93s), errors<1% (actual 20.70%)."},
	} {
		for _, w := range want {
			if !strings.Contains(v.Paragraphs[i], w) {
				t.Errorf("paragraph %d lacks %q:\n%s", i+1, w, v.Paragraphs[i])
			}
		}
	}
}

// healthyRun is a run that kept up: a ramp to 100/s without an error.
func healthyRun(scaled bool) *Run {
	s := &reports.Summary{Scenario: "ci-smoke", Source: "replay", DurationS: 10, Requests: 550, OK: 550, SuccessRatio: 1,
		SLO: "p99=800ms,errors=1%", Latency: reports.LatencyMs{P50: 2, P99: 12},
		Gates: []reports.GateResult{{Expr: "p99<800ms", Metric: "p99", Threshold: 800, Actual: 12, Pass: true},
			{Expr: "errors<1%", Metric: "errors", Threshold: 0.01, Actual: 0, Pass: true}}}
	for i := range 10 {
		n := int64(10 * (i + 1))
		s.Series = append(s.Series, reports.SeriesPoint{T: float64(i), Width: 1, Offered: n, OK: n, Ended: n, Goodput: n,
			Latency: reports.LatencyMs{P50: 2, P90: 5, P99: 12}})
	}
	if scaled {
		s.TimeScale, s.RateScale = 10, 0.1
	}
	return &Run{Name: "smoke", Summary: s}
}

func TestVerdictCases(t *testing.T) {
	interrupted := healthyRun(false)
	interrupted.Summary.Interrupted = true
	interrupted.Summary.Gates = nil
	failingLate := healthyRun(false)
	for i := 8; i < 10; i++ {
		p := &failingLate.Summary.Series[i]
		p.Latency.P99 = 1200
		p.Failed, p.OK = 20, p.Offered-20
	}
	search := &Run{Name: "search", Summary: &reports.Summary{Scenario: "step", Source: "replay", Requests: 100, OK: 90,
		SuccessRatio: 0.9, Saturation: &reports.Saturation{Saturated: true, OfferedRate: 180, ArrivalRate: 20, FailedRate: 240,
			Reason: "p99 over SLO: 1.20s > 800ms at 240.0/s", Component: "add-card via nexi", KneeRate: 150,
			USL: &reports.USL{Sigma: 0.02, Kappa: 0.001, Lambda: 30, PeakRate: 210, PeakConcurrency: 30, R2: 0.97}}}}
	sim := healthyRun(false)
	sim.Summary.Source = "sim"
	slow := healthyRun(false)
	slow.Summary.Latency.P99 = 1200
	ungated := healthyRun(false)
	ungated.Summary.Gates = []reports.GateResult{{Expr: "p99<800ms", Metric: "p99", NoData: true, Reason: "no request ended: nothing was timed"}}

	windowed := healthyRun(false)
	windowed.Summary.Gates = []reports.GateResult{{Expr: "p95<500ms over 10s", Metric: "p95", Threshold: 500, Actual: 1200, WindowS: 10,
		Windows: 6, WindowsFailed: 2, FailedWindow: &reports.GateWindow{T: 20, Width: 10, Actual: 1200, Requests: 300}}}
	for _, c := range []struct {
		name    string
		run     *Run
		want    []string
		notWant []string
	}{
		{"healthy", healthyRun(false), []string{
			"The target kept up: no two seconds in a row went past the SLO (p99=800ms,errors=1%) at up to 100 requests/s offered.",
			"No request failed; p99 latency was 12.0ms.", "Gates: all 2 passed (p99<800ms, errors<1%)."}, []string{"real scale", "recovered"}},
		{"healthy at real scale", healthyRun(true), []string{"at up to 100 requests/s (1,000/s at real scale) offered"}, nil},
		{"interrupted", interrupted, []string{"The run was interrupted: the figures cover what ran."}, []string{"Gates"}},
		{"saturating late", failingLate, []string{"The target saturated at about 90 requests/s offered.",
			"Its p99 went over the SLO's 800ms at +8 s (1.20s), with 90 requests/s offered; its error rate passed the 1% budget at +8 s (22.22%)"}, nil},
		{"search", search, []string{"The target saturated at 180 requests/s offered, the highest step that held; the next step failed: p99 over SLO: 1.20s > 800ms at 240.0/s.",
			"Add-card via nexi crossed its limits first.", "knee of 150 requests/s", "peak throughput at 210 requests/s (σ=0.02, κ=0.001, R²=0.97)",
			"Users were hurt: 10.00% of 100 requests failed"}, []string{"recovered"}},
		{"simulated", sim, []string{"The modelled stack kept up"}, nil},
		{"slow, not failing", slow, []string{"No request failed, but p99 latency was 1.20s, over the SLO's 800ms."}, nil},
		{"gate without data", ungated, []string{"Gates: 1 of 1 failed: p99<800ms (no request ended: nothing was timed)."}, nil},
		{"no requests", &Run{Summary: &reports.Summary{}}, []string{"No request was recorded."}, nil},
		{"failed window", windowed, []string{"Gates: 1 of 1 failed: p95<500ms over 10s (actual 1.20s; first failing window +20.0s–+30.0s: 1.20s (2 of 6 windows failed))."}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := NewVerdict(c.run).Text()
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("verdict lacks %q:\n%s", w, text)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(text, w) {
					t.Errorf("verdict has %q:\n%s", w, text)
				}
			}
		})
	}
}

// TestJUnitOneCasePerGate checks the JUnit file parses and holds a case
// per gate, failing ones with their actual value.
func TestJUnitOneCasePerGate(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, []*Run{loadFixture(t, "launch-day"), healthyRun(false)}); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	if got.Tests != 4 || got.Failures != 2 || len(got.Suites) != 2 {
		t.Fatalf("%d tests, %d failures, %d suites; want 4, 2, 2", got.Tests, got.Failures, len(got.Suites))
	}
	c := got.Suites[0].Cases
	if c[0].Name != "p99<800ms" || c[0].Failure == nil || c[0].Failure.Message != "p99<800ms: actual 8.93s" {
		t.Errorf("first case %+v, want p99<800ms failing with its actual 8.93s", c[0])
	}
	if c[1].Failure == nil || c[1].Failure.Message != "errors<1%: actual 20.70%" {
		t.Errorf("second case %+v, want errors<1%% failing with its actual 20.70%%", c[1])
	}
	if !strings.Contains(got.Suites[0].SystemOut, "The target saturated") {
		t.Errorf("suite output lacks the verdict: %q", got.Suites[0].SystemOut)
	}
	for _, c := range got.Suites[1].Cases {
		if c.Failure != nil {
			t.Errorf("passing gate %s has a failure", c.Name)
		}
	}
}

// TestHTMLSelfContained checks the page needs nothing from elsewhere and
// holds every chart the main job has data for.
func TestHTMLSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, []*Run{loadFixture(t, "launch-day")}); err != nil {
		t.Fatal(err)
	}
	// SVG's namespace names are identifiers, never fetched.
	page := strings.NewReplacer(`xmlns="http://www.w3.org/2000/svg"`, "", `xmlns:xlink="http://www.w3.org/1999/xlink"`, "").Replace(buf.String())
	for _, bad := range []string{"<script", "<link", "src=", "url(", "@import", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q: it must not reach for anything", bad)
		}
	}
	for _, id := range []string{"throughput", "latency", "errors", "inflight", "retries", "spectrum"} {
		if !strings.Contains(page, `<figure class="chart" id="chart-`+id+`"`) {
			t.Errorf("no %s chart", id)
		}
	}
	if !strings.Contains(page, "The target saturated at about 146 first attempts/s") {
		t.Error("the verdict is not on the page")
	}
}

// TestLoadRunRebuildsFromResults checks that a folder's results file is
// the source of its figures, with the folder's summary supplying the rest,
// and that a results file cut short is read up to its last whole line.
func TestLoadRunRebuildsFromResults(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2020, 12, 8, 7, 0, 0, 0, time.UTC)
	var b []byte
	for i := range 20 {
		r := reports.Result{Seq: uint64(i), Journey: "enroll", Step: "login", Attempt: 1, Intended: t0.Add(time.Duration(i) * 100 * time.Millisecond),
			Latency: 5 * time.Millisecond, Code: 200, OK: true, Method: "POST", URL: "http://stack/login", Arrival: true}
		if i%4 == 3 {
			r.Code, r.OK, r.Upstream, r.ErrorCode, r.Message = 503, false, "nexi", "QUEUE_FULL", "riprova"
		}
		b = resultsfile.AppendResult(b, "ci-smoke", &r)
	}
	full := len(b)
	b = append(b, `{"attack":"ci-smoke","seq":20,"code":200,"timest`...) // killed mid-write
	if err := os.WriteFile(filepath.Join(dir, "results.jsonl"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run.json"), []byte(`{"scenario":"ci-smoke","time_scale":10,"rate_scale":0.1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	l, err := LoadRun(dir, func(w string) { warnings = append(warnings, w) })
	if err != nil {
		t.Fatal(err)
	}
	s := l.Summary
	if s.Requests != 20 || s.OK != 15 || s.Scenario != "ci-smoke" || !s.Interrupted || s.TimeScale != 10 || s.RateScale != 0.1 {
		t.Errorf("requests %d, ok %d, scenario %q, interrupted %v, scales %v %v; want 20, 15, ci-smoke, true, 10 and 0.1",
			s.Requests, s.OK, s.Scenario, s.Interrupted, s.TimeScale, s.RateScale)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "results.jsonl: cut short at byte "+strconv.Itoa(full)+" (a run killed mid-write?): read up to its last complete result, 20 results") ||
		!strings.Contains(warnings[1], "no summary.json") {
		t.Errorf("warnings %q, want the cut-short file and the missing summary", warnings)
	}
	if len(s.Errors) != 1 || s.Errors[0].Message != "riprova" {
		t.Errorf("errors %+v, want the 503 with its message", s.Errors)
	}
}

func TestLoadRunBadInput(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadRun(dir, nil); err == nil || !strings.Contains(err.Error(), "not a run folder") {
		t.Errorf("empty folder: %v, want not a run folder", err)
	}
	if _, err := LoadRun(filepath.Join(dir, "nope"), nil); err == nil {
		t.Error("missing folder: no error")
	}
	os.WriteFile(filepath.Join(dir, "summary.json"), []byte(`{"scenario": "x", "requests": "many"}`), 0o644)
	if _, err := LoadRun(dir, nil); err == nil || !strings.Contains(err.Error(), "summary.json") || !strings.HasSuffix(err.Error(), "(at byte 36)") {
		t.Errorf("broken summary: %v, want an error naming summary.json and byte 36, the end of the bad value", err)
	}
	os.WriteFile(filepath.Join(dir, "summary.json"), []byte(`{"scenario": "x"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "run.json"), []byte(`{"scenario": "x", "seed"`), 0o644)
	if _, err := LoadRun(dir, nil); err == nil || !strings.HasSuffix(err.Error(), "run.json: cut short at byte 24") {
		t.Errorf("cut run.json: %v, want it named, cut at byte 24", err)
	}
	os.Remove(filepath.Join(dir, "run.json"))
	shard := func(k string) string {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, "summary.json"), []byte(`{"scenario":"launch-day"}`), 0o644)
		os.WriteFile(filepath.Join(d, "run.json"), []byte(`{"shard":"`+k+`"}`), 0o644)
		return d
	}
	_, err := LoadRuns([]string{shard("1/2"), shard("2/2")}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "are shards of one run: merge them first") {
		t.Errorf("two shards: %v, want the merge hint", err)
	}
}

// BenchmarkWriteHTMLMainJob is the report.html a run of the main job
// writes into its folder: every chart of the launch-day run, from its
// summary.
//
//	go test ./reports/render -run XXX -bench WriteHTMLMainJob -benchmem
func BenchmarkWriteHTMLMainJob(b *testing.B) {
	runs := []*Run{loadFixture(b, "launch-day")}
	b.ReportAllocs()
	var size int
	for b.Loop() {
		var buf bytes.Buffer
		if err := WriteHTML(&buf, runs); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "bytes/page")
}

// TestChartPoints pins how a long series is drawn: at most
// maxChartPoints intervals, every request still counted, the worst
// latency of each group kept.
func TestChartPoints(t *testing.T) {
	var pts []reports.SeriesPoint
	var offered, failed int64
	for i := range 2500 {
		p := reports.SeriesPoint{T: float64(i), Width: 1, Offered: int64(i % 7), Failed: int64(i % 3), Concurrency: 2,
			Latency: reports.LatencyMs{P99: float64(i % 10)}, Errors: []reports.ModeCount{{Mode: "timeout", Count: int64(i % 3)}}}
		offered, failed = offered+p.Offered, failed+p.Failed
		pts = append(pts, p)
	}
	got := chartPoints(pts)
	if len(got) > maxChartPoints || len(got) < maxChartPoints/2 {
		t.Fatalf("%d points, want at most %d and not far fewer", len(got), maxChartPoints)
	}
	var o, f, e int64
	for _, p := range got {
		o, f = o+p.Offered, f+p.Failed
		for _, m := range p.Errors {
			e += m.Count
		}
		if p.Concurrency != 2 || p.Width != 3 && p.Width != 1 {
			t.Errorf("point at %v: width %v, concurrency %v; want 3 s (1 at the end) and the mean, 2", p.T, p.Width, p.Concurrency)
		}
	}
	if o != offered || f != failed || e != failed {
		t.Errorf("offered %d, failed %d, errors %d; want %d, %d, %d", o, f, e, offered, failed, failed)
	}
	if got[0].Latency.P99 != 2 || got[3].Latency.P99 != 9 {
		t.Errorf("p99 of the first groups %v, %v; want their worst, 2 and 9", got[0].Latency.P99, got[3].Latency.P99)
	}
	short := pts[:10]
	if len(chartPoints(short)) != 10 {
		t.Error("a short series was regrouped")
	}
}

// TestFramesAtRealScale pins the overlay of a scaled measured run and a
// real-scale simulation: both on the real day's seconds and rates.
func TestFramesAtRealScale(t *testing.T) {
	scaled := &Run{Summary: &reports.Summary{TimeScale: 10, RateScale: 0.1}}
	real := &Run{Summary: &reports.Summary{Source: "sim"}}
	fs, label := frames([]*Run{scaled, real})
	if fs[0] != (frame{time: 10, rate: 10}) || fs[1] != (frame{1, 1}) || label != "seconds from the start, at real scale" {
		t.Errorf("frames %+v, %q; want the scaled run ×10 in time and rate, the other as it is, on a real-scale axis", fs, label)
	}
	fs, label = frames([]*Run{scaled, scaled})
	if fs[0] != (frame{1, 1}) || label != "seconds from the start" {
		t.Errorf("runs of one scale: frames %+v, %q; want their own seconds", fs, label)
	}
}

// TestHTMLEscapesRunText checks that text from a results file (step names,
// error modes, messages) cannot put markup into the page, in the tables or
// in the charts' SVG.
func TestHTMLEscapesRunText(t *testing.T) {
	r := healthyRun(false)
	s := r.Summary
	evil := `<script>alert(1)</script>`
	s.Steps = []reports.StepSummary{{Name: evil, Journey: "j", Requests: 10, OK: 9, Latency: reports.LatencyMs{P50: 2},
		Spectrum: []reports.PercentileMs{{Percentile: 50, Ms: 2}, {Percentile: 99, Ms: 9}}}}
	s.Errors = []reports.ErrorSummary{{Mode: reports.ErrorMode("http 500 " + evil), Upstream: `<img src=x onerror=alert(2)>`, Count: 1,
		OnsetS: 3, Message: evil}}
	for i := range s.Series {
		s.Series[i].Errors = []reports.ModeCount{{Mode: reports.ErrorMode("http 500 " + evil), Upstream: `<img src=x onerror=alert(2)>`, Count: 1}}
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, []*Run{r}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"<script", "<img"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q from the run's text", bad)
		}
	}
	inSVG := false
	for _, part := range strings.Split(page, "<svg")[1:] {
		svg, _, _ := strings.Cut(part, "</svg>")
		inSVG = inSVG || strings.Contains(svg, "&lt;script&gt;")
	}
	if !inSVG || !strings.Contains(page, `id="chart-errors"`) || !strings.Contains(page, `id="chart-spectrum"`) {
		t.Error("the charts do not show the escaped text: the test proves nothing")
	}
}
