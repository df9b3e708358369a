package k8s

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

var scenarioSrc = []byte("name: launch-day\nprofile:\n  - hold: {rate: 10/s, duration: 1s}\n")

func options() Options {
	return Options{Scenario: "launch-day", ScenarioYAML: scenarioSrc, Shards: 10, Image: "registry.example/stampede:1.0",
		Target: "http://enrollment.staging.svc:8080", Namespace: "load", StartAt: time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC),
		RunArgs: []string{"--rate-scale", "10"}}
}

func roundTrip(t *testing.T, o Options) *Manifests {
	t.Helper()
	m, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.WriteYAML(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(&buf)
	if err != nil {
		t.Fatalf("the manifests do not decode strictly: %v\n%s", err, buf.String())
	}
	return back
}

func TestManifestsDecodeStrictlyWithTheJobsFields(t *testing.T) {
	m := roundTrip(t, options())
	job := m.Job.Spec
	switch {
	case m.Job.Name != "stampede-launch-day" || m.Job.Namespace != "load":
		t.Fatalf("job %s/%s", m.Job.Namespace, m.Job.Name)
	case job.CompletionMode == nil || *job.CompletionMode != batchv1.IndexedCompletion:
		t.Fatalf("completionMode %v, want Indexed", job.CompletionMode)
	case job.Completions == nil || *job.Completions != 10 || job.Parallelism == nil || *job.Parallelism != 10:
		t.Fatalf("completions %v parallelism %v, want 10 and 10", job.Completions, job.Parallelism)
	case job.BackoffLimitPerIndex == nil || *job.BackoffLimitPerIndex != 0:
		t.Fatalf("backoffLimitPerIndex %v, want 0", job.BackoffLimitPerIndex)
	case job.PodReplacementPolicy == nil || *job.PodReplacementPolicy != batchv1.Failed:
		t.Fatalf("podReplacementPolicy %v, want Failed", job.PodReplacementPolicy)
	case job.Template.Spec.RestartPolicy != corev1.RestartPolicyNever:
		t.Fatalf("restartPolicy %q, want Never", job.Template.Spec.RestartPolicy)
	}
	c := job.Template.Spec.Containers[0]
	if len(c.Env) != 1 || c.Env[0].Name != "JOB_COMPLETION_INDEX" || c.Env[0].ValueFrom == nil || c.Env[0].ValueFrom.FieldRef == nil ||
		c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Fatalf("env %+v: want JOB_COMPLETION_INDEX from the completion-index annotation", c.Env)
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"run /etc/stampede/scenario.yaml ", "--target http://enrollment.staging.svc:8080 ",
		"--shard-index $(JOB_COMPLETION_INDEX) --shards 10 ", "--start-at 2026-12-08T09:00:00Z ",
		"--out /runs/stampede-launch-day/shard-$(JOB_COMPLETION_INDEX) ", "--results none ", " --rate-scale 10"} {
		if !strings.Contains(args+" ", want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if c.Image != "registry.example/stampede:1.0" || !slices.Equal(c.Command, []string{Binary}) {
		t.Errorf("image %q command %q", c.Image, c.Command)
	}
	if sc := job.Template.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("pods may run as root: %+v", sc)
	}
	if got := m.ConfigMap.Data[ScenarioFile]; got != string(scenarioSrc) || m.ConfigMap.Name != "stampede-launch-day-scenario" {
		t.Errorf("configmap %s holds %q", m.ConfigMap.Name, got)
	}
	if !slices.Contains(m.Claim.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("claim %v: the shards on many nodes need ReadWriteMany", m.Claim.Spec.AccessModes)
	}
	vols := map[string]corev1.Volume{}
	for _, v := range job.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	if vols["scenario"].ConfigMap == nil || vols["scenario"].ConfigMap.Name != m.ConfigMap.Name ||
		vols["runs"].PersistentVolumeClaim == nil || vols["runs"].PersistentVolumeClaim.ClaimName != m.Claim.Name {
		t.Errorf("volumes %+v do not mount the ConfigMap and the claim", vols)
	}
	if m.Collector.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != m.Claim.Name {
		t.Errorf("the collector does not mount the claim")
	}
}

func TestDecodeRejectsUnknownFields(t *testing.T) {
	m, err := Build(options())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m.WriteYAML(&buf)
	for name, edit := range map[string]func(string) string{
		"unknown field": func(s string) string {
			return strings.Replace(s, "  completionMode: Indexed\n", "  completionMode: Indexed\n  completionsMode: Indexed\n", 1)
		},
		"duplicate field": func(s string) string {
			return strings.Replace(s, "  completions: 10\n", "  completions: 10\n  completions: 11\n", 1)
		},
		"unexpected kind":  func(s string) string { return strings.Replace(s, "kind: Pod\n", "kind: Deployment\n", 1) },
		"a missing object": func(s string) string { return s[:strings.LastIndex(s, "\n---\n")+1] },
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(strings.NewReader(edit(buf.String()))); err == nil {
				t.Fatal("decoded")
			}
		})
	}
}

func TestBuildRefusesBadOptions(t *testing.T) {
	for name, tt := range map[string]struct {
		edit func(*Options)
		want string
	}{
		"no shards":        {func(o *Options) { o.Shards = 0 }, "--shards 0"},
		"no image":         {func(o *Options) { o.Image = "" }, "--image"},
		"target not url":   {func(o *Options) { o.Target = "enrollment:8080" }, "--target"},
		"bad namespace":    {func(o *Options) { o.Namespace = "Load_Test" }, "--namespace"},
		"bad name":         {func(o *Options) { o.Name = "-x" }, "--name"},
		"bad memory":       {func(o *Options) { o.Memory = "lots" }, "--memory"},
		"no start":         {func(o *Options) { o.StartAt = time.Time{} }, "--start-at"},
		"scenario too big": {func(o *Options) { o.ScenarioYAML = bytes.Repeat([]byte("#"), 1<<20) }, "ConfigMap"},
	} {
		t.Run(name, func(t *testing.T) {
			o := options()
			tt.edit(&o)
			_, err := Build(o)
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want bad input naming %q", err, tt.want)
			}
		})
	}
}
