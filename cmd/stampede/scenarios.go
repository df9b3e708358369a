package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/scenarios"
)

func newCmdScenarios(st *state) *cobra.Command {
	return &cobra.Command{
		Use:     "scenarios",
		Short:   "List the stock scenarios, one line each",
		Example: "  stampede scenarios\n  stampede run ci-smoke",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			for _, s := range scenarios.Stock() {
				if _, err := fmt.Fprintf(st.stdout, "%-12s %s\n", s.Name, s.Description); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
