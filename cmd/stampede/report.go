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
run judges them; exit code 3 when a gate of a run failed, whatever the format.`,
		Example: `  stampede report runs/20201208-080000-launch-day
  stampede report runs/latest --format html --out report.html
  stampede report runs/latest --format md >> "$GITHUB_STEP_SUMMARY"
  stampede report runs/latest --format junit --out gates.xml --gate "p99<800ms" --gate "errors<1% over 10s"
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
