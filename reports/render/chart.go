package render

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/stampede-load/stampede/reports"
)

// Chart is one figure of the HTML report: an SVG drawn by gonum/plot.
type Chart struct {
	ID      string // stable, for anchors and the browser test: "throughput", "latency", ...
	Title   string
	Caption string // one sentence under the chart: what to read in it
	SVG     []byte // an <svg> element, without the XML prolog
}

// chartWidth and chartHeight are a chart's size; the page scales it down
// on narrow screens.
const (
	chartWidth  = 24 * vg.Centimeter
	chartHeight = 10 * vg.Centimeter
)

// palette holds the series colours (Tableau 10, readable on white and by
// most colour-blind readers).
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255},
	{140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255},
}

func colour(i int) color.RGBA { return palette[i%len(palette)] }

// fade is c with alpha a, for filled areas.
func fade(c color.RGBA, a uint8) color.NRGBA { return color.NRGBA{R: c.R, G: c.G, B: c.B, A: a} }

// runDashes tells overlaid runs apart: the first solid, the next dashed.
func runDashes(run int) []vg.Length {
	switch run {
	case 0:
		return nil
	case 1:
		return []vg.Length{vg.Points(5), vg.Points(3)}
	}
	return []vg.Length{vg.Points(1.5), vg.Points(2)}
}

// sans is the charts' typeface; the SVG names it with fallbacks so a
// browser without Liberation fonts still draws sans-serif text.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// figure is a plot and the names in its legend, which is drawn in a
// column of its own to the right so it never hides the data.
type figure struct {
	*plot.Plot
	names []string
}

// newPlot returns a plot with the report's look.
func newPlot(title, x, y string) *figure {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 11)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 9)
		a.Tick.Label.Font = font.From(sans, 8)
		a.Tick.Marker = tidyTicks{plot.DefaultTicks{}}
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font = font.From(sans, 8)
	p.Legend.ThumbnailWidth = vg.Points(14)
	p.Add(plotter.NewGrid())
	return &figure{Plot: p}
}

// legend adds an entry to the legend.
func (f *figure) legend(name string, thumbs ...plot.Thumbnailer) {
	f.Legend.Add(name, thumbs...)
	f.names = append(f.names, name)
}

// line adds a line through xys, with legend name (none when empty).
func line(p *figure, name string, xys plotter.XYs, c color.Color, dashes []vg.Length, width vg.Length) error {
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	l.Color = c
	l.Dashes = dashes
	l.Width = width
	p.Add(l)
	if name != "" {
		p.legend(name, l)
	}
	return nil
}

// tidyTicks relabels another ticker's major ticks with as few decimals as
// tell them apart, and thousands separators: 1.05 and 1.1, not 1.1 twice;
// 500, not 500.00.
type tidyTicks struct{ plot.Ticker }

// Ticks returns the ticks with new labels.
func (t tidyTicks) Ticks(min, max float64) []plot.Tick {
	ts := t.Ticker.Ticks(min, max)
	for prec := 0; prec <= 6; prec++ {
		seen := map[string]bool{}
		clash := false
		for i := range ts {
			if ts[i].Label == "" {
				continue
			}
			l := reports.FormatDecimal(ts[i].Value, prec)
			if seen[l] || math.Abs(ts[i].Value-mustFloat(l)) > 1e-9*math.Max(1, math.Abs(ts[i].Value)) {
				clash = true
				break
			}
			seen[l] = true
		}
		if !clash || prec == 6 {
			for i := range ts {
				if ts[i].Label != "" {
					ts[i].Label = reports.FormatDecimal(ts[i].Value, prec)
				}
			}
			break
		}
	}
	return ts
}

func mustFloat(s string) float64 {
	v, _ := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	return v
}

// vline marks x values across the whole height of a plot: onsets, the
// saturation point, the knee. It has no data range of its own.
type vline struct {
	xs     []float64
	labels []string
	style  draw.LineStyle
	text   draw.TextStyle
}

// Plot draws the marks.
func (v *vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	lastLabel := vg.Length(math.Inf(-1))
	for i, x := range v.xs {
		if x < p.X.Min || x > p.X.Max {
			continue
		}
		px := trX(x)
		c.StrokeLine2(v.style, px, c.Min.Y, px, c.Max.Y)
		// Labels closer than a few lines of text would crowd each other:
		// the first of a cluster speaks for it.
		if i < len(v.labels) && v.labels[i] != "" && px-lastLabel >= 4*v.text.Height(v.labels[i]) {
			lastLabel = px
			t := v.text
			t.Rotation = math.Pi / 2
			t.XAlign, t.YAlign = draw.XRight, draw.YTop
			c.FillText(t, vg.Point{X: px - vg.Points(1), Y: c.Max.Y - vg.Points(2)}, v.labels[i])
		}
	}
}

func newVline(c color.Color, dashes []vg.Length) *vline {
	v := &vline{style: draw.LineStyle{Color: c, Width: vg.Points(1), Dashes: dashes}}
	v.text = draw.TextStyle{Color: c, Font: font.From(sans, 7), Handler: plot.DefaultTextHandler}
	return v
}

// maxLegendShare bounds the legend column, as a share of the chart's width.
const maxLegendShare = 0.38

// svgOf draws f as an SVG element: the plot, and its legend in a column
// to the right.
func svgOf(f *figure) ([]byte, error) {
	c := vgsvg.New(chartWidth, chartHeight)
	dc := draw.New(c)
	leg := f.Legend
	f.Legend = plot.NewLegend()
	var legWidth vg.Length
	for _, n := range f.names {
		legWidth = max(legWidth, leg.TextStyle.Width(n))
	}
	if legWidth > 0 {
		legWidth += leg.ThumbnailWidth + vg.Points(14)
		legWidth = min(legWidth, chartWidth*maxLegendShare)
		leg.Top, leg.Left = true, true
		leg.Padding = vg.Points(1.5)
		leg.YOffs = -f.Title.TextStyle.Height(f.Title.Text) - f.Title.Padding - vg.Points(4)
		leg.Draw(draw.Crop(dc, chartWidth-legWidth, 0, 0, 0))
	}
	f.Draw(draw.Crop(dc, 0, -legWidth, 0, 0))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("draw %q: %w", f.Title.Text, err)
	}
	b := buf.Bytes()
	if i := bytes.Index(b, []byte("<svg")); i >= 0 {
		b = b[i:]
	}
	b = bytes.ReplaceAll(b, []byte("font-family:Liberation Sans;"), []byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
	return b, nil
}

// logFloor keeps values on a log axis: non-positive ones are left out.
func logFloor(xys plotter.XYs) plotter.XYs {
	out := xys[:0:0]
	for _, p := range xys {
		if p.Y > 0 && !math.IsInf(p.Y, 0) && !math.IsNaN(p.Y) {
			out = append(out, p)
		}
	}
	return out
}

// msTicks labels a log latency axis in human units: 1ms, 10ms, 1s.
type msTicks struct{}

// Ticks returns a tick per power of ten, labelled, and minor ticks at 2
// and 5 times each.
func (msTicks) Ticks(min, max float64) []plot.Tick {
	if min <= 0 {
		min = 1e-3
	}
	var ts []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		base := math.Pow(10, e)
		for _, m := range []float64{1, 2, 5} {
			v := base * m
			if v < min || v > max {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || max/min < 100 {
				t.Label = reports.FormatMillis(v)
			}
			ts = append(ts, t)
		}
	}
	if len(ts) < 2 {
		return plot.LogTicks{Prec: -1}.Ticks(min, max)
	}
	return ts
}

// runLabel prefixes a series name with the run's when runs are overlaid.
func runLabel(runs []*Run, i int, name string) string {
	if len(runs) < 2 {
		return name
	}
	return name + " · " + runs[i].Name
}

// chartIDs orders the charts of a report; a run may lack some.
var chartIDs = []string{"throughput", "latency", "errors", "inflight", "retries", "spectrum", "load-latency", "usl"}

// sanitize keeps a chart ID safe in an HTML attribute.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(s))
}
