package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/sim"
	"github.com/stampede-load/stampede/sim/reference"
)

// newCmdSim builds `stampede sim`, the simulator's own subcommands.
func newCmdSim(st *state) *cobra.Command {
	cmd := &cobra.Command{Use: "sim", Short: "The simulator's models"}
	var o reference.Options
	model := &cobra.Command{
		Use:   "model [flags]",
		Short: "Print the model of the reference stack, derived from the embedded stack's parameters",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			m, err := reference.Model(o)
			if err != nil {
				return err
			}
			return m.Write(st.stdout)
		},
	}
	f := model.Flags()
	f.StringVar(&o.Profile, "profile", "naive", "stack profile: naive or hardened")
	f.StringVar(&o.BanksFile, "banks", "", "banks file (default: the default banks)")
	f.Float64Var(&o.CapacityScale, "capacity-scale", 1, "shrink capacity as the embedded stack does at this --rate-scale")
	cmd.AddCommand(model, newCmdSimCompare(st), newCmdSimSaturate(st))
	return cmd
}

// newCmdSimCompare builds `stampede sim compare RUN`: the simulation of a
// measured run beside it.
func newCmdSimCompare(st *state) *cobra.Command {
	return &cobra.Command{
		Use:   "compare RUN",
		Short: "Simulate a measured run (same scenario, seed, scales and stack profile) and print both columns",
		Long: `compare reads a run folder that 'stampede run' left on the embedded stack (run.json and
summary.json), simulates the same scenario with the same seed, time and rate scales,
duration and stack profile on the model of the reference stack, and prints the measured
and simulated figures side by side with the bounds the simulator is held to. It exits 3
when a figure is out of its bound.`,
		Example: `  stampede run launch-day --out runs/naive && stampede sim compare runs/naive`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return simCompare(cmd.Context(), st, args[0])
		},
	}
}

func simCompare(ctx context.Context, st *state, dir string) error {
	info, err := replay.ReadRunInfo(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	measured, err := reports.ReadSummary(filepath.Join(dir, replay.SummaryFile))
	if err != nil {
		return err
	}
	if info.Embedded == "" {
		return fmt.Errorf("%w: %s was not measured on the embedded stack: the model is of the reference stack", errUsage, dir)
	}
	o := &simulateOptions{scenario: strings.TrimPrefix(info.Source, "stock:"), profile: info.Embedded,
		timeScale: info.TimeScale, rateScale: info.RateScale, seed: info.Seed, seedSet: true,
		duration: time.Duration(measured.DurationS * float64(time.Second))}
	sc, model, err := o.prepare(true, true)
	if err != nil {
		return err
	}
	out, err := sim.Run(ctx, sim.Options{Scenario: sc, Model: model, Seed: uint64(sc.Seed)})
	if err != nil {
		return err
	}
	fmt.Fprintf(st.stdout, "%s, %s stack, time scale %g, rate scale %g, %s: measured in %s, simulated\n\n",
		sc.Name, info.Embedded, info.TimeScale, info.RateScale, o.duration, dir)
	c := sim.Compare(measured, out.Summary)
	if err := c.Write(st.stdout); err != nil {
		return err
	}
	if !c.Pass() {
		return errGateFailed
	}
	return nil
}
