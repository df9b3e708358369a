package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/merge"
	"github.com/stampede-load/stampede/reports/render"
)

// mergeOptions are the flags of `stampede merge`.
type mergeOptions struct {
	runs   []string
	out    string
	format string
}

func newCmdMerge(st *state) *cobra.Command {
	o := &mergeOptions{}
	cmd := &cobra.Command{
		Use:   "merge RUN... --out DIR",
		Short: "Merge the shards of one run exactly, and judge its gates on the merged data",
		Long: `merge reads the shards' run folders (their latency.hlog and counters.json, small
whatever the run's length) and writes one run to --out: the latency histograms
of all the shards' requests, per-second series and counts added, each error
mode with its earliest onset. Gates are judged on the merged run (exit 3 when
one fails). The shards must be all the shards of one run: the same scenario,
seed, shard plan and --start-at.`,
		Example: `  stampede merge runs/shard-* --out runs/launch-day-merged`,
		Args:    usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runs = args
			return mergeRun(st, o)
		},
	}
	cmd.Flags().StringVar(&o.out, "out", "", "folder for the merged run (required)")
	cmd.Flags().StringVar(&o.format, "format", "table", "summary format on stdout: table or json")
	return cmd
}

func mergeRun(st *state, o *mergeOptions) error {
	if o.out == "" {
		return fmt.Errorf("%w: merge needs --out DIR for the merged run", errUsage)
	}
	if o.format != "table" && o.format != "json" {
		return fmt.Errorf("%w: --format %q: want table or json", errUsage, o.format)
	}
	run, err := merge.Runs(o.runs, o.out)
	if err != nil {
		return err
	}
	sum := run.Summary()
	if err := render.WriteFiles(o.out, []*render.Run{{Name: filepath.Base(o.out), Summary: sum}}); err != nil {
		return err
	}
	if o.format == "json" {
		err = render.WriteJSON(st.stdout, sum)
	} else {
		err = render.WriteTable(st.stdout, sum)
		if err == nil {
			_, err = fmt.Fprintf(st.stdout, "\nmerged %d run folders into %s\n", len(o.runs), o.out)
		}
	}
	if err != nil {
		return err
	}
	if !sum.Passed() {
		return errGateFailed
	}
	return nil
}

// shardsRun merges paths into one run when there are several and every
// one of them is a shard's folder, or one folder the shards were collected
// into, so that `stampede report` reads the shards of a run as that run;
// nil and no error otherwise. gates are judged on the merged run besides
// its own.
func shardsRun(paths []string, gates []reports.Gate) ([]*render.Run, error) {
	if len(paths) == 1 {
		paths = merge.ShardsIn(paths[0])
	}
	if len(paths) < 2 {
		return nil, nil
	}
	for _, p := range paths {
		if !merge.IsShard(p) {
			return nil, nil
		}
	}
	run, err := merge.Runs(paths, "")
	if err != nil {
		return nil, err
	}
	s, err := run.SummaryWith(gates)
	if err != nil {
		return nil, err
	}
	return []*render.Run{{Name: fmt.Sprintf("%s (%d shards merged)", run.Header.Scenario, run.Header.Shards), Summary: s}}, nil
}
