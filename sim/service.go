package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// Distribution names the shape of a service-time distribution: the shapes
// the bank mocks draw from.
type Distribution string

// The service-time distributions.
const (
	Constant    Distribution = "constant"    // always Value
	Exponential Distribution = "exponential" // memoryless, mean Mean
	LogNormal   Distribution = "lognormal"   // by Median and P99
	Uniform     Distribution = "uniform"     // evenly between Min and Max
)

// Service is a service-time distribution; only the fields of its
// Distribution are set.
type Service struct {
	Distribution Distribution
	Value        time.Duration // constant
	Mean         time.Duration // exponential
	Median       time.Duration // lognormal
	P99          time.Duration // lognormal: above Median
	Min, Max     time.Duration // uniform
}

// Validate reports what makes the distribution impossible, or nil.
func (s Service) Validate() error {
	switch s.Distribution {
	case Constant:
		if s.Value < 0 {
			return fmt.Errorf("constant value %s is negative", s.Value)
		}
	case Exponential:
		if s.Mean <= 0 {
			return fmt.Errorf("exponential mean %s must be positive", s.Mean)
		}
	case LogNormal:
		if s.Median <= 0 {
			return fmt.Errorf("lognormal median %s must be positive", s.Median)
		}
		if s.P99 <= s.Median {
			return fmt.Errorf("lognormal p99 %s must be above the median %s", s.P99, s.Median)
		}
	case Uniform:
		if s.Min < 0 || s.Max < s.Min {
			return fmt.Errorf("uniform [%s, %s] needs 0 <= min <= max", s.Min, s.Max)
		}
	default:
		return fmt.Errorf("distribution %q is not constant, exponential, lognormal or uniform", s.Distribution)
	}
	return nil
}

// MeanTime returns the distribution's mean.
func (s Service) MeanTime() time.Duration {
	switch s.Distribution {
	case Exponential:
		return s.Mean
	case LogNormal:
		mu, sigma := s.lognormal()
		return time.Duration(math.Exp(mu + sigma*sigma/2))
	case Uniform:
		return (s.Min + s.Max) / 2
	}
	return s.Value
}

// z99 is the standard normal's 99th percentile.
var z99 = distuv.UnitNormal.Quantile(0.99)

func (s Service) lognormal() (mu, sigma float64) {
	mu = math.Log(float64(s.Median))
	return mu, (math.Log(float64(s.P99)) - mu) / z99
}

// maxService caps a draw so a heavy tail cannot overflow a Duration.
const maxService = 24 * time.Hour

// sampler draws service times (nanoseconds) from a validated Service.
type sampler struct {
	dist  distuv.Rander // nil for a constant
	value time.Duration
}

func newSampler(s Service, src rand.Source) sampler {
	switch s.Distribution {
	case Exponential:
		return sampler{dist: distuv.Exponential{Rate: 1 / float64(s.Mean), Src: src}}
	case LogNormal:
		mu, sigma := s.lognormal()
		return sampler{dist: distuv.LogNormal{Mu: mu, Sigma: sigma, Src: src}}
	case Uniform:
		if s.Min == s.Max {
			return sampler{value: s.Min}
		}
		return sampler{dist: distuv.Uniform{Min: float64(s.Min), Max: float64(s.Max), Src: src}}
	}
	return sampler{value: s.Value}
}

func (s sampler) draw() time.Duration {
	if s.dist == nil {
		return s.value
	}
	return time.Duration(math.Min(s.dist.Rand(), float64(maxService)))
}
