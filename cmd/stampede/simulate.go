package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/render"
	"github.com/stampede-load/stampede/reports/resultsfile"
	"github.com/stampede-load/stampede/scenarios"
	"github.com/stampede-load/stampede/sim"
	"github.com/stampede-load/stampede/sim/reference"
)

// simMemoryLimit is the soft memory limit of a simulation: 288 MiB. The
// real-scale day's live heap peaks at about 230 MB while its summary is
// built (some 140 MB while it runs), so the limit only bounds that last
// stretch, where the default pace would double it.
const simMemoryLimit = 288 << 20

// simulateOptions are the flags of `stampede simulate`.
type simulateOptions struct {
	scenario     string
	model        string
	profile      string
	banks        string
	timeScale    float64
	rateScale    float64
	duration     time.Duration
	asEmbedded   bool
	seed         int64
	seedSet      bool
	out          string
	noReport     bool // leave report.html and report.md out of the run folder
	results      string
	format       string
	replications int
	gates        []string // --gate: added to the scenario's
	cpuProfile   string   // hidden: write a CPU profile of the simulation here
}

func newCmdSimulate(st *state) *cobra.Command {
	o := &simulateOptions{}
	cmd := &cobra.Command{
		Use:   "simulate SCENARIO [flags]",
		Short: "Simulate a scenario against a model of the reference stack, at real scale in seconds",
		Long: `simulate plays a scenario's users through a discrete-event model of the reference
stack (its naive or hardened profile, derived from the parameters the embedded stack
starts with) in virtual time. The users are the scenario's, as in a replay; the
results go through the same summary, error modes, metastability and gates, with
"source": "sim". Real scale by default: --as-embedded plays the scales a replay on
the embedded stack uses (the scenario's embedded: defaults), capacity shrunk alike.`,
		Example: `  stampede simulate launch-day
  stampede simulate launch-day --profile hardened
  stampede simulate launch-day --as-embedded          # what 'stampede run launch-day' measures`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.scenario = args[0]
			o.seedSet = cmd.Flags().Changed("seed")
			return simulateRun(cmd.Context(), st, o, cmd.Flags().Changed("time-scale"), cmd.Flags().Changed("rate-scale"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model file to simulate (see 'stampede sim model'); default: the reference stack's model")
	f.StringVar(&o.profile, "profile", "", "stack profile to model: naive or hardened (default: the scenario's embedded profile)")
	f.StringVar(&o.banks, "banks", "", "banks file the model's stations come from (default: the default banks)")
	f.Float64Var(&o.timeScale, "time-scale", 1, "compress every duration of the scenario N-fold, keeping its rates")
	f.Float64Var(&o.rateScale, "rate-scale", 1, "multiply every rate of the scenario by F; the model's capacity follows")
	f.DurationVar(&o.duration, "duration", 0, "cap the simulated profile at this duration (after scaling)")
	f.BoolVar(&o.asEmbedded, "as-embedded", false, "use the scenario's embedded: time and rate scales and duration")
	f.Int64Var(&o.seed, "seed", 0, "seed for user behaviour and the stations' draws (default: the scenario's)")
	f.StringVar(&o.out, "out", "", "run folder for summary.json (default runs/TIMESTAMP-SCENARIO-sim)")
	f.BoolVar(&o.noReport, "no-report", false, "do not write report.html and report.md into the run folder")
	f.StringVar(&o.results, "results", "none", "results file: all (every simulated request to results.jsonl) or none")
	addGateFlag(f, &o.gates)
	f.StringVar(&o.format, "format", "table", "summary format on stdout: table or json")
	f.IntVar(&o.replications, "replications", 1, "independent replications (different seeds): headline figures as mean ± 95% interval")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the simulation to this file")
	f.MarkHidden("cpuprofile")
	return cmd
}

// prepare loads and scales the scenario and builds the model of the
// reference stack, its capacity shrunk by the rate scale as the embedded
// stack's is.
func (o *simulateOptions) prepare(timeSet, rateSet bool) (*scenarios.Scenario, *sim.Model, error) {
	sc, err := scenarios.Resolve(o.scenario)
	if err != nil {
		return nil, nil, err
	}
	// The simulator is the target: real scale unless --as-embedded asks
	// for the scales a replay on the embedded stack uses.
	ov := scenarios.Overrides{Target: simTarget, Duration: o.duration}
	if o.asEmbedded {
		ov.Target = scenarios.EmbeddedTarget
	}
	if o.seedSet {
		ov.Seed = &o.seed
	}
	if timeSet {
		ov.TimeScale = &o.timeScale
	}
	if rateSet {
		ov.RateScale = &o.rateScale
	}
	applied, err := sc.Apply(ov)
	if err != nil {
		return nil, nil, err
	}
	o.timeScale, o.rateScale, o.duration = applied.TimeScale, applied.RateScale, applied.Duration
	if o.model != "" {
		if o.profile != "" || o.banks != "" {
			return nil, nil, fmt.Errorf("%w: --model is a whole model: not with --profile or --banks", errUsage)
		}
		// A model file is taken as written: its capacity is not scaled.
		model, err := sim.LoadModel(o.model)
		return sc, model, err
	}
	model, err := reference.Model(reference.Options{Profile: cmp.Or(o.profile, sc.Embedded.StackProfile),
		BanksFile: cmp.Or(o.banks, sc.Embedded.Banks), CapacityScale: applied.RateScale})
	if err != nil {
		return nil, nil, err
	}
	return sc, model, nil
}

// simTarget is the target of a simulated run.
const simTarget = "sim"

func simulateRun(ctx context.Context, st *state, o *simulateOptions, timeSet, rateSet bool) error {
	switch {
	case o.format != "table" && o.format != "json":
		return fmt.Errorf("%w: --format %q: want table or json", errUsage, o.format)
	case o.results != "all" && o.results != "none":
		return fmt.Errorf("%w: --results %q: want all or none", errUsage, o.results)
	case o.replications < 1:
		return fmt.Errorf("%w: --replications %d must be at least 1", errUsage, o.replications)
	case o.replications > 1 && o.results == "all":
		return fmt.Errorf("%w: --results all writes one simulation's requests: not with --replications", errUsage)
	}
	sc, model, err := o.prepare(timeSet, rateSet)
	if err != nil {
		return err
	}
	gates, err := parseGateFlags(o.gates, sc, sc.Profile.Duration())
	if err != nil {
		return err
	}
	sc.Gates = append(sc.Gates, gates...)
	dir := o.out
	if dir == "" {
		dir = replay.DefaultRunDir(sc.Name+"-sim", time.Now())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("run folder: %w", err)
	}
	sopts := sim.Options{Scenario: sc, Model: model, Seed: uint64(sc.Seed)}
	var file *resultsfile.Writer
	if o.results == "all" {
		f, err := os.Create(filepath.Join(dir, "results.jsonl"))
		if err != nil {
			return fmt.Errorf("results file: %w", err)
		}
		defer f.Close()
		file = resultsfile.NewWriter(f, resultsfile.WithAttack(sc.Name))
		sopts.Sinks = append(sopts.Sinks, file)
	}
	// A real-scale day holds some 100,000 citizens at once. The replay's
	// GOGC (400) would let the heap grow to several times that, and a
	// memory limit alone then makes the collector thrash against it: the
	// simulation collects at the default pace, on the other core, under a
	// soft limit. The environment's GOGC and GOMEMLIMIT win.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(100)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(simMemoryLimit)
	}
	if o.cpuProfile != "" {
		stopProfile, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	wall := time.Now()
	var reps *sim.Replications
	var out *sim.Outcome
	if o.replications > 1 {
		var outs []*sim.Outcome
		if reps, outs, err = sim.Replicate(ctx, sopts, o.replications); err != nil {
			return err
		}
		out = outs[0]
		out.Summary.Replications = reps.Summary()
	} else if out, err = sim.Run(ctx, sopts); err != nil {
		return err
	}
	elapsed := time.Since(wall)
	if file != nil {
		if err := file.Flush(); err != nil {
			return fmt.Errorf("results file: %w", err)
		}
	}
	if err := reports.WriteSummaryFile(filepath.Join(dir, "summary.json"), out.Summary); err != nil {
		return err
	}
	if !o.noReport {
		if err := render.WriteFiles(dir, []*render.Run{{Name: filepath.Base(dir), Summary: out.Summary}}); err != nil {
			return err
		}
	}
	if o.format == "json" {
		err = render.WriteJSON(st.stdout, out.Summary)
	} else {
		err = render.WriteTable(st.stdout, out.Summary)
		if err == nil {
			err = sim.WriteFindings(st.stdout, out, sim.Scales{Time: o.timeScale, Rate: o.rateScale})
		}
		if err == nil && reps != nil {
			err = reps.Write(st.stdout)
		}
		if err == nil {
			_, err = fmt.Fprintf(st.stdout, "\nsimulated %s of %s in %s (%d events); run folder: %s\n",
				time.Duration(out.Summary.DurationS*float64(time.Second)), sc.Name, elapsed.Round(time.Millisecond), out.Events, dir)
		}
	}
	return ended(err, out.Summary.Interrupted, out.Summary.Passed())
}
