package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/render"
)

// reportOptions are the flags of `stampede report`.
type reportOptions struct {
	runs   []string
	format string
	out    string
	gates  []string // --gate: judged on each run besides its own gates

	baseline string  // --baseline: a run folder or summary.json to compare each run with
	floor    float64 // --floor: the comparison's practical-effect floor
}

func newCmdReport(st *state) *cobra.Command {
	o := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report RUN... [--format table|md|json|html|junit] [--out FILE]",
		Short: "Render a run folder: the verdict in words, tables, charts (HTML), Markdown or JUnit",
		Long: `report reads run folders (a replay, a saturation search, a simulation) and renders
them, the verdict first: what saturated, at what offered rate and why, which component
failed first, how users were hurt, whether the target recovered, and the gates. The
figures are rebuilt from the results file, so a run killed before it wrote its
summary is still reported (up to its last complete result). Several runs are shown
side by side. The run's own gates (the scenario's and those it was given) and any
--gate are judged on its results, over the whole run and its windows, exactly as the
run judges them; exit code 3 when a gate of a run failed, whatever the format.
--baseline adds the comparison of stampede compare BASE RUN (table, md and html).`,
		Example: `  stampede report runs/20201208-080000-launch-day
  stampede report runs/latest --format html --out report.html
  stampede report runs/latest --format md >> "$GITHUB_STEP_SUMMARY"
  stampede report runs/latest --format junit --out gates.xml --gate "p99<800ms" --gate "errors<1% over 10s"
  stampede report runs/latest --format md --baseline runs/main-nightly >> "$GITHUB_STEP_SUMMARY"
  stampede report runs/measured runs/simulated --format html --out side-by-side.html`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runs = args
			return reportRun(st, o)
		},
	}
	names := make([]string, len(render.Formats))
	for i, f := range render.Formats {
		names[i] = string(f)
	}
	cmd.Flags().StringVar(&o.format, "format", "table", "output format: "+strings.Join(names, ", "))
	cmd.Flags().StringVar(&o.out, "out", "", "write the report to this file instead of stdout")
	addGateFlag(cmd.Flags(), &o.gates)
	cmd.Flags().StringVar(&o.baseline, "baseline", "", "compare each run with this run folder or summary.json of the same scenario, as stampede compare does")
	cmd.Flags().Float64Var(&o.floor, "floor", 0.05, "with --baseline: practical-effect floor, relative changes below it are no change")
	return cmd
}

func reportRun(st *state, o *reportOptions) error {
	f, err := render.ParseFormat(o.format)
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	var gates []reports.Gate
	for _, expr := range o.gates {
		g, err := reports.ParseGate(expr)
		if err != nil {
			return fmt.Errorf("%w: --gate: %w", errUsage, err)
		}
		gates = append(gates, g)
	}
	runs, err := shardsRun(o.runs, gates)
	if runs == nil && err == nil {
		runs, err = render.LoadRuns(o.runs, gates, func(w string) { fmt.Fprintln(st.stderr, "warning:", w) })
	}
	if err != nil {
		return err
	}
	if o.baseline != "" {
		if err := compareWithBaseline(runs, f, o); err != nil {
			return err
		}
	}
	var w io.Writer = st.stdout
	var file *os.File
	if o.out != "" {
		if file, err = os.Create(o.out); err != nil {
			return fmt.Errorf("%w: --out: %w", errUsage, err)
		}
		defer file.Close()
		w = file
	}
	if err := render.Write(w, f, runs); err != nil {
		return err
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return fmt.Errorf("--out %s: %w", o.out, err)
		}
	}
	for _, r := range runs {
		if !r.Summary.Passed() {
			return errGateFailed
		}
	}
	return nil
}

// compareWithBaseline compares each run with --baseline, read as stampede
// compare reads it.
func compareWithBaseline(runs []*render.Run, f render.Format, o *reportOptions) error {
	if f != render.Table && f != render.Markdown && f != render.HTML {
		return fmt.Errorf("%w: --baseline is shown in table, md and html; for %s, use stampede compare BASE RUN", errUsage, f)
	}
	if !(o.floor > 0 && o.floor < 1) {
		return fmt.Errorf("%w: --floor %v: want a share between 0 and 1, e.g. 0.05", errUsage, o.floor)
	}
	base, err := readComparable(o.baseline)
	if err != nil {
		return err
	}
	return render.CompareWithBaseline(runs, o.baseline, base, reports.CompareOptions{Floor: o.floor})
}
