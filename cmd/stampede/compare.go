package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/merge"
	"github.com/stampede-load/stampede/reports/render"
)

// compareOptions are the flags of `stampede compare`.
type compareOptions struct {
	base, next string
	failOn     string
	format     string
	floor      float64
}

// newCmdCompare builds `stampede compare`.
func newCmdCompare(st *state) *cobra.Command {
	o := &compareOptions{}
	cmd := &cobra.Command{
		Use:   "compare BASE NEW [--fail-on regression] [--format table|md|junit]",
		Short: "Compare two runs of one scenario, metric by metric, with statistics",
		Long: `compare reads two run folders (or their summary.json files) and, for the run and
each step, judges p50, p90, p99, mean latency, errors and goodput: regression,
improvement, no change, or inconclusive with how many more seconds of each run would
decide. The test is Mann-Whitney U on the per-second samples, Holm-corrected over every
metric; latency quantiles get a bootstrap interval from the runs' HDR histograms; a
change smaller than --floor is no change.`,
		Example: `  stampede compare runs/before runs/after
  stampede compare runs/before/summary.json runs/after --fail-on regression --format md >> "$GITHUB_STEP_SUMMARY"`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.base, o.next = args[0], args[1]
			return compareRun(st, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.failOn, "fail-on", "", "exit 3 when the comparison finds this: regression")
	f.StringVar(&o.format, "format", "table", "table, md or junit")
	f.Float64Var(&o.floor, "floor", 0.05, "practical-effect floor: relative changes below it are no change")
	return cmd
}

// compareRun reads both summaries, compares and renders.
func compareRun(st *state, o *compareOptions) error {
	if o.failOn != "" && o.failOn != "regression" {
		return fmt.Errorf("%w: --fail-on %q: want regression", errUsage, o.failOn)
	}
	write := map[string]func(*reports.Comparison) error{
		"table": func(c *reports.Comparison) error { return render.WriteCompareTable(st.stdout, c) },
		"md":    func(c *reports.Comparison) error { return render.WriteCompareMarkdown(st.stdout, c) },
		"junit": func(c *reports.Comparison) error { return render.WriteCompareJUnit(st.stdout, c) },
	}[o.format]
	if write == nil {
		return fmt.Errorf("%w: --format %q: want table, md or junit", errUsage, o.format)
	}
	if !(o.floor > 0 && o.floor < 1) {
		return fmt.Errorf("%w: --floor %v: want a share between 0 and 1, e.g. 0.05", errUsage, o.floor)
	}
	base, err := readComparable(o.base)
	if err != nil {
		return err
	}
	next, err := readComparable(o.next)
	if err != nil {
		return err
	}
	c, err := reports.Compare(base, next, reports.CompareOptions{Floor: o.floor})
	if err != nil {
		return fmt.Errorf("%s and %s: %w", o.base, o.next, err)
	}
	if err := write(c); err != nil {
		return err
	}
	if o.failOn == "regression" && c.Failed() {
		return fmt.Errorf("%w: %d regressions", errGateFailed, c.Verdicts[reports.Regression])
	}
	return nil
}

// readComparable reads a run folder's summary.json, or the file itself;
// a folder holding the shards of a run reads as their merged run.
func readComparable(path string) (*reports.Summary, error) {
	if shards := merge.ShardsIn(path); shards != nil {
		run, err := merge.Runs(shards, "")
		if err != nil {
			return nil, err
		}
		return run.Summary(), nil
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "summary.json")
	}
	s, err := reports.ReadSummary(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s: no such run folder or summary.json", reports.ErrNotComparable, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", reports.ErrNotComparable, err)
	}
	if s.Scenario == "" && s.Source == "" {
		return nil, fmt.Errorf("%w: %s is not a stampede summary.json", reports.ErrNotComparable, path)
	}
	return s, nil
}
