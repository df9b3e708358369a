package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newCmdRoot builds the command tree.
func newCmdRoot(st *state) *cobra.Command {
	root := &cobra.Command{
		Use:   "stampede",
		Short: "Replay a launch-day stampede against an enrollment stack",
		Long: `stampede replays a launch-day traffic profile (the 8 December 2020 Cashback
enrollment: 6,000 requests/s, half a million card adds) against an HTTP stack,
open-model and free of coordinated omission, and reports where it saturates
and how it fails.`,
		Example: `  stampede run launch-day                        # on the embedded stack
  stampede run ci-smoke --target http://127.0.0.1:8080
  stampede run --url http://127.0.0.1:8080/ --rate 6000/s --duration 30s
  stampede scenarios`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          usageArgs(cobra.NoArgs),
		RunE:          showHelp,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: %w", errUsage, err)
	})
	root.AddCommand(
		newCmdRun(st, nil),
		newCmdSaturate(st, nil),
		newCmdSimulate(st),
		newCmdPlan(st),
		newCmdCalibrate(st),
		newCmdSim(st),
		newCmdScenarios(st),
		newCmdMocks(st),
		newCmdStack(st),
		newCmdAudit(st),
		newCmdMerge(st),
		newCmdCompare(st),
		newCmdReport(st),
		newCmdK8s(st),
		newCmdVersion(st),
	)
	return root
}

// usageArgs wraps a positional-argument rule so its error is bad input.
func usageArgs(rule cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := rule(cmd, args); err != nil {
			return fmt.Errorf("%w: %s: %w", errUsage, cmd.CommandPath(), err)
		}
		return nil
	}
}

// showHelp is the work of a command that only groups others: with no
// arguments it prints its help; an unknown subcommand is refused by its
// Args rule, as bad input, before it gets here.
func showHelp(cmd *cobra.Command, _ []string) error { return cmd.Help() }
