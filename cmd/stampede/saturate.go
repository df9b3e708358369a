package main

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/mocks/bank"
	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/render"
	"github.com/stampede-load/stampede/scenarios"
)

// saturateOptions are the flags of `stampede saturate`. The scenario, the
// target and the embedded stack are given as for `stampede run`.
type saturateOptions struct {
	runOptions

	start, step, max string // rates with a unit
	stepDuration     time.Duration
	refine           bool
	slo              string // "p99=800ms,errors=1%"; empty: the scenario's
	mocks            string // the bank mocks' base or /metrics URL, for attribution
}

// newCmdSaturate builds `stampede saturate`; runF replaces the work in tests.
func newCmdSaturate(st *state, runF func(context.Context, *state, *saturateOptions) error) *cobra.Command {
	o := &saturateOptions{}
	cmd := &cobra.Command{
		Use:   "saturate SCENARIO|--url URL --start R --step R --step-duration D [--max R] [--refine] [flags]",
		Short: "Find the rate at which a target saturates, why, and what crossed first",
		Long: `saturate plays a stepped ramp of the scenario's journey mix (or of one URL): each
step holds one arrival rate for --step-duration, open-model, in its own run folder
RUN/step-NN-RATE. After each step it judges goodput (at least 95% of the offered
load), latency (the SLO's quantile) and errors (the budget), and stops once
saturation is confirmed: two failing steps in a row, or one failing clearly. With
--refine it then bisects between the last step that held and the first that did not.

It reports the saturation point (the highest offered rate that held), the reason
the next step failed, the journey step and upstream that crossed first (from
X-Upstream, or from the bank mocks' metrics when the target is embedded or --mocks
is given), the knee of the latency curve, a Universal Scalability Law fit, and the
error modes with the offered rate at their onset. RUN/saturation.json holds every
step; RUN/summary.json holds all the steps' results with the saturation.`,
		Example: `  stampede saturate --url http://127.0.0.1:8080/health --start 100/s --step 100/s --step-duration 10s --max 2000/s
  stampede saturate step --start 20/s --step 20/s --step-duration 30s --refine
  stampede saturate ./my-scenario.yaml --target http://127.0.0.1:8080 --mocks http://127.0.0.1:9090 \
      --start 50/s --step 25/s --step-duration 1m --slo p99=800ms,errors=1%`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.takeArgs(cmd, args)
			if runF != nil {
				return runF(cmd.Context(), st, o)
			}
			return saturateRun(cmd.Context(), st, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.start, "start", "", "arrival rate of the first step, with a unit, e.g. 100/s (required)")
	f.StringVar(&o.step, "step", "", "how much each step adds to the rate, e.g. 50/s (required)")
	f.StringVar(&o.max, "max", "", "the highest rate to try, e.g. 2000/s (default: go on until saturation, at most 100 steps)")
	f.DurationVar(&o.stepDuration, "step-duration", 0, "how long each step holds its rate, at least 1s (required)")
	f.BoolVar(&o.refine, "refine", false, "bisect between the last step that held and the first that did not")
	f.StringVar(&o.slo, "slo", "", "criteria, e.g. p99=800ms,errors=1% (default: the scenario's)")
	f.StringVar(&o.mocks, "mocks", "", "bank mocks' admin URL (their API URL when they share it, the default on loopback) or their /metrics: name the station that saturates first")
	f.StringVar(&o.target, "target", "", "base URL of the stack; overrides the scenario's target")
	f.StringVar(&o.url, "url", "", "saturate one request to this URL instead of a scenario")
	f.StringVar(&o.method, "method", "GET", "with --url: HTTP method")
	f.StringArrayVar(&o.headers, "header", nil, `with --url: request header "Name: value" (repeatable)`)
	f.StringVar(&o.body, "body", "", "with --url: request body")
	f.Float64Var(&o.timeScale, "time-scale", 1, "compress the users' think times and backoffs N-fold")
	f.Float64Var(&o.rateScale, "rate-scale", 1, "embedded stack: multiply its capacity by F (as 'run' does)")
	f.Int64Var(&o.seed, "seed", 0, "seed for synthetic data and user behaviour (default: the scenario's; each step adds its number)")
	f.DurationVar(&o.grace, "grace", time.Minute, "how long running journeys may finish after a step's arrivals stop (a journey cut short counts as not completed)")
	f.StringVar(&o.out, "out", "", "run folder (default runs/TIMESTAMP-SCENARIO-saturate)")
	f.StringVar(&o.format, "format", "table", "summary format on stdout: table or json (the summary.json of the search)")
	o.addSharedFlags(f)
	return cmd
}

// saturateRun checks the plan, loads the scenario, runs the search and
// prints the steps and the summary.
func saturateRun(ctx context.Context, st *state, o *saturateOptions) error {
	so, err := o.searchOptions()
	if err != nil {
		return err
	}
	if o.url != "" {
		// Quick mode builds its one-step scenario from a rate and a
		// duration; the steps replace both.
		o.rate, o.duration = o.start, o.stepDuration
	}
	sc, applied, err := o.loadScenario()
	if err != nil {
		return err
	}
	if so.Gates, err = o.flagGates(sc, 0); err != nil {
		return err
	}
	if o.slo != "" {
		if so.SLO, err = reports.ParseSLO(o.slo, sc.SLO); err != nil {
			return fmt.Errorf("%w: --slo: %w", errUsage, err)
		}
	}
	so.Run = replay.Options{
		Scenario:    sc,
		Target:      applied.Target,
		MaxInflight: o.maxInflight,
		MaxWait:     o.maxWait,
		Grace:       o.grace,
		Dir:         cmp.Or(o.out, replay.DefaultRunDir(sc.Name+"-saturate", time.Now())),
		Terminal:    st.terminal,
		Dial:        st.dial,
		PaceGC:      paceGC(),
		Info:        replay.RunInfo{TimeScale: applied.TimeScale, RateScale: applied.RateScale},
	}
	if !o.quiet {
		so.Run.Progress = st.stderr
	}
	if err := replay.PrepareRunFolder(so.Run.Dir, o.force); err != nil {
		return err
	}
	stopMetrics, err := o.metrics.start(st, o.quiet, sc, &so.Run)
	if err != nil {
		return err
	}
	defer stopMetrics()
	if o.mocks != "" {
		u, err := metricsURL(o.mocks)
		if err != nil {
			return err
		}
		so.Stations = bank.StationScraper(u)
	}
	if applied.Embedded {
		emb, err := o.startEmbedded(ctx, sc, applied, &so.Run)
		if err != nil {
			return err
		}
		defer emb.Close()
		if so.Stations == nil {
			so.Stations = bank.StationScraper(emb.Bank.AdminURL + "/metrics")
		}
	}

	out, err := replay.Saturate(ctx, so)
	if err != nil {
		return err
	}
	if !o.noReport {
		run := &render.Run{Name: filepath.Base(out.Dir), Summary: out.Summary, Saturation: out.Report}
		if err := render.WriteFiles(out.Dir, []*render.Run{run}); err != nil {
			return err
		}
	}
	if o.format == "json" {
		err = render.WriteJSON(st.stdout, out.Summary)
	} else {
		err = render.WriteSaturationTable(st.stdout, out.Report)
		if err == nil {
			_, err = fmt.Fprintln(st.stdout)
		}
		if err == nil {
			err = render.WriteTable(st.stdout, out.Summary)
		}
		if err == nil {
			_, err = fmt.Fprintf(st.stdout, "\nrun folder: %s\n", out.Dir)
		}
	}
	return ended(err, out.Interrupted, out.Summary.Passed())
}

// searchOptions reads the plan's flags and checks the plan before anything
// starts.
func (o *saturateOptions) searchOptions() (replay.SaturateOptions, error) {
	var so replay.SaturateOptions
	if o.format != "table" && o.format != "json" {
		return so, fmt.Errorf("%w: --format %q: want table or json", errUsage, o.format)
	}
	if o.start == "" || o.step == "" || o.stepDuration == 0 {
		return so, fmt.Errorf("%w: saturate needs --start, --step and --step-duration, e.g. --start 100/s --step 50/s --step-duration 30s", errUsage)
	}
	for _, r := range []struct {
		flag, text string
		dst        *scenarios.Rate
	}{{"--start", o.start, &so.Start}, {"--step", o.step, &so.Step}, {"--max", o.max, &so.Max}} {
		if r.text == "" {
			continue
		}
		v, err := scenarios.ParseRate(r.text)
		if err != nil {
			return so, fmt.Errorf("%w: %s: %w", errUsage, r.flag, err)
		}
		*r.dst = v
	}
	so.StepDuration = o.stepDuration
	so.Refine = o.refine
	if o.slo != "" {
		// Checked now so a typo fails before the embedded stack starts; the
		// scenario's SLO fills the parts left out once it is loaded.
		if _, err := reports.ParseSLO(o.slo, reports.DefaultSLO); err != nil {
			return so, fmt.Errorf("%w: --slo: %w", errUsage, err)
		}
	}
	if _, err := so.Plan(); err != nil {
		return so, err
	}
	return so, nil
}

// metricsURL turns the bank mocks' base URL into their /metrics URL.
func metricsURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: --mocks %q is not an http:// or https:// URL", errUsage, s)
	}
	if !strings.HasSuffix(u.Path, "/metrics") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/metrics"
	}
	return u.String(), nil
}
