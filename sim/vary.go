package sim

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stampede-load/stampede/internal/yamlconf"
)

// Vary is one dimension of a capacity plan: a model parameter and the
// whole numbers it may take, From to To in steps of Step.
type Vary struct {
	Param    string // e.g. stations.nexi.servers or stack.workers
	From, To int
	Step     int // 1 unless the range says otherwise
}

// maxVaryValue bounds a range's ends, as a model file bounds servers.
const maxVaryValue = 1_000_000

// ParseVary reads "PARAM=FROM..TO" or "PARAM=FROM..TO:STEP", e.g.
// stations.nexi.servers=8..64 or stack.workers=16..256:16. The range
// must hold at least one value and start at 1 or more (a parameter of 0
// means "no limit" in a model, which would break the plan's monotonicity).
// Whether PARAM names something of a model is Vary.Check's to say.
func ParseVary(s string) (Vary, error) {
	param, rng, ok := strings.Cut(s, "=")
	param = strings.TrimSpace(param)
	if !ok || param == "" {
		return Vary{}, fmt.Errorf("%q: want PARAM=FROM..TO, e.g. stations.nexi.servers=8..64", s)
	}
	rng, step, hasStep := strings.Cut(strings.TrimSpace(rng), ":")
	from, to, ok := strings.Cut(rng, "..")
	if !ok {
		return Vary{}, fmt.Errorf("%q: range %q: want FROM..TO, e.g. 8..64", s, rng)
	}
	v := Vary{Param: param, Step: 1}
	num := func(what, t string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(t))
		if err != nil || n < 1 || n > maxVaryValue {
			return 0, fmt.Errorf("%q: %s %q is not a whole number from 1 to %d", s, what, t, maxVaryValue)
		}
		return n, nil
	}
	var err error
	if v.From, err = num("from", from); err != nil {
		return Vary{}, err
	}
	if v.To, err = num("to", to); err != nil {
		return Vary{}, err
	}
	if hasStep {
		if v.Step, err = num("step", step); err != nil {
			return Vary{}, err
		}
	}
	if v.To < v.From {
		return Vary{}, fmt.Errorf("%q: the range %d..%d is empty", s, v.From, v.To)
	}
	return v, nil
}

// String writes the range as ParseVary reads it.
func (v Vary) String() string {
	s := fmt.Sprintf("%s=%d..%d", v.Param, v.From, v.To)
	if v.Step != 1 {
		s += ":" + strconv.Itoa(v.Step)
	}
	return s
}

// Values lists the range's values in increasing order; To is always one
// of them, so the largest configuration is tried even off the step.
func (v Vary) Values() []int {
	var out []int
	for x := v.From; x < v.To; x += v.Step {
		out = append(out, x)
	}
	return append(out, v.To)
}

// varyKeys are the parameters of a station and of the stack a plan can
// vary: counts whose growth never makes the stack slower.
var (
	varyStationKeys = []string{"servers", "queue"}
	varyStackKeys   = []string{"workers", "pool", "bulkhead"}
)

// Check reports whether m has the parameter, naming the closest one when
// it does not.
func (v Vary) Check(m *Model) error {
	_, err := v.target(m)
	return err
}

// Set sets the parameter to x in m.
func (v Vary) Set(m *Model, x int) error {
	p, err := v.target(m)
	if err != nil {
		return err
	}
	*p = x
	return nil
}

func (v Vary) target(m *Model) (*int, error) {
	parts := strings.Split(v.Param, ".")
	known := m.varyParams()
	unknown := func() (*int, error) {
		return nil, fmt.Errorf("%w: parameter %q is not one of the model's%s (stations.NAME.%s or stack.%s)",
			ErrInvalidModel, v.Param, yamlconf.Suggest(v.Param, known), strings.Join(varyStationKeys, "|"), strings.Join(varyStackKeys, "|"))
	}
	switch {
	case len(parts) == 3 && parts[0] == "stations":
		st := m.Station(parts[1])
		if st == nil {
			return unknown()
		}
		switch parts[2] {
		case "servers":
			return &st.Servers, nil
		case "queue":
			return &st.Queue, nil
		}
	case len(parts) == 2 && parts[0] == "stack":
		switch parts[1] {
		case "workers":
			return &m.Stack.Workers, nil
		case "pool":
			return &m.Stack.Pool, nil
		case "bulkhead":
			return &m.Stack.Bulkhead, nil
		}
	}
	return unknown()
}

func (m *Model) varyParams() []string {
	var out []string
	for _, s := range m.Stations {
		for _, k := range varyStationKeys {
			out = append(out, "stations."+s.Name+"."+k)
		}
	}
	for _, k := range varyStackKeys {
		out = append(out, "stack."+k)
	}
	return out
}
