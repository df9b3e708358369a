package scenarios

import (
	"fmt"
	"time"

	"github.com/stampede-load/stampede/internal/yamlconf"
	"github.com/stampede-load/stampede/reports"
)

// CheckGate reports a gate that cannot be judged on this scenario: one
// narrowed to a step no journey has. Upstreams are named by the target
// (X-Upstream), so they cannot be checked before it answers.
func (s *Scenario) CheckGate(g reports.Gate) error {
	if g.Step == "" {
		return nil
	}
	var names []string
	for _, j := range s.Journeys {
		if s.Login != nil {
			names = append(names, s.Login.Name, j.Name+"/"+s.Login.Name)
		}
		for _, st := range j.Steps {
			names = append(names, st.Name, j.Name+"/"+st.Name)
		}
	}
	for _, n := range names {
		if n == g.Step {
			return nil
		}
	}
	return fmt.Errorf("gate %q: no step %q in the scenario%s", g.Expr, g.Step, yamlconf.Suggest(g.Step, names))
}

// CheckGateWindow reports a gate whose window is longer than a run of d.
func CheckGateWindow(g reports.Gate, d time.Duration) error {
	if g.Window > 0 && d > 0 && g.Window > d {
		return fmt.Errorf("gate %q: the %s window is longer than the run (%s)", g.Expr, g.Window, d)
	}
	return nil
}
