package main

import (
	"github.com/spf13/cobra"

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
	cmd.AddCommand(model)
	return cmd
}
