package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/render"
	"github.com/stampede-load/stampede/sim"
)

// simSaturateOptions are the flags of `stampede sim saturate`: the search's
// as `stampede saturate` takes them, the model's as `stampede simulate`.
type simSaturateOptions struct {
	simulateOptions
	search saturateOptions // start, step, max, step duration, refine, slo
	grace  time.Duration
}

// newCmdSimSaturate builds `stampede sim saturate`.
func newCmdSimSaturate(st *state) *cobra.Command {
	o := &simSaturateOptions{}
	cmd := &cobra.Command{
		Use:   "saturate SCENARIO --start R --step R --step-duration D [--max R] [--refine] [flags]",
		Short: "Find the rate at which a model saturates, with the search 'stampede saturate' runs",
		Long: `sim saturate runs the saturation search of 'stampede saturate' (the same stepped ramp,
stop rule, bisection and judging of each step) with the simulator as the engine of each
step: a model of the stack (the reference stack's, or --model, e.g. one 'stampede
calibrate' fitted) instead of the stack. It writes saturation.json and summary.json
("source": "sim") into the run folder, as saturate does.`,
		Example: `  stampede sim saturate step --start 4/s --step 4/s --step-duration 20s --rate-scale 0.2 --refine
  stampede calibrate runs/measured --out model.yaml && \
    stampede sim saturate step --model model.yaml --start 4/s --step 4/s --step-duration 20s --refine`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.scenario = args[0]
			o.seedSet = cmd.Flags().Changed("seed")
			return simSaturateRun(cmd.Context(), st, o, cmd.Flags().Changed("time-scale"), cmd.Flags().Changed("rate-scale"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.search.start, "start", "", "arrival rate of the first step, with a unit, e.g. 4/s (required)")
	f.StringVar(&o.search.step, "step", "", "how much each step adds to the rate, e.g. 4/s (required)")
	f.StringVar(&o.search.max, "max", "", "the highest rate to try (default: go on until saturation, at most 100 steps)")
	f.DurationVar(&o.search.stepDuration, "step-duration", 0, "how long each step holds its rate, at least 1s (required)")
	f.BoolVar(&o.search.refine, "refine", false, "bisect between the last step that held and the first that did not")
	f.StringVar(&o.search.slo, "slo", "", "criteria, e.g. p99=800ms,errors=1% (default: the scenario's)")
	f.DurationVar(&o.grace, "grace", sim.DefaultSaturateGrace, "how long running journeys may finish after a step's arrivals stop")
	f.StringVar(&o.model, "model", "", "model file to simulate; default: the reference stack's model")
	f.StringVar(&o.profile, "profile", "", "stack profile to model: naive or hardened (default: the scenario's embedded profile)")
	f.StringVar(&o.banks, "banks", "", "banks file the model's stations come from (default: the default banks)")
	f.Float64Var(&o.timeScale, "time-scale", 1, "compress the users' think times and backoffs N-fold")
	f.Float64Var(&o.rateScale, "rate-scale", 1, "shrink the reference model's capacity as the embedded stack's at this --rate-scale")
	f.Int64Var(&o.seed, "seed", 0, "seed for user behaviour and the stations' draws (default: the scenario's; each step adds its number)")
	f.StringVar(&o.out, "out", "", "run folder (default runs/TIMESTAMP-SCENARIO-sim-saturate)")
	f.BoolVar(&o.noReport, "no-report", false, "do not write report.html and report.md into the run folder")
	f.StringVar(&o.format, "format", "table", "summary format on stdout: table or json")
	addGateFlag(f, &o.gates)
	return cmd
}

func simSaturateRun(ctx context.Context, st *state, o *simSaturateOptions, timeSet, rateSet bool) error {
	o.search.format = o.format
	so, err := o.search.searchOptions() // the plan's flags, checked as saturate checks them
	if err != nil {
		return err
	}
	rates, err := so.Plan()
	if err != nil {
		return err
	}
	if o.grace <= 0 {
		return fmt.Errorf("%w: --grace %s must be positive", errUsage, o.grace)
	}
	sc, model, err := o.prepare(timeSet, rateSet)
	if err != nil {
		return err
	}
	crit := reports.Criteria{SLO: sc.SLO}
	if crit.SLO == (reports.SLO{}) {
		crit.SLO = reports.DefaultSLO
	}
	if o.search.slo != "" {
		if crit.SLO, err = reports.ParseSLO(o.search.slo, crit.SLO); err != nil {
			return fmt.Errorf("%w: --slo: %w", errUsage, err)
		}
	}
	gates, err := parseGateFlags(o.gates, sc, 0)
	if err != nil {
		return err
	}
	dir := o.out
	if dir == "" {
		dir = replay.DefaultRunDir(sc.Name+"-sim-saturate", time.Now())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("run folder: %w", err)
	}
	out, err := sim.Saturate(ctx, sim.SaturateOptions{
		Run:   sim.Options{Scenario: sc, Model: model, Seed: uint64(sc.Seed), Grace: o.grace},
		Plan:  reports.SearchPlan{Rates: rates, Capped: so.Max > 0, Refine: so.Refine},
		Start: float64(so.Start), Step: float64(so.Step), Max: float64(so.Max),
		StepDuration: so.StepDuration, Criteria: crit, Gates: gates, Progress: st.stderr,
	})
	if err != nil {
		return err
	}
	if err := reports.WriteFileAtomic(filepath.Join(dir, replay.SaturationFile), func(w io.Writer) error {
		return reports.WriteSaturationJSON(w, out.Report)
	}); err != nil {
		return err
	}
	if err := reports.WriteSummaryFile(filepath.Join(dir, replay.SummaryFile), out.Summary); err != nil {
		return err
	}
	if !o.noReport {
		run := &render.Run{Name: filepath.Base(dir), Summary: out.Summary, Saturation: out.Report}
		if err := render.WriteFiles(dir, []*render.Run{run}); err != nil {
			return err
		}
	}
	if o.format == "json" {
		err = render.WriteJSON(st.stdout, out.Summary)
	} else {
		err = render.WriteSaturationTable(st.stdout, out.Report)
		if err == nil {
			_, err = fmt.Fprintf(st.stdout, "\nrun folder: %s\n", dir)
		}
	}
	return ended(err, out.Interrupted, out.Summary.Passed())
}
