package scenarios

import (
	"math"
	"time"
)

// The profile's arithmetic works in float64 seconds inside a stage and in
// time.Duration across stages, so that stage boundaries are exact.

// Duration returns the length of the profile: the sum of its stages.
func (p *Profile) Duration() time.Duration {
	var total time.Duration
	for i := range p.Stages {
		total = addSat(total, p.Stages[i].Duration)
	}
	return total
}

// Rate returns the arrival rate, per second, elapsed into the profile; 0
// before the start and from the end on.
func (p *Profile) Rate(elapsed time.Duration) float64 {
	if elapsed < 0 {
		return 0
	}
	var start time.Duration
	for i := range p.Stages {
		s := &p.Stages[i]
		if s.Duration <= 0 {
			continue
		}
		if elapsed < start+s.Duration {
			return s.rateAt((elapsed - start).Seconds())
		}
		start += s.Duration
	}
	return 0
}

// Arrivals returns how many arrivals the profile delivers from its start to
// elapsed: the exact integral of Rate, in closed form for every stage kind.
// Past the end it is the total.
func (p *Profile) Arrivals(elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	var start time.Duration
	total := 0.0
	for i := range p.Stages {
		s := &p.Stages[i]
		if s.Duration <= 0 {
			continue
		}
		if elapsed < start+s.Duration {
			return total + s.integral((elapsed - start).Seconds())
		}
		total += s.integral(s.Duration.Seconds())
		start += s.Duration
	}
	return total
}

// Peak returns the highest rate anywhere in the profile.
func (p *Profile) Peak() Rate {
	peak := 0.0
	for i := range p.Stages {
		peak = math.Max(peak, p.Stages[i].peak())
	}
	return Rate(peak)
}

// Pace implements vegeta's Pacer: given the time elapsed since the start and
// the arrivals sent so far, it returns how long to wait before the next one.
// Arrival n (1-based) is due when Arrivals reaches n, so a caller that
// waits as told sends exactly floor(Arrivals(Duration())) arrivals. A caller
// running behind is told to send at once (wait 0). Pace says stop from
// Duration() on, and once every arrival of the profile has been paced.
func (p *Profile) Pace(elapsed time.Duration, hits uint64) (wait time.Duration, stop bool) {
	total := p.Duration()
	if elapsed >= total {
		return 0, true
	}
	next := float64(hits) + 1
	if next > p.Arrivals(total) {
		return 0, true
	}
	if next <= p.Arrivals(elapsed) {
		return 0, false
	}
	if due := p.due(next); due > elapsed {
		return due - elapsed, false
	}
	return 0, false
}

// due returns the first time at which the profile has delivered n
// arrivals, rounded up to the nanosecond; n must not exceed the total.
func (p *Profile) due(n float64) time.Duration {
	var start time.Duration
	before := 0.0
	for i := range p.Stages {
		s := &p.Stages[i]
		if s.Duration <= 0 {
			continue
		}
		in := s.integral(s.Duration.Seconds())
		if before+in >= n {
			t := s.invert(n - before)
			d := time.Duration(math.Ceil(t * 1e9))
			return start + min(max(d, 0), s.Duration)
		}
		before += in
		start += s.Duration
	}
	return start
}

// Truncate cuts the profile at d: stages that start at or after d go, the
// one that spans d is shortened without changing its shape (a ramp ends at
// the rate it had reached). A d of at least Duration() changes nothing.
func (p *Profile) Truncate(d time.Duration) {
	var start time.Duration
	for i := range p.Stages {
		s := &p.Stages[i]
		if s.Duration <= 0 {
			continue
		}
		if start+s.Duration <= d {
			start += s.Duration
			continue
		}
		if d <= start {
			p.Stages = p.Stages[:i]
			return
		}
		keep := d - start
		switch s.Kind {
		case Ramp:
			s.To = Rate(s.rateAt(keep.Seconds()))
		case Decay:
			s.HalfLife = s.halfLife()
		}
		s.Duration = keep
		p.Stages = p.Stages[:i+1]
		return
	}
}

// halfLife returns the decay's half-life with its default applied.
func (s *Stage) halfLife() time.Duration {
	if s.HalfLife > 0 {
		return s.HalfLife
	}
	return s.Duration / 7
}

// tau returns the decay's time constant in seconds, 0 for a step to To.
func (s *Stage) tau() float64 {
	return s.halfLife().Seconds() / math.Ln2
}

// rateAt returns the stage's rate t seconds into it.
func (s *Stage) rateAt(t float64) float64 {
	from, to := float64(s.From), float64(s.To)
	switch s.Kind {
	case Ramp:
		return from + (to-from)*t/s.Duration.Seconds()
	case Hold, Spike:
		return to
	case Sine:
		if s.Period <= 0 {
			return from
		}
		return from + float64(s.Amplitude)*math.Sin(2*math.Pi*t/s.Period.Seconds())
	case Decay:
		tau := s.tau()
		if tau == 0 {
			return to
		}
		return to + (from-to)*math.Exp(-t/tau)
	}
	return 0
}

// integral returns the arrivals of the stage's first t seconds.
func (s *Stage) integral(t float64) float64 {
	from, to := float64(s.From), float64(s.To)
	switch s.Kind {
	case Ramp:
		return from*t + (to-from)*t*t/(2*s.Duration.Seconds())
	case Hold, Spike:
		return to * t
	case Sine:
		if s.Period <= 0 {
			return from * t
		}
		// ∫ sin(ωu) du = (1 - cos ωt)/ω = 2 sin²(ωt/2)/ω, which keeps its
		// precision for small t.
		w := 2 * math.Pi / s.Period.Seconds()
		h := math.Sin(w * t / 2)
		return from*t + float64(s.Amplitude)*2*h*h/w
	case Decay:
		tau := s.tau()
		if tau == 0 {
			return to * t
		}
		return to*t - (from-to)*tau*math.Expm1(-t/tau)
	}
	return 0
}

// invert returns the time t, in seconds into the stage, at which integral(t)
// reaches x, for 0 <= x <= integral(Duration).
func (s *Stage) invert(x float64) float64 {
	d := s.Duration.Seconds()
	if x <= 0 {
		return 0
	}
	switch s.Kind {
	case Hold, Spike:
		if s.To <= 0 {
			return d
		}
		return x / float64(s.To)
	case Ramp:
		// Solve a·t + b·t²/2 = x in the form that stays accurate when b is
		// small or negative.
		a, b := float64(s.From), float64(s.To-s.From)/d
		den := a + math.Sqrt(max(a*a+2*b*x, 0))
		if den <= 0 {
			return d
		}
		return 2 * x / den
	}
	// Sine and decay have no closed-form inverse: Newton's method on the
	// monotone integral, falling back to bisection when a step leaves the
	// bracket.
	lo, hi := 0.0, d
	t := min(x/(s.integral(d)/d), d)
	for range 200 {
		f := s.integral(t) - x
		if f == 0 {
			return t
		}
		if f > 0 {
			hi = t
		} else {
			lo = t
		}
		next := t - f/s.rateAt(t)
		if !(next > lo && next < hi) {
			next = lo + (hi-lo)/2
		}
		if math.Abs(next-t) < 1e-12 || hi-lo < 1e-12 {
			return next
		}
		t = next
	}
	return t
}

// peak returns the stage's highest rate.
func (s *Stage) peak() float64 {
	if s.Duration <= 0 {
		return 0
	}
	d := s.Duration.Seconds()
	top := math.Max(s.rateAt(0), s.rateAt(d))
	if s.Kind == Sine && s.Period > 0 && s.Amplitude > 0 && s.Duration >= s.Period/4 {
		top = math.Max(top, float64(s.From+s.Amplitude))
	}
	return top
}

// addSat adds two non-negative durations, saturating instead of overflowing.
func addSat(a, b time.Duration) time.Duration {
	if b <= 0 {
		return a
	}
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
