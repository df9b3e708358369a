package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/replay/k8s"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/merge"
	"github.com/stampede-load/stampede/reports/resultsfile"
)

// arrivalOf is an arrival as the schedule defines it.
type arrivalOf struct {
	due       time.Duration // after the run's start
	seq, user uint64
}

// readRun reads a run folder's results and its start.
func readRun(t *testing.T, dir string) ([]reports.Result, time.Time) {
	t.Helper()
	info, err := replay.ReadRunInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	var rs []reports.Result
	if _, err := resultsfile.ReadFile(filepath.Join(dir, replay.ResultsFile), reports.SinkFunc(func(r *reports.Result) {
		rs = append(rs, *r)
	})); err != nil {
		t.Fatal(err)
	}
	return rs, info.StartedAt
}

func arrivals(rs []reports.Result, start time.Time) []arrivalOf {
	var out []arrivalOf
	for _, r := range rs {
		if r.Arrival {
			out = append(out, arrivalOf{r.Intended.Sub(start), r.Seq, r.User})
		}
	}
	slices.SortFunc(out, func(a, b arrivalOf) int { return int(a.seq) - int(b.seq) })
	return out
}

// kubeletVar is a $(VAR) reference in a container's args.
var kubeletVar = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// podCommand is what the kubelet would run for pod index of the Job:
// the container's command and args, its env resolved as the Job
// controller sets the completion-index annotation, $(VAR) references
// expanded from that env, and each volume mount mapped to a local folder.
func podCommand(t *testing.T, job *batchv1.Job, cm *corev1.ConfigMap, index int, bin, root string) *exec.Cmd {
	t.Helper()
	spec := job.Spec.Template.Spec
	c := spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil &&
			e.ValueFrom.FieldRef.FieldPath == "metadata.annotations['"+batchv1.JobCompletionIndexAnnotation+"']":
			env[e.Name] = strconv.Itoa(index)
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		default:
			t.Fatalf("env %s: a source the test cannot resolve", e.Name)
		}
	}
	mounts := map[string]string{} // container path -> local folder
	for _, m := range c.VolumeMounts {
		local := filepath.Join(root, m.Name) // a claim: shared by the pods
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				local = filepath.Join(root, fmt.Sprint("pod-", index), m.Name) // each pod's own
				if v.ConfigMap.Name != cm.Name {
					t.Fatalf("volume %s mounts ConfigMap %s, not %s", v.Name, v.ConfigMap.Name, cm.Name)
				}
				os.MkdirAll(local, 0o755)
				for k, data := range cm.Data {
					os.WriteFile(filepath.Join(local, k), []byte(data), 0o644)
				}
			}
		}
		mounts[m.MountPath] = local
	}
	local := func(s string) string {
		s = kubeletVar.ReplaceAllStringFunc(s, func(ref string) string {
			if v, ok := env[ref[2:len(ref)-1]]; ok {
				return v
			}
			return ref
		})
		for path, dir := range mounts {
			if s == path || strings.HasPrefix(s, path+"/") {
				return dir + strings.TrimPrefix(s, path)
			}
		}
		return s
	}
	if c.Command[0] != k8s.Binary {
		t.Fatalf("command %q: the image's binary is %s", c.Command, k8s.Binary)
	}
	var args []string
	for _, a := range append(c.Command[1:], c.Args...) {
		args = append(args, local(a))
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// TestK8sJobRunLocallyEqualsOneProcess runs the Job's own pods as local
// processes, as the Job controller would start them, against one loopback
// server, and checks the merged run against a single-process run.
func TestK8sJobRunLocallyEqualsOneProcess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(2 * time.Millisecond)
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	bin := buildStampede(t)
	root := t.TempDir()
	path := filepath.Join(root, "fleet.yaml")
	os.WriteFile(path, []byte("name: fleet\nseed: 3\ntarget: "+srv.URL+"\nprofile:\n  - ramp: {from: 20/s, to: 100/s, duration: 1s}\n"+
		"journeys:\n  - name: j\n    weight: 1\n    steps:\n      - {name: get, method: GET, path: /}\n      - {name: slow, method: GET, path: /slow}\n"), 0o644)

	single := filepath.Join(root, "single")
	if code, _, stderr := cli(t, "run", path, "--out", single, "--quiet"); code != exitOK {
		t.Fatalf("single process: exit %d: %s", code, stderr)
	}
	singleResults, singleStart := readRun(t, single)

	const shards = 3
	startAt := time.Now().Add(1500 * time.Millisecond).UTC()
	code, manifest, stderr := cli(t, "k8s", path, "--shards", fmt.Sprint(shards), "--image", "registry.example/stampede:test",
		"--target", srv.URL, "--start-at", startAt.Format(time.RFC3339Nano), "--start-tolerance", "1m", "--results", "all")
	if code != exitOK {
		t.Fatalf("k8s: exit %d: %s", code, stderr)
	}
	m, err := k8s.Decode(strings.NewReader(manifest))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range shards {
		cmd := podCommand(t, m.Job, m.ConfigMap, i, bin, filepath.Join(root, "pod"))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("pod %d: %v\n%s", i, err, outs[i])
		}
	}

	runs := filepath.Join(root, "pod", "runs")
	var dirs []string
	var all []reports.Result
	var got []arrivalOf
	for i := range shards {
		dir := filepath.Join(runs, strings.TrimPrefix(k8s.ShardDir(m.Job.Name, strconv.Itoa(i)), k8s.RunsDir))
		dirs = append(dirs, dir)
		rs, start := readRun(t, dir)
		if !start.Equal(startAt) {
			t.Fatalf("shard %d started at %v, not the shared %v", i, start, startAt)
		}
		all = append(all, rs...)
		got = append(got, arrivals(rs, start)...)
	}
	slices.SortFunc(got, func(a, b arrivalOf) int { return int(a.seq) - int(b.seq) })
	if want := arrivals(singleResults, singleStart); !slices.Equal(got, want) || len(want) != 60 {
		t.Fatalf("the shards' arrivals (%d) are not the single process's (%d):\n got %v\nwant %v", len(got), len(want), got, want)
	}

	merged, err := merge.Runs(dirs, filepath.Join(root, "merged"))
	if err != nil {
		t.Fatal(err)
	}
	sum := merged.Summary()
	if sum.Requests != int64(len(singleResults)) || sum.Requests != int64(len(all)) || sum.Arrivals != 60 {
		t.Fatalf("merged %d requests, %d arrivals; the single process made %d, the shards' files hold %d",
			sum.Requests, sum.Arrivals, len(singleResults), len(all))
	}
	one := reports.NewAccumulator()
	for i := range all {
		one.Add(&all[i])
	}
	want := one.Summary(reports.SummaryMeta{})
	if sum.Latency != want.Latency || len(sum.Steps) != 2 || len(want.Steps) != 2 ||
		sum.Steps[0].Latency != want.Steps[0].Latency || sum.Steps[1].Latency != want.Steps[1].Latency {
		t.Fatalf("merged quantiles %+v (steps %+v), want those of one histogram of all the shards' results %+v (steps %+v)",
			sum.Latency, sum.Steps, want.Latency, want.Steps)
	}
}

func TestK8sBadInputExitsTwoWithOneLine(t *testing.T) {
	base := []string{"k8s", "ci-smoke", "--shards", "3", "--image", "reg/stampede:1", "--target", "http://stack:8080"}
	for name, tt := range map[string]struct {
		args []string
		want string
	}{
		"no image":              {[]string{"k8s", "ci-smoke", "--shards", "3", "--target", "http://stack:8080"}, "--image"},
		"zero shards":           {[]string{"k8s", "ci-smoke", "--shards", "0", "--image", "x", "--target", "http://stack:8080"}, "--shards 0"},
		"unknown scenario":      {[]string{"k8s", "no-such", "--shards", "3", "--image", "x", "--target", "http://stack:8080"}, "no-such"},
		"a run flag it sets":    {append(slices.Clone(base), "--", "--shard", "1/2"), "--shard is set by the manifests"},
		"an unknown run flag":   {append(slices.Clone(base), "--", "--nope"), "--nope"},
		"bad namespace":         {append(slices.Clone(base), "--namespace", "Load_Test"), "--namespace"},
		"bad start":             {append(slices.Clone(base), "--start-at", "tomorrow"), "--start-at"},
		"shard index past plan": {[]string{"run", "ci-smoke", "--shard-index", "3", "--shards", "3"}, "--shard-index 3 --shards 3"},
		"shard index and shard": {[]string{"run", "ci-smoke", "--shard-index", "0", "--shards", "3", "--shard", "1/3"}, "no --shard"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := cli(t, tt.args...)
			if code != exitBadInput || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q: want 2 and one line naming %q", code, stderr, tt.want)
			}
		})
	}
}

// TestK8sHelpSaysPodsDoNotFailOnGates: the help says why a shard exits 0
// on a failed gate, and where the gates are judged instead.
func TestK8sHelpSaysPodsDoNotFailOnGates(t *testing.T) {
	code, stdout, _ := cli(t, "k8s", "--help")
	for _, want := range []string{"A pod does not fail on the scenario's gates", "exits 0", "k6-operator #75", "'stampede merge'", "exits 3"} {
		if code != exitOK || !strings.Contains(strings.Join(strings.Fields(stdout), " "), want) {
			t.Fatalf("exit %d; k8s --help lacks %q:\n%s", code, want, stdout)
		}
	}
}
