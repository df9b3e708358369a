package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

// addGateFlag declares --gate on run and saturate.
func (o *runOptions) addGateFlag(f *pflag.FlagSet) { addGateFlag(f, &o.gates) }

// addGateFlag declares --gate, collected into dst.
func addGateFlag(f *pflag.FlagSet, dst *[]string) {
	f.StringArrayVar(dst, "gate", nil, `a gate the run must pass, e.g. "p99<800ms", "p95{step:add-card}<500ms over 10s", "errors<20% over 5s abort_on_fail after 30s" (repeatable)`)
}

// flagGates parses the --gate flags and checks them against the scenario,
// and every gate's window against a run of d (0: not known in advance).
func (o *runOptions) flagGates(sc *scenarios.Scenario, d time.Duration) ([]reports.Gate, error) {
	return parseGateFlags(o.gates, sc, d)
}

// parseGateFlags is flagGates for any command's --gate values.
func parseGateFlags(exprs []string, sc *scenarios.Scenario, d time.Duration) ([]reports.Gate, error) {
	var gates []reports.Gate
	for _, expr := range exprs {
		g, err := reports.ParseGate(expr)
		if err == nil {
			err = sc.CheckGate(g)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: --gate: %w", errUsage, err)
		}
		gates = append(gates, g)
	}
	for _, g := range append(sc.Gates[:len(sc.Gates):len(sc.Gates)], gates...) {
		if err := scenarios.CheckGateWindow(g, d); err != nil {
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
	}
	return gates, nil
}
