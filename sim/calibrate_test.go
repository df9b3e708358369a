package sim

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/stampede-load/stampede/reports"
)

// stepOf is a measured step whose latencies (µs) are n draws from d.
func stepOf(t *testing.T, journey, name string, n int, d distuv.Rander) reports.StepSummary {
	t.Helper()
	h := hdr.New(1, 3_600_000_000, 3)
	for range n {
		if err := h.RecordValue(int64(math.Max(1, d.Rand()))); err != nil {
			t.Fatal(err)
		}
	}
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	return reports.StepSummary{Journey: journey, Name: name, Requests: int64(n), LatencyHDR: string(b)}
}

func TestCalibrateFitsTheLognormalTheRunWasDrawnFrom(t *testing.T) {
	src := rand.NewPCG(1, 2)
	// µs: median 80 ms, sigma 0.7 for the card processor; 1 ms, 1.2 for the stack.
	card := distuv.LogNormal{Mu: math.Log(80_000), Sigma: 0.7, Src: src}
	own := distuv.LogNormal{Mu: math.Log(1_000), Sigma: 1.2, Src: src}
	m := tinyModel()
	m.Routes = append(m.Routes, Route{Step: "login"})
	measured := &reports.Summary{Steps: []reports.StepSummary{
		stepOf(t, "a", "s", 3000, card), stepOf(t, "b", "s", 2000, card), // one step in two journeys: merged
		stepOf(t, "a", "login", 4000, own),
		stepOf(t, "a", "search", 4000, card), // a fan-out: measures no one station
	}}
	got, cal, err := Calibrate(m, measured, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cal.Fits) != 2 {
		t.Fatalf("fits %+v, want nexi and the stack", cal.Fits)
	}
	for _, c := range []struct {
		fit       Fit
		station   string
		n         int64
		median    float64 // seconds
		sigma, ll float64
	}{
		{cal.Fits[0], "nexi", 5000, 0.080, 0.7, 0},
		{cal.Fits[1], "stack", 4000, 0.001, 1.2, 0},
	} {
		f := c.fit
		if f.Station != c.station || f.N != c.n {
			t.Fatalf("fit %+v, want %s from %d samples", f, c.station, c.n)
		}
		if med := f.Service.Median.Seconds(); math.Abs(med/c.median-1) > 0.04 || math.Abs(f.Sigma/c.sigma-1) > 0.04 {
			t.Errorf("%s: median %v sigma %.3f, want %v and %.2f within 4%%", f.Station, f.Service.Median, f.Sigma, c.median, c.sigma)
		}
		// Drawn from the fitted shape: the KS distance is sampling noise
		// (1.36/√n at 95%), the log-likelihood that of the true density.
		if f.KS > 1.36/math.Sqrt(float64(f.N)) {
			t.Errorf("%s: KS %.4f over the 95%% critical value for %d samples", f.Station, f.KS, f.N)
		}
		want := -(math.Log(c.median) + 0.5*math.Log(2*math.Pi*c.sigma*c.sigma) + 0.5) // E[log pdf] of the lognormal
		if math.Abs(f.LogLik-want) > 0.05 {
			t.Errorf("%s: mean log-likelihood %.3f, want %.3f", f.Station, f.LogLik, want)
		}
	}
	if got.Station("nexi").Service != cal.Fits[0].Service || *got.Stack.Overhead != cal.Fits[1].Service {
		t.Fatalf("the model does not carry the fits: %+v, %+v", got.Station("nexi").Service, got.Stack.Overhead)
	}
	if m.Station("nexi").Service.Distribution != Constant || m.Stack.Overhead != nil {
		t.Fatal("Calibrate changed the stock model")
	}
	if strings.Join(cal.Kept, ",") != "iban,01030,db-read,db-write" {
		t.Fatalf("kept %v", cal.Kept)
	}
	// A shape the run was not drawn from fits worse.
	uniform := distuv.Uniform{Min: 50_000, Max: 60_000, Src: src}
	_, bad, err := Calibrate(m, &reports.Summary{Steps: []reports.StepSummary{stepOf(t, "a", "s", 5000, uniform)}}, nil, 0)
	if err != nil || bad.Fits[0].KS < 0.03 {
		t.Fatalf("a uniform fitted as a lognormal: KS %v, %v", bad.Fits, err)
	}
}

func TestCalibrateRefusesTooFewSamplesNamingTheStation(t *testing.T) {
	d := distuv.LogNormal{Mu: math.Log(80_000), Sigma: 0.7, Src: rand.NewPCG(1, 2)}
	_, _, err := Calibrate(tinyModel(), &reports.Summary{Steps: []reports.StepSummary{stepOf(t, "a", "s", 199, d)}}, nil, 200)
	if !errors.Is(err, ErrInvalidModel) || !strings.Contains(err.Error(), "station nexi: 199 samples of step s, want at least 200") {
		t.Fatalf("%v", err)
	}
	if _, _, err := Calibrate(tinyModel(), &reports.Summary{Steps: []reports.StepSummary{stepOf(t, "a", "s", 200, d)}}, nil, 200); err != nil {
		t.Fatalf("200 samples: %v", err)
	}
}

func TestCalibrateReadsServersByLittlesLaw(t *testing.T) {
	// 4,000 requests in a 20 s step, 450 ms in the station of which 50 ms
	// waiting: 80 in service; at 80% busy that is 100 servers.
	sat := &reports.SaturationReport{StepDurationS: 20, Steps: []reports.StepPoint{
		{Stations: []reports.StationPoint{{Name: "iban", Requests: 400, Utilisation: 0.1, MeanLatencyMs: 400, MeanWaitMs: 0}}},
		{Stations: []reports.StationPoint{{Name: "iban", Requests: 4000, Utilisation: 0.8, MeanLatencyMs: 450, MeanWaitMs: 50}}},
	}}
	m := tinyModel()
	m.Station("iban").Service = Service{Distribution: LogNormal, Median: 20 * time.Millisecond, P99: 100 * time.Millisecond}
	got, cal, err := Calibrate(m, &reports.Summary{}, sat, 0)
	if err != nil {
		t.Fatal(err)
	}
	st := got.Station("iban")
	if st.Servers != 100 || len(cal.Capacities) != 1 || cal.Capacities[0] != (CapacityFit{Station: "iban", Servers: 100, Was: 1, Utilisation: 0.8, Step: 2}) {
		t.Fatalf("servers %d, capacities %+v", st.Servers, cal.Capacities)
	}
	// The station's mean service time, its shape kept.
	if mean := st.Service.MeanTime(); mean < 399*time.Millisecond || mean > 401*time.Millisecond || math.Abs(sigmaOf(st.Service)-sigmaOf(m.Station("iban").Service)) > 1e-3 {
		t.Fatalf("service %v: mean %v, sigma %.3f", st.Service, mean, sigmaOf(st.Service))
	}
}
