package main

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/render"
	"github.com/stampede-load/stampede/sim"
	"github.com/stampede-load/stampede/sim/reference"
)

// calibrateOptions are the flags of `stampede calibrate`.
type calibrateOptions struct {
	out        string
	profile    string
	minSamples int
}

func newCmdCalibrate(st *state) *cobra.Command {
	o := &calibrateOptions{}
	cmd := &cobra.Command{
		Use:   "calibrate RUN --out MODEL [flags]",
		Short: "Fit a model's service times and capacities to a measured run",
		Long: `calibrate starts from the stock model of the reference stack (the run's stack profile
and rate scale, or --profile) and replaces what the run measured: a lognormal service time
by maximum likelihood from the latency histogram of each step whose route calls one
downstream (the card processor for add-card, the stack's own time for login), and, for
a saturation search (stampede saturate) that read the bank mocks' metrics, each
station's mean service time and its servers by Little's law. It prints how well each fit
holds (samples, KS distance, mean log-likelihood) and writes the model file
'stampede simulate --model' and 'stampede plan --model' read. A step with fewer
requests than --min-samples refuses the run, naming the station.`,
		Example: `  stampede run launch-day --out runs/measured && stampede calibrate runs/measured --out model.yaml
  stampede calibrate runs/saturate --out model.yaml && stampede simulate step --model model.yaml`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return calibrateRun(st, args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "model file to write (required)")
	f.StringVar(&o.profile, "profile", "", "stack profile of the stock model: naive or hardened (default: the run's)")
	f.IntVar(&o.minSamples, "min-samples", sim.DefaultMinSamples, "fewest requests of a step a fit is made from")
	return cmd
}

func calibrateRun(st *state, dir string, o *calibrateOptions) error {
	if o.out == "" {
		return fmt.Errorf("%w: --out: name the model file to write", errUsage)
	}
	if o.minSamples < 2 {
		return fmt.Errorf("%w: --min-samples %d must be at least 2", errUsage, o.minSamples)
	}
	info, err := replay.ReadRunInfo(dir)
	if first, _ := filepath.Glob(filepath.Join(dir, "step-01-*", replay.RunInfoFile)); err != nil && len(first) == 1 {
		// A saturation search's folder: its steps share the scenario,
		// scales and stack profile.
		info, err = replay.ReadRunInfo(filepath.Dir(first[0]))
	}
	if err != nil {
		return err
	}
	run, err := render.LoadRun(dir, func(line string) { fmt.Fprintln(st.stderr, "calibrate: "+line) })
	if err != nil {
		return err
	}
	base, err := reference.Model(reference.Options{Profile: cmp.Or(o.profile, info.Embedded, "naive"), CapacityScale: info.RateScale})
	if err != nil {
		return err
	}
	model, cal, err := sim.Calibrate(base, run.Summary, run.Saturation, o.minSamples)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	model.Name = base.Name + " calibrated from " + dir
	if err := reports.WriteFileAtomic(o.out, func(w io.Writer) error { return model.Write(w) }); err != nil {
		return err
	}
	if err := cal.Write(st.stdout); err != nil {
		return err
	}
	_, err = fmt.Fprintf(st.stdout, "model: %s\n", o.out)
	return err
}
