package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
	"github.com/stampede-load/stampede/sim"
)

// planOptions are the flags of `stampede plan`.
type planOptions struct {
	sim     simulateOptions
	vary    []string
	costs   []string
	slo     string
	workers int
	timeSet bool
	rateSet bool
}

func newCmdPlan(st *state) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan SCENARIO --vary PARAM=FROM..TO [--vary ...] [flags]",
		Short: "Find the cheapest capacity that holds the SLO through a scenario, by simulation",
		Long: `plan simulates the scenario on a model (the reference stack's, or --model) with the
parameters --vary names set across their ranges, and prints the configurations that hold
the SLO through the whole scenario (its quantile over every request, and the failed
share), cheapest first, each with its margin: the smaller relative headroom to the
latency target and to the error budget. It takes more capacity never to hurt, so it
searches the minimal frontier (a binary search over the last parameter for each
combination of the others, skipping configurations already settled) instead of the
whole grid. A parameter is stations.NAME.servers, stations.NAME.queue, stack.workers,
stack.pool or stack.bulkhead; FROM..TO:STEP takes every STEP-th value (and TO).`,
		Example: `  stampede plan launch-day --profile hardened --duration 10m --time-scale 10 \
    --vary stations.nexi.servers=8..64 --vary stack.workers=16..256:16 --slo p99=1s,errors=0.1%`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.sim.scenario = args[0]
			o.sim.seedSet = cmd.Flags().Changed("seed")
			o.timeSet, o.rateSet = cmd.Flags().Changed("time-scale"), cmd.Flags().Changed("rate-scale")
			return planRun(cmd.Context(), st, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.vary, "vary", nil, "a parameter and its range, PARAM=FROM..TO[:STEP], e.g. stations.nexi.servers=8..64 (repeatable)")
	f.StringArrayVar(&o.costs, "cost", nil, "cost of one unit of a varied parameter, PARAM=COST (default 1; repeatable)")
	f.StringVar(&o.slo, "slo", "p99=1s,errors=0.1%", "the SLO a configuration must hold: a latency quantile and the error budget")
	f.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "simulations at once, each on its own goroutine")
	f.StringVar(&o.sim.model, "model", "", "model file (see 'stampede sim model', 'stampede calibrate'); default: the reference stack's model")
	f.StringVar(&o.sim.profile, "profile", "", "stack profile of the reference model: naive or hardened (default: the scenario's embedded profile)")
	f.StringVar(&o.sim.banks, "banks", "", "banks file of the reference model (default: the default banks)")
	f.Float64Var(&o.sim.timeScale, "time-scale", 1, "compress every duration of the scenario N-fold, keeping its rates")
	f.Float64Var(&o.sim.rateScale, "rate-scale", 1, "multiply every rate of the scenario by F; the reference model's capacity follows")
	f.DurationVar(&o.sim.duration, "duration", 0, "cap the simulated profile at this duration (after scaling)")
	f.Int64Var(&o.sim.seed, "seed", 0, "seed for user behaviour and the stations' draws (default: the scenario's)")
	return cmd
}

// planInputs parses plan's own flags.
func (o *planOptions) planInputs() ([]sim.Vary, map[string]float64, reports.SLO, error) {
	var vary []sim.Vary
	if len(o.vary) == 0 {
		return nil, nil, reports.SLO{}, fmt.Errorf("%w: --vary: name at least one parameter to vary, e.g. --vary stations.nexi.servers=8..64", errUsage)
	}
	for _, s := range o.vary {
		v, err := sim.ParseVary(s)
		if err != nil {
			return nil, nil, reports.SLO{}, fmt.Errorf("%w: --vary %v", errUsage, err)
		}
		vary = append(vary, v)
	}
	costs := map[string]float64{}
	for _, s := range o.costs {
		p, c, ok := strings.Cut(s, "=")
		f, err := strconv.ParseFloat(strings.TrimSpace(c), 64)
		if !ok || err != nil || !(f >= 0) || f > 1e12 {
			return nil, nil, reports.SLO{}, fmt.Errorf("%w: --cost %q: want PARAM=COST, a number of 0 or more", errUsage, s)
		}
		costs[strings.TrimSpace(p)] = f
	}
	slo, err := reports.ParseSLO(o.slo, reports.DefaultSLO)
	if err != nil {
		return nil, nil, reports.SLO{}, fmt.Errorf("%w: --slo: %w", errUsage, err)
	}
	if o.workers < 1 {
		return nil, nil, reports.SLO{}, fmt.Errorf("%w: --workers %d must be at least 1", errUsage, o.workers)
	}
	return vary, costs, slo, nil
}

func planRun(ctx context.Context, st *state, o *planOptions) error {
	vary, costs, slo, err := o.planInputs()
	if err != nil {
		return err
	}
	first := o.sim
	sc, model, err := first.prepare(o.timeSet, o.rateSet)
	if err != nil {
		return err
	}
	for i, v := range vary {
		if err := v.Check(model); err != nil {
			return fmt.Errorf("%w: --vary %s: %w", errUsage, o.vary[i], err)
		}
	}
	for p := range costs {
		if !containsParam(vary, p) {
			return fmt.Errorf("%w: --cost %s: no --vary varies it", errUsage, p)
		}
	}
	newScenario := func() (*scenarios.Scenario, error) {
		each := o.sim // prepare writes the scales it applied: each worker its own copy
		sc, _, err := each.prepare(o.timeSet, o.rateSet)
		return sc, err
	}
	var last time.Time
	progress := func(p sim.PlanProgress) {
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		fmt.Fprintf(st.stderr, "plan: %d simulated (at most %d), simulated clock %s of %s, elapsed %s, ETA at most %s\n",
			p.Simulated, p.Bound, p.Clock.Round(time.Second), p.Span.Round(time.Second), p.Elapsed.Round(time.Second), p.ETA().Round(time.Second))
	}
	plan, err := sim.PlanCapacity(ctx, sim.PlanOptions{Scenario: newScenario, Model: model, Vary: vary, Cost: costs,
		SLO: slo, Seed: uint64(sc.Seed), Workers: o.workers, Progress: progress})
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return err
	}
	fmt.Fprintf(st.stdout, "%s on the %s model, time scale %g, rate scale %g, %s\n", sc.Name, model.Name, first.timeScale, first.rateScale, sc.Profile.Duration())
	return plan.Write(st.stdout)
}

func containsParam(vary []sim.Vary, p string) bool {
	for _, v := range vary {
		if v.Param == p {
			return true
		}
	}
	return false
}
