package reports

import (
	"math"
	"strconv"
)

// maxAmplificationWindows bounds RetryAmplification.Windows in a summary.
const maxAmplificationWindows = 60

// RetryAmplification is how much users' retries multiplied the load: over
// the whole run, and window by window, so a report shows retries growing
// with the errors that provoke them.
type RetryAmplification struct {
	Factor     float64               `json:"factor"`      // requests / first attempts over the run
	PeakFactor float64               `json:"peak_factor"` // the highest factor of a window holding at least 10 requests
	PeakS      float64               `json:"peak_s"`      // start of that window, seconds from the run's start
	Windows    []AmplificationWindow `json:"windows"`     // consecutive, at most 60
}

// AmplificationWindow is one interval of RetryAmplification, counted by
// the requests' intended times.
type AmplificationWindow struct {
	T        float64 `json:"t_s"`     // start, seconds from the run's start
	Width    float64 `json:"width_s"` // seconds
	Requests int64   `json:"requests"`
	Retries  int64   `json:"retries"`
	Factor   float64 `json:"factor"` // requests / first attempts; 1 without retries
}

// minPeakRequests keeps a nearly empty window (the last second of a decay)
// from being the amplification peak with one retry out of two requests.
const minPeakRequests = 10

// AnalyzeRetryAmplification groups the series into at most maxWindows
// windows of whole points and returns the amplification of each; nil when
// the series holds no request.
func AnalyzeRetryAmplification(series []SeriesPoint, maxWindows int) *RetryAmplification {
	var requests, retries int64
	for i := range series {
		requests += series[i].Offered
		retries += series[i].Retries
	}
	if requests == 0 {
		return nil
	}
	maxWindows = max(maxWindows, 1)
	per := (len(series) + maxWindows - 1) / maxWindows
	ra := &RetryAmplification{Factor: amplification(requests, retries), Windows: []AmplificationWindow{}}
	for i := 0; i < len(series); i += per {
		w := AmplificationWindow{T: series[i].T}
		for _, p := range series[i:min(i+per, len(series))] {
			w.Width += p.Width
			w.Requests += p.Offered
			w.Retries += p.Retries
		}
		w.Factor = amplification(w.Requests, w.Retries)
		ra.Windows = append(ra.Windows, w)
	}
	for pass := 0; pass < 2 && ra.PeakFactor == 0; pass++ {
		for _, w := range ra.Windows {
			if (pass == 1 || w.Requests >= minPeakRequests) && w.Factor > ra.PeakFactor {
				ra.PeakFactor, ra.PeakS = w.Factor, w.T
			}
		}
	}
	return ra
}

// amplification is requests per first attempt, 1 when there were no
// requests; a window of retries alone counts its requests as the factor.
func amplification(requests, retries int64) float64 {
	if requests == 0 {
		return 1
	}
	return round(float64(requests)/float64(max(requests-retries, 1)), 1e4)
}

// Metastability is the answer to the question a retry storm raises: after
// the offered load went past the saturation point and came back under it,
// did goodput recover? A target that stays failing once the load that broke
// it has passed is metastable: its own retries (or its clients') keep it
// down.
type Metastability struct {
	SaturationRate float64 `json:"saturation_rate"` // first-attempt requests/s the target is taken to hold
	Estimated      bool    `json:"estimated"`       // SaturationRate was estimated from this run's ramp, not given
	PeakS          float64 `json:"peak_s"`          // when the first-attempt rate peaked, seconds from the start
	PeakRate       float64 `json:"peak_rate"`       // first-attempt requests/s at the peak
	BelowS         float64 `json:"below_s"`         // when the first-attempt rate fell back under SaturationRate
	Recovered      bool    `json:"recovered"`       // goodput followed the offered load again before the run ended
	RecoveryS      float64 `json:"recovery_s"`      // from BelowS to the recovery, or to the end of the run without one
	RetryShare     float64 `json:"retry_share"`     // retries among the requests due during RecoveryS
	Verdict        string  `json:"verdict"`         // one line for a report
}

// Thresholds of the metastability check.
const (
	// healthyGoodput is the share of a second's requests that must succeed
	// for goodput to count as following the offered load.
	healthyGoodput = 0.95
	// recoveredSeconds is how many healthy points in a row make a
	// recovery, so one lucky second between failing ones does not.
	recoveredSeconds = 3
	// stormRetryShare is the share of retries past which a failure to
	// recover is called a retry storm.
	stormRetryShare = 0.05
)

// AnalyzeMetastability checks a run's series for a failure to recover.
// A point (a second, or wider in a long run) is healthy when at least 95%
// of the requests due in it succeeded and its latency at the SLO's quantile
// stayed within the SLO. First attempts are requests minus retries: the
// load the profile offered, without the load failures provoked.
//
// saturationRate is the first-attempt rate per second the target holds,
// from a saturation search; 0 estimates it from the run as the highest
// first-attempt rate of a healthy point before the first two unhealthy
// points in a row on the way up to the peak. Once the first-attempt rate
// has fallen back under it after the peak, the target has recovered at the
// first of three healthy points in a row (or of the last two, at the end of
// the run).
//
// It returns nil when the question does not arise: no saturation before
// the peak, no peak above the saturation rate, or a load that never came
// back under it.
func AnalyzeMetastability(series []SeriesPoint, slo SLO, saturationRate float64) *Metastability {
	var pts []SeriesPoint // points with requests due
	for _, p := range series {
		if p.Offered > 0 && p.Width > 0 {
			pts = append(pts, p)
		}
	}
	if len(pts) < 2*recoveredSeconds {
		return nil
	}
	first := func(p *SeriesPoint) float64 { return float64(p.Offered-p.Retries) / p.Width }
	sloMs := float64(slo.Latency) / 1e6
	healthy := func(p *SeriesPoint) bool {
		return float64(p.OK) >= healthyGoodput*float64(p.Offered) && (sloMs <= 0 || p.Latency.At(slo.Quantile) <= sloMs)
	}

	peak := 0
	for i := range pts {
		if first(&pts[i]) > first(&pts[peak]) {
			peak = i
		}
	}
	m := &Metastability{PeakS: pts[peak].T, PeakRate: round(first(&pts[peak]), 1e3), SaturationRate: saturationRate}
	if saturationRate <= 0 {
		m.Estimated = true
		onset := -1
		for i := 0; i+1 <= peak; i++ {
			if !healthy(&pts[i]) && !healthy(&pts[i+1]) {
				onset = i
				break
			}
		}
		if onset < 0 {
			return nil // never saturated on the way up
		}
		for i := range onset {
			if healthy(&pts[i]) {
				m.SaturationRate = math.Max(m.SaturationRate, first(&pts[i]))
			}
		}
		if m.SaturationRate == 0 {
			return nil // failing from the start: nothing to come back under
		}
	}
	m.SaturationRate = round(m.SaturationRate, 1e3)
	if first(&pts[peak]) <= m.SaturationRate {
		return nil
	}
	below := -1
	for i := peak + 1; i < len(pts); i++ {
		if first(&pts[i]) < m.SaturationRate {
			below = i
			break
		}
	}
	if below < 0 {
		return nil
	}
	m.BelowS = pts[below].T

	recovered, run := -1, 0
	for i := below; i < len(pts) && recovered < 0; i++ {
		if !healthy(&pts[i]) {
			run = 0
			continue
		}
		run++
		if run == recoveredSeconds || (i == len(pts)-1 && run >= 2) {
			recovered = i - run + 1
		}
	}
	end := len(pts)
	if recovered >= 0 {
		m.Recovered = true
		m.RecoveryS = round(pts[recovered].T-m.BelowS, 1e3)
		end = recovered
	} else {
		last := &pts[len(pts)-1]
		m.RecoveryS = round(last.T+last.Width-m.BelowS, 1e3)
	}
	var requests, retries int64
	for _, p := range pts[below:end] {
		requests += p.Offered
		retries += p.Retries
	}
	m.RetryShare = ratio(retries, requests)
	m.Verdict = m.verdict()
	return m
}

func (m *Metastability) verdict() string {
	under := "after the offered load fell under " + FormatRate(m.SaturationRate)
	secs := strconv.FormatFloat(m.RecoveryS, 'f', 0, 64) + " s"
	switch {
	case m.Recovered && m.RecoveryS == 0:
		return "recovered at once " + under
	case m.Recovered:
		return "recovered " + secs + " " + under
	}
	v := "did not recover for " + secs + " " + under + " (retries " + FormatPercent(m.RetryShare) + " of requests meanwhile)"
	if m.RetryShare >= stormRetryShare {
		return v + ": the signature of a retry storm"
	}
	return v
}

// At returns l's value at quantile q: the nearest of the kept
// quantiles at or below it (p50, p90, p95, p99, p999).
func (l LatencyMs) At(q float64) float64 {
	switch {
	case q >= 0.999:
		return l.P999
	case q >= 0.99:
		return l.P99
	case q >= 0.95:
		return l.P95
	case q >= 0.90:
		return l.P90
	}
	return l.P50
}

// QuantileName names quantile q as a latency gate does: "p99".
func QuantileName(q float64) string {
	switch {
	case q >= 0.999:
		return "p999"
	case q >= 0.99:
		return "p99"
	case q >= 0.95:
		return "p95"
	case q >= 0.90:
		return "p90"
	}
	return "p50"
}
