package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/mocks/stack"
	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/scenarios"
)

// errAuditFailed ends an audit that found acknowledged writes lost or
// duplicated, or writes from nowhere; it exits like a failed gate.
var errAuditFailed = fmt.Errorf("%w: the audit found lost, duplicated or unexplained writes", errGateFailed)

// auditOptions are the flags of `stampede audit`.
type auditOptions struct {
	target string
	run    string
}

func newCmdAudit(st *state) *cobra.Command {
	o := &auditOptions{}
	cmd := &cobra.Command{
		Use:   "audit --target URL --results RUN",
		Short: "Reconcile what the reference stack stored with what a run's clients were told",
		Long: `audit reads the reference stack's GET /admin/audit and a run's results, and counts,
for cards added and cards activated: acknowledged writes that were lost, writes
stored twice, and writes stored that no client was told of (acceptable only after
a request failed without an answer, such as a timeout). Exit code 3 when anything
acknowledged was lost or duplicated, or a write came from nowhere.`,
		Example: `  stampede audit --target http://127.0.0.1:8080 --results runs/20201208-080000-launch-day`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return auditRun(cmd.Context(), st, o)
		},
	}
	cmd.Flags().StringVar(&o.target, "target", "", "base URL of the reference stack (required)")
	cmd.Flags().StringVar(&o.run, "results", "", "run folder (or its results.jsonl) to reconcile (required)")
	return cmd
}

func auditRun(ctx context.Context, st *state, o *auditOptions) error {
	if o.target == "" || o.run == "" {
		return fmt.Errorf("%w: audit needs --target URL and --results RUN", errUsage)
	}
	dir := o.run
	if strings.HasSuffix(dir, ".jsonl") {
		dir = filepath.Dir(dir)
	}
	info, err := replay.ReadRunInfo(dir)
	if err != nil {
		return fmt.Errorf("--results %s: %w", o.run, err)
	}
	_, err = os.Stat(filepath.Join(dir, replay.SummaryFile))
	return audit(ctx, st, o.target, filepath.Join(dir, replay.ResultsFile), err == nil, info)
}

// audit reconciles a run with the stack at target and prints the result;
// complete says the run wrote its summary (it was not killed).
func audit(ctx context.Context, st *state, target, results string, complete bool, info replay.RunInfo) error {
	id, err := identities(info)
	if err != nil {
		return err
	}
	rec, err := stack.ReconcileRun(ctx, target, results, complete, id)
	switch {
	case ctx.Err() != nil:
		return errInterrupted
	case errors.Is(err, stack.ErrNotAudit):
		return fmt.Errorf("%w: --target: %w", errUsage, err)
	case err != nil:
		return err
	}
	if err := rec.WriteTable(st.stdout); err != nil {
		return err
	}
	if !rec.OK() {
		return errAuditFailed
	}
	return nil
}

// identities recreates the run's synthetic users: each user's fiscal code
// and card come from the scenario, its seed and the user's index.
func identities(info replay.RunInfo) (stack.Identity, error) {
	var sc *scenarios.Scenario
	var err error
	switch {
	case strings.HasPrefix(info.Source, "stock:"):
		sc, err = scenarios.LoadStock(strings.TrimPrefix(info.Source, "stock:"))
	case info.Source == "quick":
		return nil, fmt.Errorf("%w: a quick run (--url) has no users to audit", errUsage)
	default:
		sc, err = scenarios.Load(info.Source)
	}
	if err != nil {
		return nil, err
	}
	sc.Seed = info.Seed
	return func(user uint64) (string, string, error) {
		u, err := sc.NewUser(user)
		if err != nil {
			return "", "", err
		}
		id := u.Identity()
		return id.FiscalCode, id.PAN, nil
	}, nil
}
