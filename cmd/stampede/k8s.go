package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stampede-load/stampede/replay/k8s"
	"github.com/stampede-load/stampede/scenarios"
)

// k8sOptions are the flags of `stampede k8s`.
type k8sOptions struct {
	k8s.Options
	scenario string
	startAt  string
	lead     time.Duration
	runArgs  []string
}

func newCmdK8s(st *state) *cobra.Command {
	o := &k8sOptions{}
	cmd := &cobra.Command{
		Use:   "k8s SCENARIO --shards N --image IMAGE --target URL [flags] [-- RUN FLAGS]",
		Short: "Print the Kubernetes manifests that replay a scenario as the shards of an Indexed Job",
		Long: `k8s prints a ConfigMap holding the scenario, a ReadWriteMany PersistentVolumeClaim
for the run folders, an Indexed Job of N pods (pod i runs 'stampede run --shard-index i
--shards N' from one shared --start-at; a shard never runs twice) and a collector pod
to copy the run folders out for 'stampede merge'. Flags after -- go to every shard's
'stampede run', e.g. -- --rate-scale 10.

A pod does not fail on the scenario's gates: a shard sees one stripe of the load,
and a failed pod would mark the Job failed (or, retried, run its stripe twice:
k6-operator #75). Each shard shows its own gates but exits 0; they are judged
fleet-wide by 'stampede merge' of the collected run folders, which exits 3 when one
fails. Only an abort_on_fail gate stops a shard, with exit 3 (never retried:
backoffLimitPerIndex 0).`,
		Example: `  stampede k8s launch-day --shards 10 --image registry.example/stampede:1.0 \
      --target http://enrollment.staging.svc:8080 --namespace load -- --rate-scale 10 | kubectl apply -f -`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.scenario = args[0]
			if at := cmd.ArgsLenAtDash(); at >= 0 {
				if at != 1 {
					return fmt.Errorf("%w: k8s takes one scenario before --", errUsage)
				}
				o.runArgs = args[1:]
			} else if len(args) > 1 {
				return fmt.Errorf("%w: k8s takes one scenario; put run flags after --", errUsage)
			}
			return k8sRun(st, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Shards, "shards", 0, "pods, each one stripe of the single-process schedule (required)")
	f.StringVar(&o.Image, "image", "", "image built from the Dockerfile (required)")
	f.StringVar(&o.Target, "target", "", "URL the pods reach the stack at (required)")
	f.StringVar(&o.Namespace, "namespace", "default", "namespace of every object")
	f.StringVar(&o.Name, "name", "", "name of the Job and prefix of the other objects (default stampede-SCENARIO)")
	f.StringVar(&o.startAt, "start-at", "", "shared start, RFC 3339 (default: now + --lead)")
	f.DurationVar(&o.lead, "lead", 2*time.Minute, "with no --start-at: how far ahead to start, for pods to be scheduled and pull the image")
	f.DurationVar(&o.StartTolerance, "start-tolerance", 30*time.Second, "a shard starting later than this past --start-at fails instead of running out of phase")
	f.StringVar(&o.Results, "results", "none", "the shards' --results: all, errors or none")
	f.StringVar(&o.StorageClass, "storage-class", "", "storage class of the run folders' claim; it must allow ReadWriteMany (default: the cluster's)")
	f.StringVar(&o.Storage, "storage", "1Gi", "size of the run folders' claim")
	f.StringVar(&o.CPU, "cpu", "2", "CPU each shard requests")
	f.StringVar(&o.Memory, "memory", "1Gi", "memory each shard requests and is limited to")
	return cmd
}

// flagsK8sSets are the run flags the manifests set themselves.
var flagsK8sSets = []string{"target", "shard", "shard-index", "shards", "start-at", "start-tolerance", "results", "out", "url"}

func k8sRun(st *state, o *k8sOptions) error {
	switch {
	case o.Shards < 1:
		return fmt.Errorf("%w: --shards %d: want at least 1", errUsage, o.Shards)
	case o.Image == "" || o.Target == "":
		return fmt.Errorf("%w: k8s needs --shards N, --image IMAGE and --target URL", errUsage)
	}
	var src []byte
	if b, ok := scenarios.StockFile(o.scenario); ok {
		src = b
	} else if _, err := scenarios.Resolve(o.scenario); err != nil {
		return err // not a stock name, and not a valid scenario file: say which line
	} else if src, err = os.ReadFile(o.scenario); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	sc, err := scenarios.Resolve(o.scenario)
	if err != nil {
		return err
	}
	o.Scenario, o.ScenarioYAML = sc.Name, src

	// The shards must be able to run these flags: check them here, not
	// in ten pods.
	run := newCmdRun(st, nil)
	if err := run.Flags().Parse(o.runArgs); err != nil {
		return fmt.Errorf("%w: run flags after --: %w", errUsage, err)
	}
	for _, name := range flagsK8sSets {
		if run.Flags().Changed(name) {
			return fmt.Errorf("%w: run flags after --: --%s is set by the manifests", errUsage, name)
		}
	}
	if len(run.Flags().Args()) > 0 {
		return fmt.Errorf("%w: run flags after --: unexpected %q", errUsage, strings.Join(run.Flags().Args(), " "))
	}
	o.RunArgs = slices.Clone(o.runArgs)

	if o.startAt != "" {
		if o.StartAt, err = time.Parse(time.RFC3339Nano, o.startAt); err != nil {
			return fmt.Errorf("%w: --start-at %q: want an RFC 3339 time such as 2026-12-08T09:00:00Z", errUsage, o.startAt)
		}
	} else {
		o.StartAt = time.Now().Add(o.lead).UTC().Truncate(time.Second)
	}
	m, err := k8s.Build(o.Options)
	if err != nil {
		return err
	}
	return m.WriteYAML(st.stdout)
}
