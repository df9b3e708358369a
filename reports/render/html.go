package render

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// Charts draws every chart the runs have data for, in report order:
// throughput, latency, error modes (one per run when several), in
// flight, retry amplification, the latency spectrum, and for a
// saturation search the load–latency curve and the USL fit. Several runs
// are overlaid, the first in solid lines, the next dashed.
func Charts(runs []*Run) ([]*Chart, error) {
	var out []*Chart
	add := func(c *Chart, err error) error {
		if err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		if c != nil {
			out = append(out, c)
		}
		return nil
	}
	if err := add(throughputChart(runs)); err != nil {
		return nil, err
	}
	if err := add(latencyChart(runs)); err != nil {
		return nil, err
	}
	for i, r := range runs {
		id := "errors"
		if len(runs) > 1 {
			id = fmt.Sprintf("errors-%d", i+1)
		}
		if err := add(errorsChart(r, id)); err != nil {
			return nil, err
		}
	}
	for _, f := range []func([]*Run) (*Chart, error){inFlightChart, retryChart, spectrumChart} {
		if err := add(f(runs)); err != nil {
			return nil, err
		}
	}
	for i, r := range runs {
		suffix := ""
		if len(runs) > 1 {
			suffix = fmt.Sprintf("-%d", i+1)
		}
		for _, f := range []func(*Run) (*Chart, error){loadLatencyChart, uslChart} {
			c, err := f(r)
			if c != nil {
				c.ID += suffix
			}
			if err := add(c, err); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// htmlRun is one run's part of the page.
type htmlRun struct {
	Name       string
	Meta       string
	Verdict    Verdict
	Gates      grid
	Steps      grid
	Errors     grid
	Search     *grid
	SearchNote string

	Replications     *grid // a replicated simulation's figures, nil for none
	ReplicationsN    int
	Baseline         *grid // the comparison with the baseline, nil for none
	BaselineName     string
	BaselineHeadline string
}

type htmlPage struct {
	Title     string
	Generated string
	Runs      []htmlRun
	Key       grid
	Charts    []htmlChart
}

type htmlChart struct {
	ID, Title, Caption string
	SVG                template.HTML
}

// WriteHTML writes the report as one self-contained HTML page: the
// verdict, the charts as inline SVG, and the tables under them. It needs
// no network, no script and no file beside it.
func WriteHTML(w io.Writer, runs []*Run) error {
	charts, err := Charts(runs)
	if err != nil {
		return err
	}
	page := htmlPage{Key: keyGrid(runs)}
	var names []string
	for _, r := range runs {
		s := r.Summary
		name := s.Scenario
		if name == "" {
			name = r.Name
		}
		names = append(names, name)
		hr := htmlRun{Name: r.Name, Meta: runMeta(r), Verdict: NewVerdict(r), Gates: gateGrid(s, false), Steps: stepGrid(s), Errors: errorGrid(s, 0)}
		if r.Saturation != nil {
			g := searchGrid(r.Saturation)
			hr.Search = &g
			hr.SearchNote = r.Saturation.Stopped
		}
		if reps := s.Replications; reps != nil && len(reps.Figures) > 0 {
			g := replicationGrid(reps)
			hr.Replications, hr.ReplicationsN = &g, reps.N
		}
		if c := r.Baseline; c != nil {
			g := compareGrid(c)
			hr.Baseline, hr.BaselineName, hr.BaselineHeadline = &g, r.BaselineName, compareHeadline(c)
		}
		page.Runs = append(page.Runs, hr)
	}
	page.Title = "stampede · " + strings.Join(names, " vs ")
	for _, c := range charts {
		page.Charts = append(page.Charts, htmlChart{ID: sanitize(c.ID), Title: c.Title, Caption: c.Caption, SVG: template.HTML(c.SVG)}) // gonum/plot escapes the text it draws: TestHTMLEscapesRunText
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, page); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

// runMeta is the line under a run's name: source, start, span, scale.
func runMeta(r *Run) string {
	s := r.Summary
	parts := []string{orDash(s.Source)}
	if !s.StartedAt.IsZero() {
		parts = append(parts, "started "+s.StartedAt.UTC().Format(time.RFC3339))
	}
	parts = append(parts, reports.FormatDecimal(s.DurationS, 1)+" s offered + "+reports.FormatDecimal(s.WaitS, 1)+" s wait")
	if s.TimeScale > 0 || s.RateScale > 0 {
		sc := scaleOf(s)
		parts = append(parts, fmt.Sprintf("scaled: time ÷%g, rate ×%g of the real day", sc.time, sc.rate))
	}
	if s.SLO != "" {
		parts = append(parts, "SLO "+s.SLO)
	}
	if s.Interrupted {
		parts = append(parts, "INTERRUPTED")
	}
	return strings.Join(parts, " · ")
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"right": func(g grid, i int) bool { return i < len(g.Right) && g.Right[i] },
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif; color: #1d2330; margin: 0; background: #f6f7f9; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 8px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
.meta { color: #5b6473; margin: 0 0 12px; font-size: 13px; }
.verdict { background: #fff; border-left: 6px solid #2c7a3f; padding: 12px 18px; border-radius: 4px; box-shadow: 0 1px 2px #0001; }
.verdict.fail { border-left-color: #c62828; }
.verdict p { margin: 8px 0; }
.badge { display: inline-block; font-weight: 600; padding: 2px 10px; border-radius: 10px; color: #fff; background: #2c7a3f; font-size: 13px; }
.fail .badge { background: #c62828; }
.charts { display: grid; grid-template-columns: 1fr; gap: 18px; }
figure.chart { margin: 0; background: #fff; padding: 10px 12px; border-radius: 4px; box-shadow: 0 1px 2px #0001; }
figure.chart svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 13px; color: #5b6473; margin-top: 4px; }
figcaption b { color: #1d2330; }
table { border-collapse: collapse; background: #fff; font-size: 13px; margin: 6px 0 14px; box-shadow: 0 1px 2px #0001; }
th, td { padding: 4px 9px; border-bottom: 1px solid #e3e6ea; text-align: left; vertical-align: top; }
th { background: #eef0f3; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.wide { overflow-x: auto; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{range .Runs}}
<section class="verdict{{if not .Verdict.Pass}} fail{{end}}">
{{if gt (len $.Runs) 1}}<h3>{{.Name}}</h3>{{end}}
<p class="meta">{{.Meta}}</p>
{{if gt .Verdict.Gates 0}}<span class="badge">{{if .Verdict.Pass}}PASS · {{.Verdict.Gates}} gates{{else}}FAIL · {{.Verdict.Failed}} of {{.Verdict.Gates}} gates{{end}}</span>{{end}}
{{range .Verdict.Paragraphs}}<p>{{.}}</p>
{{end}}{{if .Baseline}}<p>Against the baseline {{.BaselineName}}: {{.BaselineHeadline}}.</p>
{{end}}</section>
{{end}}
<h2>Key figures</h2>
<div class="wide">{{template "grid" .Key}}</div>
<h2>Charts</h2>
<div class="charts">
{{range .Charts}}<figure class="chart" id="chart-{{.ID}}" data-chart="{{.ID}}">
{{.SVG}}
<figcaption><b>{{.Title}}.</b> {{.Caption}}</figcaption>
</figure>
{{end}}</div>
{{range .Runs}}
<h2>Tables{{if gt (len $.Runs) 1}} · {{.Name}}{{end}}</h2>
{{if .Gates.Rows}}<h3>Gates</h3>{{template "grid" .Gates}}{{end}}
{{if .Replications}}<h3 id="replications">{{.ReplicationsN}} replications</h3>{{template "grid" .Replications}}{{end}}
{{if .Baseline}}<h3 id="baseline">Against the baseline {{.BaselineName}}</h3><div class="wide">{{template "grid" .Baseline}}</div>{{end}}
{{if .Search}}<h3>Saturation search</h3><div class="wide">{{template "grid" .Search}}</div>{{if .SearchNote}}<p class="meta">stopped: {{.SearchNote}}</p>{{end}}{{end}}
<h3>Steps</h3>
<div class="wide">{{template "grid" .Steps}}</div>
{{if .Errors.Rows}}<h3>Error modes</h3><div class="wide">{{template "grid" .Errors}}</div>{{end}}
{{end}}
<p class="meta">Written by stampede. Latency counts from each request's intended time; rates are per second of the run{{if .Generated}} · {{.Generated}}{{end}}.</p>
</main>
</body>
</html>
{{define "grid"}}<table>
<thead><tr>{{range $i, $h := .Head}}<th{{if right $ $i}} class="r"{{end}}>{{$h}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr>{{range $i, $c := .}}<td{{if right $ $i}} class="r"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</tbody>
</table>{{end}}
`))
