package scenarios

import (
	"fmt"
	"math/rand/v2"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// User is one simulated citizen walking a journey: a user index, the
// synthetic identity derived from it, the variables its steps extracted and
// its feeder rows. A User is used by one goroutine at a time.
type User struct {
	Index uint64                       // user index: identity and random draws derive from (Scenario.Seed, Index)
	Vars  map[string]string            // variables extracted so far, by name
	Data  map[string]map[string]string // the user's row of each feeder, by feeder name; rows are shared, read-only

	s        *Scenario
	identity *synth.Identity // derived on first use
	pcg      rand.PCG
	rng      rand.Rand
	seeded   bool
	dot      dot
}

// behaviourSalt separates the stream of a user's behaviour (journey choice,
// think times, retries, uuid) from the stream its identity is derived from.
const behaviourSalt = 0x6a09e667f3bcc908

// NewUser returns user index of the scenario with its feeder rows assigned:
// row index mod n for a sequential feeder, a row drawn from (Seed, index)
// for a random one, row index for a unique one. When a unique feeder has no
// row index the error wraps ErrFeederExhausted.
func (s *Scenario) NewUser(index uint64) (*User, error) {
	u := &User{Index: index, Vars: make(map[string]string, 4), s: s}
	u.dot.u = u
	if len(s.Data) > 0 {
		u.Data = make(map[string]map[string]string, len(s.Data))
		for i, f := range s.Data {
			row, err := f.row(s.Seed, i, index)
			if err != nil {
				return nil, err
			}
			u.Data[f.Name] = row
		}
	}
	return u, nil
}

// Rand returns the user's random generator, deterministic per (Seed, Index):
// journey choice, think times, retry decisions and template draws come from
// it, so a run can be repeated draw for draw.
func (u *User) Rand() *rand.Rand {
	if !u.seeded {
		var seed int64
		if u.s != nil {
			seed = u.s.Seed
		}
		u.pcg = *rand.NewPCG(uint64(seed)^behaviourSalt, u.Index)
		u.rng = *rand.New(&u.pcg)
		u.seeded = true
	}
	return &u.rng
}

// Identity returns the user's synthetic identity (fiscal code, card, IBAN),
// derived on first use from the scenario's Seed and Epoch and the user index.
func (u *User) Identity() *synth.Identity {
	if u.identity == nil {
		id := synth.Identity{}
		if u.s != nil {
			id = synth.NewIdentity(u.s.Seed, u.Index, u.s.Epoch)
		}
		u.identity = &id
	}
	return u.identity
}

// PickJourney draws a journey for the user, each with probability
// proportional to its Weight, from the user's generator.
func (s *Scenario) PickJourney(u *User) *Journey {
	switch len(s.Journeys) {
	case 0:
		return nil
	case 1:
		return s.Journeys[0]
	}
	total := 0.0
	for _, j := range s.Journeys {
		total += j.Weight
	}
	x := u.Rand().Float64() * total
	for _, j := range s.Journeys {
		if x -= j.Weight; x < 0 {
			return j
		}
	}
	return s.Journeys[len(s.Journeys)-1]
}

// row returns the feeder's row for user index; i is the feeder's position,
// which separates the draws of random feeders.
func (f *Feeder) row(seed int64, i int, index uint64) (map[string]string, error) {
	n := uint64(len(f.Rows))
	if n == 0 {
		return nil, fmt.Errorf("feeder %s has no rows", f.Name)
	}
	switch f.Mode {
	case Random:
		return f.Rows[mix(uint64(seed), uint64(i), index)%n], nil
	case Unique:
		if index >= n {
			return nil, fmt.Errorf("feeder %s (%s): user %d needs row %d, the file has %d rows: %w",
				f.Name, f.File, index, index+1, n, ErrFeederExhausted)
		}
		return f.Rows[index], nil
	}
	return f.Rows[index%n], nil
}

// mix hashes three words into one (splitmix64 finalisers).
func mix(a, b, c uint64) uint64 {
	h := a
	for _, v := range [...]uint64{b, c} {
		h ^= v + 0x9e3779b97f4a7c15 + h<<6 + h>>2
		h ^= h >> 30
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 27
		h *= 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}
