// Package k8s builds the Kubernetes manifests that run one replay as the
// shards of an Indexed Job: a ConfigMap holding the scenario, a
// PersistentVolumeClaim the shards leave their run folders on, the Job
// itself (one pod per shard, each shard run exactly once), and a collector
// pod to copy the run folders out for `stampede merge`. The manifests are
// built from the official API types (k8s.io/api) so that what is printed is
// what the API server accepts.
//
// It only builds and reads manifests: it must not import the replay engine
// nor talk to a cluster.
package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// ErrBadInput marks options the user must fix. The CLI maps it to exit
// code 2.
var ErrBadInput = errors.New("bad input")

// Paths inside the shard containers.
const (
	Binary       = "/usr/local/bin/stampede" // where the Dockerfile puts the binary
	ScenarioDir  = "/etc/stampede"           // the ConfigMap's mount
	ScenarioFile = "scenario.yaml"           // the ConfigMap's key
	RunsDir      = "/runs"                   // the claim's mount
	IndexEnv     = "JOB_COMPLETION_INDEX"    // the pod's index, 0 to n-1, from the Job controller's annotation
)

// Options say what to run and where.
type Options struct {
	Name      string // the Job's name, and the prefix of the other objects'; default "stampede-" + the scenario's name
	Namespace string // default "default"

	Scenario     string // the scenario's name
	ScenarioYAML []byte // its source, put in the ConfigMap as it is

	Shards int    // pods, each one stripe of the single-process schedule
	Image  string // an image built from the Dockerfile
	Target string // the URL every shard replays against

	// StartAt is the shared start every shard waits for; a shard that
	// would start later than StartTolerance past it fails instead of
	// running out of phase.
	StartAt        time.Time
	StartTolerance time.Duration // default 30s

	Results string   // the shards' --results (default none: the merge inputs suffice)
	RunArgs []string // more `stampede run` flags, e.g. --rate-scale 10

	StorageClass string // of the claim, which must allow ReadWriteMany; empty for the cluster's default
	Storage      string // the claim's size (default 1Gi)
	CPU, Memory  string // each shard's requests (default 2 CPUs, 1Gi); memory is also its limit
}

// Manifests are the objects of one sharded replay.
type Manifests struct {
	ConfigMap *corev1.ConfigMap
	Claim     *corev1.PersistentVolumeClaim
	Job       *batchv1.Job
	Collector *corev1.Pod
}

// dnsLabel is what Kubernetes accepts as an object name here.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// maxShards bounds an Indexed Job's completions, as the API server does.
const maxShards = 100000

// Build returns the manifests for o, or an error wrapping ErrBadInput that
// names the option at fault.
func Build(o Options) (*Manifests, error) {
	if o.Name == "" {
		o.Name = "stampede-" + strings.ToLower(o.Scenario)
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.StartTolerance <= 0 {
		o.StartTolerance = 30 * time.Second
	}
	if o.Results == "" {
		o.Results = "none"
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Storage, "1Gi")
	def(&o.CPU, "2")
	def(&o.Memory, "1Gi")
	quantities := map[string]*resource.Quantity{}
	for flag, v := range map[string]string{"--storage": o.Storage, "--cpu": o.CPU, "--memory": o.Memory} {
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() <= 0 {
			return nil, fmt.Errorf("%w: %s %q: want a positive Kubernetes quantity such as 2, 500m or 1Gi", ErrBadInput, flag, v)
		}
		quantities[flag] = &q
	}
	switch {
	case len(o.Name) > 52 || !dnsLabel.MatchString(o.Name):
		// 63 less room for the suffixes of the objects and of the pods.
		return nil, fmt.Errorf("%w: --name %q: want at most 52 lower-case letters, digits and dashes", ErrBadInput, o.Name)
	case len(o.Namespace) > 63 || !dnsLabel.MatchString(o.Namespace):
		return nil, fmt.Errorf("%w: --namespace %q: not a namespace name", ErrBadInput, o.Namespace)
	case len(o.ScenarioYAML) == 0:
		return nil, fmt.Errorf("%w: no scenario source", ErrBadInput)
	case len(o.ScenarioYAML) > 900<<10:
		return nil, fmt.Errorf("%w: the scenario is %d bytes; a ConfigMap holds under 1 MiB", ErrBadInput, len(o.ScenarioYAML))
	case o.Shards < 1 || o.Shards > maxShards:
		return nil, fmt.Errorf("%w: --shards %d: want 1 to %d", ErrBadInput, o.Shards, maxShards)
	case o.Image == "" || strings.ContainsAny(o.Image, " \t\n"):
		return nil, fmt.Errorf("%w: --image %q: want an image reference such as registry.example/stampede:1.0", ErrBadInput, o.Image)
	case !strings.HasPrefix(o.Target, "http://") && !strings.HasPrefix(o.Target, "https://"):
		return nil, fmt.Errorf("%w: --target %q: want the http:// or https:// URL the pods reach the stack at", ErrBadInput, o.Target)
	case o.StartAt.IsZero():
		return nil, fmt.Errorf("%w: no --start-at", ErrBadInput)
	}
	labels := map[string]string{"app.kubernetes.io/name": "stampede", "app.kubernetes.io/instance": o.Name}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: labels}
	}
	m := &Manifests{
		ConfigMap: &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: meta(o.Name + "-scenario"),
			Data:       map[string]string{ScenarioFile: string(o.ScenarioYAML)},
		},
		Claim: &corev1.PersistentVolumeClaim{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
			ObjectMeta: meta(o.Name + "-runs"),
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *quantities["--storage"]}},
			},
		},
	}
	if o.StorageClass != "" {
		m.Claim.Spec.StorageClassName = &o.StorageClass
	}
	volumes := []corev1.Volume{
		{Name: "scenario", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: m.ConfigMap.Name}}}},
		{Name: "runs", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
			ClaimName: m.Claim.Name}}},
	}
	args := []string{"run", ScenarioDir + "/" + ScenarioFile,
		"--target", o.Target,
		"--shard-index", "$(" + IndexEnv + ")", "--shards", strconv.Itoa(o.Shards),
		"--start-at", o.StartAt.UTC().Format(time.RFC3339Nano), "--start-tolerance", o.StartTolerance.String(),
		"--results", o.Results,
		"--out", ShardDir(o.Name, "$("+IndexEnv+")")}
	args = append(args, o.RunArgs...)
	n := int32(o.Shards)
	zero := int32(0)
	replace := batchv1.Failed
	mode := batchv1.IndexedCompletion
	m.Job = &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta(o.Name),
		Spec: batchv1.JobSpec{
			CompletionMode: &mode,
			Completions:    &n,
			Parallelism:    &n,
			// A load shard never runs twice: a failed index stays failed,
			// and no pod is replaced before the old one has stopped.
			BackoffLimitPerIndex: &zero,
			PodReplacementPolicy: &replace,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:   corev1.RestartPolicyNever,
					SecurityContext: podSecurity(),
					Containers: []corev1.Container{{
						Name:    "shard",
						Image:   o.Image,
						Command: []string{Binary},
						Args:    args,
						Env: []corev1.EnvVar{{Name: IndexEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
							FieldPath: "metadata.annotations['" + batchv1.JobCompletionIndexAnnotation + "']"}}}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: *quantities["--cpu"], corev1.ResourceMemory: *quantities["--memory"]},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: *quantities["--memory"]},
						},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "scenario", MountPath: ScenarioDir, ReadOnly: true},
							{Name: "runs", MountPath: RunsDir},
						},
						SecurityContext: containerSecurity(),
					}},
					Volumes: volumes,
				},
			},
		},
	}
	m.Collector = &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: meta(o.Name + "-collect"),
		Spec: corev1.PodSpec{
			RestartPolicy:   corev1.RestartPolicyNever,
			SecurityContext: podSecurity(),
			Containers: []corev1.Container{{
				Name:  "collect",
				Image: "busybox:1.37", // has the tar that kubectl cp needs
				// Waits for the shards' folders to be copied out.
				Command:         []string{"sleep", "86400"},
				VolumeMounts:    []corev1.VolumeMount{{Name: "runs", MountPath: RunsDir, ReadOnly: true}},
				SecurityContext: containerSecurity(),
			}},
			Volumes: volumes[1:],
		},
	}
	return m, nil
}

// ShardDir is where shard index (0-based, or the $(JOB_COMPLETION_INDEX)
// reference) of the Job called name leaves its run folder in a container.
func ShardDir(name, index string) string { return RunsDir + "/" + name + "/shard-" + index }

func podSecurity() *corev1.PodSecurityContext {
	yes := true
	uid := int64(65532) // the image's user (Dockerfile)
	return &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid,
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
}

func containerSecurity() *corev1.SecurityContext {
	no, yes := false, true
	return &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
}

// WriteYAML writes the manifests as one YAML stream, in the order to apply
// them: the ConfigMap, the claim, the Job, the collector.
func (m *Manifests) WriteYAML(w io.Writer) error {
	for i, obj := range []any{m.ConfigMap, m.Claim, m.Job, m.Collector} {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return fmt.Errorf("manifests: %w", err)
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// Decode reads a YAML stream written by WriteYAML back into the API types,
// strictly: a field the types do not have, a duplicate field, a kind other
// than the four, or a missing one is an error.
func Decode(r io.Reader) (*Manifests, error) {
	b, err := io.ReadAll(io.LimitReader(r, 8<<20))
	if err != nil {
		return nil, err
	}
	m := &Manifests{}
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 ConfigMap":
			m.ConfigMap = &corev1.ConfigMap{}
			obj = m.ConfigMap
		case "v1 PersistentVolumeClaim":
			m.Claim = &corev1.PersistentVolumeClaim{}
			obj = m.Claim
		case "batch/v1 Job":
			m.Job = &batchv1.Job{}
			obj = m.Job
		case "v1 Pod":
			m.Collector = &corev1.Pod{}
			obj = m.Collector
		default:
			return nil, fmt.Errorf("document %d: unexpected %s %s", i+1, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i+1, tm.Kind, err)
		}
	}
	if m.ConfigMap == nil || m.Claim == nil || m.Job == nil || m.Collector == nil {
		return nil, errors.New("want a ConfigMap, a PersistentVolumeClaim, a Job and a Pod")
	}
	return m, nil
}
