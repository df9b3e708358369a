package scenarios

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxRate is the highest rate a scenario may ask for, per second. It keeps
// the profile arithmetic far from floating-point trouble; no single run
// comes near it.
const MaxRate Rate = 1e9

// ParseRate reads a rate with its unit: "6000/s", "300/m", "90/h", "0.5/s".
// A number without a unit, a negative rate or one above MaxRate is an error
// wrapping ErrInvalid.
func ParseRate(s string) (Rate, error) {
	r, err := parseRate(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return r, nil
}

// parseRate is ParseRate with plain errors, for messages that carry their own
// file and line.
func parseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("rate %q has no unit: write it like 6000/s, 300/m or 90/h", s)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("rate %q: %q is not a number", s, num)
	}
	var per float64
	switch strings.TrimSpace(unit) {
	case "s":
		per = 1
	case "m":
		per = 60
	case "h":
		per = 3600
	default:
		return 0, fmt.Errorf("rate %q: unit %q is not s, m or h", s, unit)
	}
	r := Rate(f / per)
	switch {
	case f < 0:
		return 0, fmt.Errorf("rate %q is negative", s)
	case r > MaxRate:
		return 0, fmt.Errorf("rate %q is above the maximum of %s", s, MaxRate)
	}
	return r, nil
}

// String writes the rate per second when that takes at most three decimals
// ("6000/s", "0.5/s"), else in the first of minutes or hours that makes it
// a whole number ("5/m", "1/h"), else per second in full. ParseRate reads
// it back.
func (r Rate) String() string {
	f := float64(r)
	for _, u := range [...]struct {
		scale float64 // f*scale must be whole
		per   float64 // f*per is what is written
		unit  string
	}{{1000, 1, "/s"}, {60, 60, "/m"}, {3600, 3600, "/h"}} {
		v := f * u.scale
		if w := math.Round(v); w != 0 && math.Abs(v-w) <= 1e-9*math.Abs(v) {
			return strconv.FormatFloat(w*u.per/u.scale, 'f', -1, 64) + u.unit
		}
	}
	return strconv.FormatFloat(f, 'g', -1, 64) + "/s"
}
