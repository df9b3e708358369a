package render

import (
	"bytes"
	"encoding/xml"
	"testing"

	"github.com/stampede-load/stampede/internal/golden"
	"github.com/stampede-load/stampede/reports"
)

// comparedRuns are two summaries of 20 seconds whose latencies are 30%
// apart from the fifth second on, with a step that did not change.
func comparedRuns(t *testing.T) *reports.Comparison {
	t.Helper()
	run := func(slower float64) *reports.Summary {
		s := &reports.Summary{Scenario: "ci-smoke", Source: "replay", Requests: 400, OK: 396, SuccessRatio: 0.99, Goodput: 19.8,
			Latency: reports.LatencyMs{P50: 20 * slower, P90: 30 * slower, P99: 45 * slower, Mean: 22 * slower}}
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
	c, err := reports.Compare(run(1), run(1.3), reports.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
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
