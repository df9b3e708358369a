package scenarios

import "time"

// EmbeddedTarget is the target that names the in-process stack (the bank
// mocks and the reference stack, started by package mocks) instead of a URL.
const EmbeddedTarget = "embedded"

// Overrides are a run's changes to its scenario, from the command line. A
// field left nil or zero keeps the scenario's value; on the embedded stack
// the scenario's embedded section (embedded: {time_scale, rate_scale,
// duration}) fills in the scales and duration the command line left out.
type Overrides struct {
	Target    string   // a base URL or EmbeddedTarget; "" keeps the scenario's
	Seed      *int64   // nil keeps the scenario's seed
	TimeScale *float64 // nil: the embedded default on the embedded stack, else 1
	RateScale *float64 // nil: the embedded default on the embedded stack, else 1
	// Duration caps the scaled profile; 0 means the embedded default on
	// the embedded stack, else the whole profile. It must not be negative.
	Duration time.Duration
}

// Applied is what Apply settled on.
type Applied struct {
	Target    string        // the run's target: a base URL or EmbeddedTarget
	Embedded  bool          // the target is the in-process stack
	TimeScale float64       // the time compression applied
	RateScale float64       // the rate factor applied; the embedded stack's capacity follows it
	Duration  time.Duration // the cap applied to the scaled profile; 0 for none
}

// Apply applies o to s in place: the seed, then the scales (CheckScale,
// Scale), then the duration cap. Its error wraps ErrInvalid and names the
// flag.
func (s *Scenario) Apply(o Overrides) (Applied, error) {
	a := Applied{Target: s.Target, TimeScale: 1, RateScale: 1, Duration: o.Duration}
	if o.Target != "" {
		a.Target = o.Target
	}
	a.Embedded = a.Target == EmbeddedTarget
	if o.Duration < 0 {
		return a, invalidf("--duration %s must be positive", o.Duration)
	}
	if o.Seed != nil {
		s.Seed = *o.Seed
	}
	if a.Embedded {
		if s.Embedded.TimeScale > 0 {
			a.TimeScale = s.Embedded.TimeScale
		}
		if s.Embedded.RateScale > 0 {
			a.RateScale = s.Embedded.RateScale
		}
		if a.Duration == 0 {
			a.Duration = s.Embedded.Duration
		}
	}
	if o.TimeScale != nil {
		a.TimeScale = *o.TimeScale
	}
	if o.RateScale != nil {
		a.RateScale = *o.RateScale
	}
	if err := s.CheckScale(a.TimeScale, a.RateScale); err != nil {
		return a, err
	}
	s.Scale(a.TimeScale, a.RateScale)
	if a.Duration > 0 {
		s.Profile.Truncate(a.Duration)
	}
	return a, nil
}
