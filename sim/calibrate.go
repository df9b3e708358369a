package sim

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/stampede-load/stampede/reports"
)

// DefaultMinSamples is the fewest requests of a step a service-time fit
// is made from.
const DefaultMinSamples = 200

// Fit is one service-time distribution fitted from a measured run.
type Fit struct {
	Station string // the station, or "stack" for the stack's own time
	From    string // what it was fitted from: "step add-card", "station metrics"
	N       int64  // samples
	Service Service
	// Mu and Sigma are the lognormal's parameters (of ln seconds) by
	// maximum likelihood; KS is the Kolmogorov–Smirnov distance between the
	// measured and the fitted distribution; LogLik the mean log-likelihood
	// of a sample (x in seconds). For a fit from station metrics (a mean
	// only) they are 0 and Sigma is the stock model's.
	Mu, Sigma, KS, LogLik float64
}

// CapacityFit is a station's servers from a saturation search by Little's
// law: the mean number of requests in service (throughput × mean service
// time) over the share of the servers busy.
type CapacityFit struct {
	Station     string
	Servers     int
	Was         int     // the stock model's
	Utilisation float64 // of the step it was read from
	Step        int     // which step of the search, from 1
}

// Calibration is what Calibrate fitted, and how well.
type Calibration struct {
	Fits       []Fit
	Capacities []CapacityFit
	Kept       []string     // stations the run did not measure: kept as in the stock model
	USL        *reports.USL // the saturation search's USL fit, when there is one
}

// Calibrate fits base's service times to a measured run: a lognormal by
// maximum likelihood from the latency histogram of each step whose route
// calls exactly one downstream (that station; the stack's own time from
// the steps that call none), or, where the run read the bank mocks'
// metrics during a saturation search (sat), the station's mean service
// time from them; and each station's servers from sat by Little's law. It
// returns a copy of base with what the run measured replaced. A step that
// would calibrate a station but has fewer than minSamples requests makes
// it refuse the run, naming the station (ErrInvalidModel).
func Calibrate(base *Model, measured *reports.Summary, sat *reports.SaturationReport, minSamples int) (*Model, *Calibration, error) {
	if minSamples < 2 {
		minSamples = DefaultMinSamples
	}
	m := *base
	m.Stations = slices.Clone(base.Stations)
	m.File = ""
	cal := &Calibration{}
	fitted := map[string]bool{}

	// Steps by the station their latency measures, their histograms merged
	// over the journeys that share the step.
	type source struct {
		steps []string
		h     *hdr.Histogram
	}
	byStation := map[string]*source{}
	var order []string
	for _, st := range measured.Steps {
		r := m.Route(st.Name)
		if r == nil {
			continue
		}
		station, ok := m.measures(r)
		if !ok {
			continue
		}
		h, err := reports.DecodeLatencyHDR(st.LatencyHDR, "steps["+st.Journey+"/"+st.Name+"].latency_hdr")
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrInvalidModel, err)
		}
		src := byStation[station]
		if src == nil {
			src = &source{h: h}
			byStation[station] = src
			order = append(order, station)
		} else {
			src.h.Merge(h)
		}
		if !slices.Contains(src.steps, st.Name) {
			src.steps = append(src.steps, st.Name)
		}
	}
	for _, station := range order {
		src := byStation[station]
		n := src.h.TotalCount()
		if n == 0 {
			continue
		}
		if n < int64(minSamples) {
			return nil, nil, fmt.Errorf("%w: calibrate: station %s: %d samples of step %s, want at least %d (a longer or busier run)",
				ErrInvalidModel, station, n, strings.Join(src.steps, ", "), minSamples)
		}
		f := fitLogNormal(src.h)
		f.Station, f.From = station, "step "+strings.Join(src.steps, ", ")
		cal.Fits = append(cal.Fits, f)
		fitted[station] = true
		if station == stackStation {
			ov := f.Service
			m.Stack.Overhead = &ov
		} else {
			m.Station(station).Service = f.Service
		}
	}

	if sat != nil {
		cal.USL = satUSL(sat)
		busiest := map[string]int{} // station → index of the step it was busiest in
		for i, step := range sat.Steps {
			for _, p := range step.Stations {
				if j, ok := busiest[p.Name]; !ok || p.Utilisation > stationPoint(sat.Steps[j].Stations, p.Name).Utilisation {
					busiest[p.Name] = i
				}
			}
		}
		for _, spec := range m.Stations {
			i, ok := busiest[spec.Name]
			if !ok {
				continue
			}
			p := stationPoint(sat.Steps[i].Stations, spec.Name)
			service := (p.MeanLatencyMs - p.MeanWaitMs) / 1000 // seconds
			if p.Requests < int64(minSamples) || service <= 0 || p.Utilisation <= 0 || sat.StepDurationS <= 0 {
				continue
			}
			st := m.Station(spec.Name)
			if !fitted[spec.Name] {
				st.Service = withMean(st.Service, time.Duration(service*float64(time.Second)))
				cal.Fits = append(cal.Fits, Fit{Station: spec.Name, From: "station metrics", N: p.Requests, Service: st.Service, Sigma: sigmaOf(st.Service)})
				fitted[spec.Name] = true
			}
			inService := float64(p.Requests) / sat.StepDurationS * service
			servers := max(1, int(math.Round(inService/p.Utilisation)))
			cal.Capacities = append(cal.Capacities, CapacityFit{Station: spec.Name, Servers: servers, Was: st.Servers, Utilisation: p.Utilisation, Step: i + 1})
			st.Servers = servers
		}
	}
	for _, s := range m.Stations {
		if !fitted[s.Name] {
			cal.Kept = append(cal.Kept, s.Name)
		}
	}
	if err := m.Validate(); err != nil {
		return nil, nil, err
	}
	return &m, cal, nil
}

// stackStation names the stack's own time in fits.
const stackStation = "stack"

// measures says which station a step's latency measures: the one
// downstream its route calls (its database time included), or the stack
// itself for a route that does nothing else.
func (m *Model) measures(r *Route) (string, bool) {
	station := stackStation
	for _, op := range r.Ops {
		switch op.Kind {
		case OpRead, OpWrite:
		case OpCall:
			if station != stackStation {
				return "", false
			}
			station = m.Stack.CardProcessor
			if len(op.Stations) == 1 {
				station = op.Stations[0]
			} else if len(op.Stations) > 1 {
				return "", false
			}
		default: // the IBAN check waits for a bank too; fan-outs for several
			return "", false
		}
	}
	if station == stackStation && len(r.Ops) > 0 {
		return "", false // the stack's time and the database's, not told apart
	}
	return station, true
}

func stationPoint(ps []reports.StationPoint, name string) reports.StationPoint {
	for _, p := range ps {
		if p.Name == name {
			return p
		}
	}
	return reports.StationPoint{}
}

func satUSL(sat *reports.SaturationReport) *reports.USL {
	if sat.Saturation == nil {
		return nil
	}
	return sat.Saturation.USL
}

// fitLogNormal fits a lognormal to a latency histogram (µs) by maximum
// likelihood, each bucket at its midpoint, and measures the fit.
func fitLogNormal(h *hdr.Histogram) Fit {
	bars := h.Distribution()
	var n, sum float64
	for _, b := range bars {
		if b.Count > 0 {
			n += float64(b.Count)
			sum += float64(b.Count) * math.Log(midSeconds(b))
		}
	}
	mu := sum / n
	var ss float64
	for _, b := range bars {
		if b.Count > 0 {
			d := math.Log(midSeconds(b)) - mu
			ss += float64(b.Count) * d * d
		}
	}
	sigma := math.Max(math.Sqrt(ss/n), 1e-3) // one bucket: the histogram's own resolution
	var ks, cum, ll float64
	for _, b := range bars {
		if b.Count == 0 {
			continue
		}
		x := midSeconds(b)
		z := (math.Log(x) - mu) / sigma
		ll += float64(b.Count) * (-math.Log(x*sigma*math.Sqrt(2*math.Pi)) - z*z/2)
		// The empirical CDF jumps across the bucket: compare both sides.
		lo := cum / n
		cum += float64(b.Count)
		up := (float64(b.To) + 1) / 1e6
		ks = math.Max(ks, math.Abs(cum/n-normalCDF((math.Log(up)-mu)/sigma)))
		from := math.Max(float64(b.From), 0.5) / 1e6
		ks = math.Max(ks, math.Abs(lo-normalCDF((math.Log(from)-mu)/sigma)))
	}
	median := time.Duration(math.Exp(mu) * float64(time.Second))
	p99 := time.Duration(math.Exp(mu+z99*sigma) * float64(time.Second))
	if p99 <= median {
		p99 = median + 1
	}
	return Fit{N: int64(n), Mu: mu, Sigma: sigma, KS: ks, LogLik: ll / n,
		Service: Service{Distribution: LogNormal, Median: median, P99: p99}}
}

func midSeconds(b hdr.Bar) float64 {
	return math.Max((float64(b.From)+float64(b.To)+1)/2, 0.5) / 1e6
}

func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// sigmaOf is the shape of a lognormal service, 0 for another.
func sigmaOf(s Service) float64 {
	if s.Distribution != LogNormal {
		return 0
	}
	_, sigma := s.lognormal()
	return sigma
}

// withMean returns s moved to the given mean, its shape kept: a lognormal
// keeps its sigma, an exponential is its mean, others become that
// constant.
func withMean(s Service, mean time.Duration) Service {
	switch s.Distribution {
	case LogNormal:
		sigma := sigmaOf(s)
		median := float64(mean) / math.Exp(sigma*sigma/2)
		return Service{Distribution: LogNormal, Median: time.Duration(median), P99: time.Duration(median * math.Exp(z99*sigma))}
	case Exponential:
		return Service{Distribution: Exponential, Mean: mean}
	}
	return Service{Distribution: Constant, Value: mean}
}

// Write prints how well each fit holds and the capacities read.
func (c *Calibration) Write(w io.Writer) error {
	var b strings.Builder
	b.WriteString("service times (lognormal by maximum likelihood; KS: largest gap between the measured and fitted CDFs)\n")
	fmt.Fprintf(&b, "  %-10s %-28s %8s %10s %10s %7s %7s %9s\n", "station", "from", "samples", "median", "p99", "sigma", "KS", "loglik/n")
	for _, f := range c.Fits {
		ks, ll := fmt.Sprintf("%.3f", f.KS), fmt.Sprintf("%.2f", f.LogLik)
		if f.From == "station metrics" {
			ks, ll = "-", "-"
		}
		fmt.Fprintf(&b, "  %-10s %-28s %8d %10s %10s %7.3f %7s %9s\n", f.Station, f.From, f.N,
			f.Service.Median.Round(10*time.Microsecond), f.Service.P99.Round(10*time.Microsecond), f.Sigma, ks, ll)
	}
	if len(c.Capacities) > 0 {
		b.WriteString("servers (Little's law at the step each station was busiest)\n")
		for _, k := range c.Capacities {
			fmt.Fprintf(&b, "  %-10s %4d (stock %d), %s busy in step %d\n", k.Station, k.Servers, k.Was, reports.FormatPercent(k.Utilisation), k.Step)
		}
	}
	if u := c.USL; u != nil {
		fmt.Fprintf(&b, "USL of the saturation search: peak %.1f req/s (sigma %.4f, kappa %.6f, R² %.3f); not a model parameter\n", u.PeakRate, u.Sigma, u.Kappa, u.R2)
	}
	if len(c.Kept) > 0 {
		fmt.Fprintf(&b, "not measured, kept from the stock model: %s\n", strings.Join(c.Kept, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
