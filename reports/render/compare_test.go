package render

import (
	"bytes"
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stampede-load/stampede/internal/golden"
	"github.com/stampede-load/stampede/reports"
)

// comparedRuns is the comparison of comparedSummaries.
func comparedRuns(t *testing.T) *reports.Comparison {
	t.Helper()
	c, err := reports.Compare(comparedSummaries())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// comparedSummaries are two summaries of 20 seconds whose latencies are
// 30% apart from the fifth second on, with a step that did not change.
func comparedSummaries() (base, next *reports.Summary, o reports.CompareOptions) {
	run := func(slower float64) *reports.Summary {
		s := &reports.Summary{Scenario: "ci-smoke", Source: "replay", SLO: "p99=800ms,errors=5%", DurationS: 20,
			Requests: 400, OK: 396, SuccessRatio: 0.99, OfferedRate: 20, AchievedRate: 20, Goodput: 19.8,
			Latency: reports.LatencyMs{P50: 20 * slower, P90: 30 * slower, P99: 45 * slower, P999: 50 * slower, Max: 60 * slower, Mean: 22 * slower},
			Errors:  []reports.ErrorSummary{{Mode: "http 503", Count: 4, Share: 0.01, OnsetS: 4, OnsetOfferedRate: 20, Step: "enroll/search", Status: 503}}}
		st := reports.StepSummary{Name: "search", Journey: "enroll", Requests: 200, OK: 200, SuccessRatio: 1, Goodput: 10,
			Latency: reports.LatencyMs{P50: 5, P90: 6, P99: 8, Mean: 5.2}}
		for i := range 20 {
			f := 1 + 0.01*float64(i%5)
			k := f
			if i >= 4 {
				k *= slower
			}
			s.Series = append(s.Series, reports.SeriesPoint{T: float64(i), Width: 1, Offered: 20, OK: 20 - int64(i%5/4), Failed: int64(i % 5 / 4), Goodput: 20,
				Latency: reports.LatencyMs{P50: 20 * k, P90: 30 * k, P99: 45 * k, Mean: 22 * k}})
			st.Series = append(st.Series, reports.SeriesPoint{T: float64(i), Width: 1, Offered: 10, OK: 10, Goodput: 10,
				Latency: reports.LatencyMs{P50: 5 * f, P90: 6 * f, P99: 8 * f, Mean: 5.2 * f}})
		}
		s.Steps = []reports.StepSummary{st, {Name: "login", Journey: "enroll", Series: st.Series, Latency: st.Latency, SuccessRatio: 1}}
		return s
	}
	return run(1), run(1.3), reports.CompareOptions{}
}

func TestCompareRenderersGolden(t *testing.T) {
	c := comparedRuns(t)
	for _, tt := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"compare.txt", func(b *bytes.Buffer) error { return WriteCompareTable(b, c) }},
		{"compare.md", func(b *bytes.Buffer) error { return WriteCompareMarkdown(b, c) }},
		{"compare.xml", func(b *bytes.Buffer) error { return WriteCompareJUnit(b, c) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&buf); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tt.name, buf.Bytes())
		})
	}
	t.Run("junit is XML with a failure per regression", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteCompareJUnit(&buf, c); err != nil {
			t.Fatal(err)
		}
		var suite struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		}
		if err := xml.Unmarshal(buf.Bytes(), &suite); err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, tc := range suite.Cases {
			if tc.Failure != nil {
				failed++
			}
		}
		if suite.Tests != len(c.Changes) || failed != c.Verdicts[reports.Regression] || suite.Failures != failed || failed < 4 {
			t.Errorf("%d tests, %d failures (%d failing cases), want %d and %d", suite.Tests, suite.Failures, failed, len(c.Changes), c.Verdicts[reports.Regression])
		}
	})
}

// TestReportWithBaseline pins the comparison a report shows under
// --baseline: the same verdicts as stampede compare, in the table,
// Markdown and HTML; a run of another scenario is refused.
func TestReportWithBaseline(t *testing.T) {
	base, next, o := comparedSummaries()
	runs := []*Run{{Name: "after", Summary: next}}
	if err := CompareWithBaseline(runs, "before", base, o); err != nil {
		t.Fatal(err)
	}
	want := comparedRuns(t)
	if got := runs[0].Baseline; got.Verdicts[reports.Regression] != 4 || !reflect.DeepEqual(got.Verdicts, want.Verdicts) {
		t.Fatalf("verdicts %v, compare says %v", got.Verdicts, want.Verdicts)
	}
	for _, f := range []struct {
		format Format
		ext    string
	}{{Table, "txt"}, {Markdown, "md"}} {
		t.Run(f.ext, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, f.format, runs); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "report-baseline."+f.ext, buf.Bytes())
		})
	}
	t.Run("html", func(t *testing.T) {
		var buf bytes.Buffer
		if err := Write(&buf, HTML, runs); err != nil {
			t.Fatal(err)
		}
		page := buf.String()
		for _, w := range []string{
			"<p>Against the baseline before: ci-smoke: 4 regressions, 0 improvements, 14 no change, 0 inconclusive",
			`<h3 id="baseline">Against the baseline before</h3>`,
			`<tr><td>run</td><td>p99</td><td class="r">45.0ms</td><td class="r">58.5ms</td><td class="r">&#43;30.0%</td>`,
		} {
			if !strings.Contains(page, w) {
				t.Errorf("the page lacks %q", w)
			}
		}
		table := page[strings.Index(page, `id="baseline"`):]
		if n := strings.Count(table[:strings.Index(table, "</table>")], "<tr>"); n != 1+18 {
			t.Errorf("%d rows in the baseline table, want a head and 18 metrics", n)
		}
	})
	t.Run("another scenario", func(t *testing.T) {
		other := *base
		other.Scenario = "launch-day"
		err := CompareWithBaseline(runs, "before", &other, o)
		if !errors.Is(err, reports.ErrNotComparable) || err.Error() != `--baseline before and after: cannot compare: runs of different scenarios, "launch-day" and "ci-smoke"` {
			t.Errorf("%v", err)
		}
	})
}

// TestReplicatedSimulationReport pins the replications' figures in the
// table and Markdown, and in the HTML's tables.
func TestReplicatedSimulationReport(t *testing.T) {
	runs := []*Run{loadFixture(t, "sim-replicated")}
	for _, f := range []struct {
		format Format
		ext    string
	}{{Table, "txt"}, {Markdown, "md"}} {
		t.Run(f.ext, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, f.format, runs); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "report-sim-replicated."+f.ext, buf.Bytes())
		})
	}
	var buf bytes.Buffer
	if err := Write(&buf, HTML, runs); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if !strings.Contains(page, `<h3 id="replications">5 replications</h3>`) ||
		!strings.Contains(page, `<tr><td>p99 latency</td><td class="r">704.82 ms</td><td class="r">12.95 ms</td><td></td></tr>`) {
		t.Errorf("the page lacks the replications' table")
	}
}
