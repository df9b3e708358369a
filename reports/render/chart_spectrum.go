package render

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/stampede-load/stampede/reports"
)

// spectrumX places percentile p on the HDR plot's axis: 1/(1-p), so each
// "nine" gets the same width.
func spectrumX(p float64) float64 { return 1 / (1 - p/100) }

// nineTicks labels the spectrum's x axis: 0%, 90%, 99%, 99.9%, ...
type nineTicks struct{}

// Ticks returns a labelled tick per nine.
func (nineTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for e := 0.0; math.Pow(10, e) <= max*1.0001; e++ {
		x := math.Pow(10, e)
		if x < min/1.0001 {
			continue
		}
		label := strconv.FormatFloat(100-100/x, 'f', -1, 64) + "%"
		ts = append(ts, plot.Tick{Value: x, Label: label})
		if x*2 <= max { // 50%, 95%, 99.5%...
			ts = append(ts, plot.Tick{Value: x * 2})
		}
	}
	return ts
}

// spectrumChart: each step's latency at SpectrumPercentiles, the HDR
// percentile spectrum, on log-log axes. The maximum is left out: it has
// no place on a 1/(1-p) axis.
func spectrumChart(runs []*Run) (*Chart, error) {
	p := newPlot("Latency by percentile, per step", "percentile", "latency")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = nineTicks{}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = msTicks{}
	drew := false
	for i, r := range runs {
		s := r.Summary
		journeys := map[string]bool{}
		for _, st := range s.Steps {
			journeys[st.Journey] = true
		}
		for j, st := range s.Steps {
			if len(runs) > 1 {
				break // side by side, each run's whole spectrum; per step it would be a thicket
			}
			xys := spectrumXYs(st.Spectrum)
			if len(xys) == 0 {
				continue
			}
			drew = true
			name := st.Name
			if len(journeys) > 1 {
				name = st.Journey + "/" + st.Name
			}
			dashes := runDashes(i)
			if j >= len(palette) && dashes == nil { // past the palette, colours repeat: dash the second round
				dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			}
			if err := line(p, runLabel(runs, i, name), xys, colour(j), dashes, vg.Points(1.2)); err != nil {
				return nil, err
			}
		}
		if len(s.Steps) != 1 || len(runs) > 1 {
			if xys := spectrumXYs(s.LatencySpectrum); len(xys) > 0 {
				drew = true
			}
			if err := line(p, runLabel(runs, i, "all steps"), spectrumXYs(s.LatencySpectrum), colour(7), runDashes(i), vg.Points(2.2)); err != nil {
				return nil, err
			}
		}
	}
	if !drew {
		return nil, nil
	}
	svg, err := svgOf(p)
	return &Chart{ID: "spectrum", Title: "Latency spectrum", SVG: svg,
		Caption: "The HDR percentile spectrum of each step: how long the slowest 10%, 1%, 0.1%… of its requests waited. Flat then a cliff is a timeout; a steady climb is queueing."}, err
}

func spectrumXYs(sp []reports.PercentileMs) plotter.XYs {
	var xys plotter.XYs
	for _, pt := range sp {
		if pt.Percentile >= 100 || pt.Ms <= 0 {
			continue
		}
		xys = append(xys, plotter.XY{X: spectrumX(pt.Percentile), Y: pt.Ms})
	}
	return xys
}
