package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stampede-load/stampede/mocks"
	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/render"
	"github.com/stampede-load/stampede/scenarios"
)

// runOptions are the flags of `stampede run`.
type runOptions struct {
	scenario string // stock name or file path; empty with --url

	target       string
	url          string // quick mode
	rate         string
	duration     time.Duration
	method       string
	headers      []string
	body         string
	timeScale    float64
	rateScale    float64
	timeScaleSet bool // given on the command line, so the scenario's embedded defaults don't apply
	rateScaleSet bool
	seed         int64
	seedSet      bool

	cpuProfile string // hidden: write a CPU profile of the run here

	stackProfile string
	db           string
	banks        string

	maxInflight int
	maxWait     time.Duration
	grace       time.Duration
	shard       string
	shardIndex  int // -1: not given
	shards      int
	results     string
	startAt     string
	startTol    time.Duration
	out         string
	force       bool // replace an earlier run in --out
	format      string
	quiet       bool
	gates       []string // --gate: added to the scenario's (run) or judging the search (saturate)
	noReport    bool     // leave report.html and report.md out of the run folder

	metrics metricsOptions
}

// newCmdRun builds `stampede run`; runF replaces the work in tests.
func newCmdRun(st *state, runF func(context.Context, *state, *runOptions) error) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [SCENARIO] [flags]",
		Short: "Replay a scenario (stock name or YAML file) or a single URL against a target",
		Long: `run replays a scenario's arrival profile against a target, open-model: journeys
arrive when the profile says, whatever the target does, and each request's latency
counts from the moment it was due. Results stream to RUN/results.jsonl (readable by
'vegeta report' and 'vegeta plot'); the summary goes to RUN/summary.json and the terminal.`,
		Example: `  stampede run launch-day
  stampede run ci-smoke --target http://127.0.0.1:8080
  stampede run launch-day --target http://127.0.0.1:8080 --time-scale 120 --rate-scale 0.05
  stampede run ./my-scenario.yaml --duration 2m --format json
  stampede run --url http://127.0.0.1:8080/health --rate 6000/s --duration 30s`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.takeArgs(cmd, args)
			if runF != nil {
				return runF(cmd.Context(), st, o)
			}
			return runRun(cmd.Context(), st, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.target, "target", "", "base URL of the stack to replay against; overrides the scenario's target")
	f.StringVar(&o.url, "url", "", "quick mode: replay one request to this URL instead of a scenario")
	f.StringVar(&o.rate, "rate", "", "quick mode: arrival rate with a unit, e.g. 6000/s or 300/m")
	f.DurationVar(&o.duration, "duration", 0, "cap the run at this duration (quick mode: the run's duration)")
	f.StringVar(&o.method, "method", "GET", "quick mode: HTTP method")
	f.StringArrayVar(&o.headers, "header", nil, `quick mode: request header "Name: value" (repeatable)`)
	f.StringVar(&o.body, "body", "", "quick mode: request body")
	f.Float64Var(&o.timeScale, "time-scale", 1, "compress every duration of the scenario N-fold, keeping its rates")
	f.Float64Var(&o.rateScale, "rate-scale", 1, "multiply every rate of the scenario by F")
	f.Int64Var(&o.seed, "seed", 0, "seed for synthetic data and user behaviour (default: the scenario's)")
	f.DurationVar(&o.grace, "grace", 10*time.Second, "how long running journeys may finish after arrivals stop")
	f.StringVar(&o.shard, "shard", "", "run stripe k of n (k/n): the single-process schedule's arrivals k, k+n, … as users k, k+n, …")
	f.StringVar(&o.results, "results", "all", "which results go to RUN/results.jsonl: all, errors or none (summary and merge inputs are always written)")
	f.IntVar(&o.shardIndex, "shard-index", -1, "with --shards N: run stripe I of N counted from 0, as a Kubernetes Indexed Job numbers its pods")
	f.IntVar(&o.shards, "shards", 0, "with --shard-index: how many shards the run is split into")
	f.StringVar(&o.startAt, "start-at", "", "start the schedule at this RFC 3339 instant (give every shard the same one)")
	f.DurationVar(&o.startTol, "start-tolerance", 2*time.Second, "refuse to start more than this late past --start-at")
	f.StringVar(&o.out, "out", "", "run folder (default runs/TIMESTAMP-SCENARIO)")
	f.StringVar(&o.format, "format", "table", "summary format on stdout: table or json")
	o.addSharedFlags(f)
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	f.MarkHidden("cpuprofile")
	return cmd
}

// runRun loads the scenario, replays it and prints the summary.
func runRun(ctx context.Context, st *state, o *runOptions) error {
	if o.format != "table" && o.format != "json" {
		return fmt.Errorf("%w: --format %q: want table or json", errUsage, o.format)
	}
	sc, applied, err := o.loadScenario()
	if err != nil {
		return err
	}
	ropts, err := o.replayOptions(st, sc, applied)
	if err != nil {
		return err
	}
	stop, err := o.start(ctx, st, sc, applied, &ropts)
	defer stop()
	if err != nil {
		return err
	}
	out, err := replay.Run(ctx, ropts)
	if err != nil {
		return err
	}
	return o.print(ctx, st, ropts, out, applied.Embedded)
}

// replayOptions reads the flags of the run into the engine's options, with
// the --gate flags added to the scenario's gates.
func (o *runOptions) replayOptions(st *state, sc *scenarios.Scenario, applied scenarios.Applied) (replay.Options, error) {
	gates, err := o.flagGates(sc, sc.Profile.Duration())
	if err != nil {
		return replay.Options{}, err
	}
	sc.Gates = append(sc.Gates, gates...)
	ropts := replay.Options{
		Scenario:       sc,
		Target:         applied.Target,
		MaxInflight:    o.maxInflight,
		MaxWait:        o.maxWait,
		Grace:          o.grace,
		Dir:            cmp.Or(o.out, replay.DefaultRunDir(sc.Name, time.Now())),
		Terminal:       st.terminal,
		Dial:           st.dial,
		StartTolerance: o.startTol,
		PaceGC:         paceGC(),
		Info:           replay.RunInfo{TimeScale: applied.TimeScale, RateScale: applied.RateScale, Shard: o.shard},
	}
	if o.shard != "" {
		if ropts.Shard, err = replay.ParseShard(o.shard); err != nil {
			return ropts, err
		}
	}
	if o.shardIndex != -1 || o.shards != 0 {
		if o.shard != "" || o.shardIndex < 0 || o.shards < 1 || o.shardIndex >= o.shards {
			return ropts, fmt.Errorf("%w: --shard-index %d --shards %d: want 0 <= index < shards, and no --shard", errUsage, o.shardIndex, o.shards)
		}
		ropts.Shard = replay.Shard{K: o.shardIndex, N: o.shards}
		ropts.Info.Shard = ropts.Shard.String()
	}
	if o.startAt != "" {
		if ropts.StartAt, err = time.Parse(time.RFC3339Nano, o.startAt); err != nil {
			return ropts, fmt.Errorf("%w: --start-at %q: want an RFC 3339 time such as 2026-12-08T09:00:00Z", errUsage, o.startAt)
		}
	}
	if o.startTol <= 0 {
		return ropts, fmt.Errorf("%w: --start-tolerance %s must be positive", errUsage, o.startTol)
	}
	if ropts.Results, err = replay.ParseResultsMode(o.results); err != nil {
		return ropts, err
	}
	if !o.quiet {
		ropts.Progress = st.stderr
	}
	if watch := reports.NewGateWatch(sc.Gates); watch.Watching() { // abort_on_fail
		ropts.Sinks, ropts.Abort = append(ropts.Sinks, watch), watch
	}
	return ropts, nil
}

// start prepares the run folder and starts what the run needs besides the
// engine: the metrics endpoints, the embedded stack, the CPU profile. stop
// ends them all, also when start fails half-way.
func (o *runOptions) start(ctx context.Context, st *state, sc *scenarios.Scenario, applied scenarios.Applied, ropts *replay.Options) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if err := replay.PrepareRunFolder(ropts.Dir, o.force); err != nil {
		return stop, err
	}
	stopMetrics, err := o.metrics.start(st, o.quiet, sc, ropts)
	if err != nil {
		return stop, err
	}
	stops = append(stops, stopMetrics)
	if applied.Embedded {
		emb, err := o.startEmbedded(ctx, sc, applied, ropts)
		if err != nil {
			return stop, err
		}
		stops = append(stops, func() { emb.Close() })
	}
	if o.cpuProfile != "" {
		stopProfile, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return stop, err
		}
		stops = append(stops, stopProfile)
	}
	return stop, nil
}

// print writes the run folder's report.html and report.md and the summary,
// audits the embedded stack while it is still up,
// and maps the outcome to the error that sets the exit code.
func (o *runOptions) print(ctx context.Context, st *state, ropts replay.Options, out *replay.Outcome, embedded bool) error {
	var err error
	if !o.noReport {
		if err := render.WriteFiles(out.Dir, []*render.Run{{Name: filepath.Base(out.Dir), Summary: out.Summary}}); err != nil {
			return err
		}
	}
	if o.format == "json" {
		err = render.WriteJSON(st.stdout, out.Summary)
	} else {
		err = render.WriteTable(st.stdout, out.Summary)
	}
	var auditErr error
	if err == nil && embedded && !out.Interrupted && ropts.Results == replay.ResultsAll {
		// The embedded stack is still up: check that what clients were told
		// was stored is there. JSON output stays a single document.
		w := st.stdout
		if o.format == "json" {
			w = st.stderr
		}
		fmt.Fprintln(w)
		info, ierr := replay.ReadRunInfo(out.Dir)
		auditErr = ierr
		if ierr == nil {
			auditErr = audit(ctx, &state{stdout: w, stderr: st.stderr}, ropts.Target, out.Results, true, info)
		}
	}
	if err == nil && o.format != "json" {
		_, err = fmt.Fprintf(st.stdout, "\nrun folder: %s\n", out.Dir)
	}
	if err == nil && auditErr != nil && !errors.Is(auditErr, errAuditFailed) {
		err = auditErr
	}
	switch {
	case err != nil:
		return err
	case out.Interrupted:
		return errInterrupted
	case out.Aborted != nil:
		return fmt.Errorf("%w: %s was lost, and abort_on_fail stopped the run", errGateFailed, out.Aborted.Expr)
	case !out.Summary.Passed() && ropts.Shard.N <= 1:
		// A shard's gates are judged on the merged run (stampede merge):
		// its own summary shows them, but failing them alone is not
		// failing, and must not make a Job controller see a failed pod.
		return errGateFailed
	}
	return auditErr
}

// loadScenario resolves the scenario (or builds the quick one) and applies
// the command line's overrides (scenarios.Scenario.Apply).
func (o *runOptions) loadScenario() (*scenarios.Scenario, scenarios.Applied, error) {
	var sc *scenarios.Scenario
	var none scenarios.Applied
	switch {
	case o.url != "" && o.scenario != "":
		return nil, none, fmt.Errorf("%w: give a scenario or --url, not both", errUsage)
	case o.url != "":
		if o.rate == "" || o.duration <= 0 {
			return nil, none, fmt.Errorf("%w: --url needs --rate (e.g. 6000/s) and a positive --duration", errUsage)
		}
		rate, err := scenarios.ParseRate(o.rate)
		if err != nil {
			return nil, none, fmt.Errorf("%w: --rate: %w", errUsage, err)
		}
		sc, err = scenarios.Quick(scenarios.QuickOptions{URL: o.url, Rate: rate, Duration: o.duration,
			Method: strings.ToUpper(o.method), Headers: o.headers, Body: []byte(o.body)})
		if err != nil {
			return nil, none, err
		}
	case o.scenario != "":
		var err error
		if sc, err = scenarios.Resolve(o.scenario); err != nil {
			return nil, none, err
		}
	default:
		return nil, none, fmt.Errorf("%w: name a scenario (see 'stampede scenarios') or give --url", errUsage)
	}
	switch {
	case o.duration < 0:
		return nil, none, fmt.Errorf("%w: --duration %s must be positive", errUsage, o.duration)
	case o.maxInflight < 1:
		return nil, none, fmt.Errorf("%w: --max-inflight %d must be at least 1", errUsage, o.maxInflight)
	case o.maxWait < 0:
		return nil, none, fmt.Errorf("%w: --max-wait %s must not be negative", errUsage, o.maxWait)
	case o.grace < 0:
		return nil, none, fmt.Errorf("%w: --grace %s must not be negative", errUsage, o.grace)
	}
	if o.rate != "" && o.url == "" {
		return nil, none, fmt.Errorf("%w: --rate goes with --url; scale a scenario with --rate-scale", errUsage)
	}
	ov := scenarios.Overrides{Target: o.target}
	if o.seedSet {
		ov.Seed = &o.seed
	}
	if o.timeScaleSet {
		ov.TimeScale = &o.timeScale
	}
	if o.rateScaleSet {
		ov.RateScale = &o.rateScale
	}
	if o.url == "" { // quick mode's duration is its profile's already
		ov.Duration = o.duration
	}
	applied, err := sc.Apply(ov)
	if err != nil {
		return nil, none, err
	}
	return sc, applied, nil
}

// startEmbedded starts the bank mocks and the reference stack in-process,
// as mocks.ForScenario derives them, and points the run at them. The
// caller closes the returned stack.
func (o *runOptions) startEmbedded(ctx context.Context, sc *scenarios.Scenario, applied scenarios.Applied, ropts *replay.Options) (*mocks.Embedded, error) {
	mo, err := mocks.ForScenario(sc, mocks.Options{StackProfile: o.stackProfile, DB: o.db, BanksFile: o.banks}, ropts.Dir, applied.RateScale)
	if err != nil {
		return nil, err
	}
	emb, err := mocks.Start(context.WithoutCancel(ctx), mo)
	if err != nil {
		return nil, err
	}
	ropts.Target = emb.URL
	ropts.Info.Embedded = mo.StackProfile
	return emb, nil
}

// startCPUProfile profiles the process until the returned function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%w: --cpuprofile: %w", errUsage, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// addSharedFlags declares the flags `run` and `saturate` share: the load
// generator's limits, the output, and the embedded stack.
func (o *runOptions) addSharedFlags(f *pflag.FlagSet) {
	f.IntVar(&o.maxInflight, "max-inflight", 10000, "journeys in flight at once; arrivals over the cap wait, and are charged their wait")
	f.DurationVar(&o.maxWait, "max-wait", time.Second, "longest an arrival waits for an in-flight slot before it is dropped and counted")
	f.BoolVar(&o.quiet, "quiet", false, "no live progress")
	f.BoolVar(&o.force, "force", false, "replace an earlier run in the --out folder (its results and embedded database)")
	o.addGateFlag(f)
	f.BoolVar(&o.noReport, "no-report", false, "do not write report.html and report.md into the run folder")
	f.StringVar(&o.stackProfile, "stack-profile", "", "embedded stack: naive (the 2020 behaviour) or hardened (default: the scenario's)")
	f.StringVar(&o.db, "db", "", "embedded stack: postgres:// DSN (default: SQLite in the run folder)")
	f.StringVar(&o.banks, "banks", "", "embedded stack: banks file for the bank mocks (see 'stampede mocks config')")
	o.metrics.addFlags(f)
}

// takeArgs records the scenario argument, and which flags the command line
// set so that the scenario's own values (seed, embedded scales) apply
// otherwise.
func (o *runOptions) takeArgs(cmd *cobra.Command, args []string) {
	if len(args) == 1 {
		o.scenario = args[0]
	}
	o.seedSet = cmd.Flags().Changed("seed")
	o.timeScaleSet = cmd.Flags().Changed("time-scale")
	o.rateScaleSet = cmd.Flags().Changed("rate-scale")
}
