package scenarios

import (
	"math"
	"time"
)

// Scale compresses the scenario's behaviour in time and multiplies its rates,
// in place. timeScale N divides every duration of behaviour by N: profile
// stages, sine periods, decay half-lives, think times, poll intervals, retry
// backoffs and outage windows, so a 3-hour day plays in 3 minutes at N = 60
// with the same rates (and so N times fewer arrivals). rateScale F multiplies
// every rate of the profile. Timeouts are not scaled: they model the
// system, not the users. A factor that is not a positive finite number is
// taken as 1. Durations that were positive stay at least 1ns.
func (s *Scenario) Scale(timeScale, rateScale float64) {
	timeScale, rateScale = factor(timeScale), factor(rateScale)
	if s.Profile != nil {
		s.Profile.scale(timeScale, rateScale)
	}
	if s.Login != nil {
		s.Login.scale(timeScale)
	}
	for _, j := range s.Journeys {
		for _, st := range j.Steps {
			st.scale(timeScale)
		}
	}
	for i := range s.Outages {
		o := &s.Outages[i]
		if o.Start > 0 {
			o.Start = time.Duration(float64(o.Start) / timeScale)
		}
		o.Duration = shrink(o.Duration, timeScale)
	}
}

// MaxTimeScale is the largest time compression Scale is asked for: a day
// in under a tenth of a second.
const MaxTimeScale = 1e6

// CheckScale says whether Scale(timeScale, rateScale) makes sense for this
// scenario: both factors positive and finite, the time scale at most
// MaxTimeScale, and the scaled peak rate at most MaxRate. Its error wraps
// ErrInvalid and names the flag (--time-scale or --rate-scale).
func (s *Scenario) CheckScale(timeScale, rateScale float64) error {
	for _, f := range []struct {
		flag string
		v    float64
	}{{"--time-scale", timeScale}, {"--rate-scale", rateScale}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			return invalidf("%s %v: want a positive finite number", f.flag, f.v)
		}
	}
	if timeScale > MaxTimeScale {
		return invalidf("--time-scale %v is above the maximum of %v", timeScale, MaxTimeScale)
	}
	if s.Profile != nil {
		if peak := float64(s.Profile.Peak()) * rateScale; !(peak <= float64(MaxRate)) {
			return invalidf("--rate-scale %v takes the peak rate to %.3g/s, above the maximum of %s", rateScale, peak, MaxRate)
		}
	}
	return nil
}

// scale divides the profile's durations by t and multiplies its rates by r.
func (p *Profile) scale(t, r float64) {
	for i := range p.Stages {
		s := &p.Stages[i]
		if s.Kind == Decay {
			s.HalfLife = s.halfLife()
		}
		s.Duration = shrink(s.Duration, t)
		s.Period = shrink(s.Period, t)
		s.HalfLife = shrink(s.HalfLife, t)
		s.From = Rate(float64(s.From) * r)
		s.To = Rate(float64(s.To) * r)
		s.Amplitude = Rate(float64(s.Amplitude) * r)
	}
}

// scale divides the step's user pauses by t.
func (st *Step) scale(t float64) {
	st.Think = st.Think.shrink(t)
	if st.Poll != nil {
		st.Poll.Interval = shrink(st.Poll.Interval, t)
	}
	if st.Retry != nil {
		st.Retry.Backoff = st.Retry.Backoff.shrink(t)
	}
}

func (th Think) shrink(t float64) Think {
	return Think{Median: shrink(th.Median, t), P95: shrink(th.P95, t)}
}

// shrink divides a positive duration by f, keeping it at least 1ns and
// within time.Duration.
func shrink(d time.Duration, f float64) time.Duration {
	if d <= 0 {
		return d
	}
	v := float64(d) / f
	switch {
	case v < 1:
		return 1
	case v >= math.MaxInt64:
		return math.MaxInt64
	}
	return time.Duration(v)
}

// factor returns f, or 1 when f is not a positive finite number.
func factor(f float64) float64 {
	if f > 0 && !math.IsInf(f, 0) {
		return f
	}
	return 1
}
