// Package merge owns a run's merge inputs and the exact merge of run
// folders. The merge inputs stay small whatever the run's length: the
// latency interval log (latency.hlog: one HdrHistogram per step and due
// second) and the counters (counters.json: what the run was, and the
// reports.Tally of its accumulator). From them a run's Accumulator is
// rebuilt exactly, and the shards of one run merge into the accumulator of
// all their requests: histograms bucket by bucket, counters and series by
// adding, error modes keeping the earliest onset.
//
// It imports reports alone; it must not import the engines (replay, sim)
// nor any renderer.
package merge

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/stampede-load/stampede/reports"
)

// ErrBadInput marks run folders that cannot be read or merged: a missing
// or malformed file, runs of different scenarios, seeds or shard plans, an
// incomplete set of shards. The CLI maps it to exit code 2.
var ErrBadInput = errors.New("bad input")

// SummaryFile is the name of the summary a merge writes (the run folder's
// summary.json contract).
const SummaryFile = "summary.json"

// Run is a run folder's merge inputs, loaded: what the run was and its
// accumulator, whole.
type Run struct {
	Dirs   []string // the folders it was loaded from
	Header Header
	Acc    *reports.Accumulator
}

// Summary computes the run's summary, gates evaluated on its own data.
func (r *Run) Summary() *reports.Summary {
	s, _ := r.SummaryWith(nil) // no gate of its own to refuse
	return s
}

// SummaryWith is Summary judging gates besides the run's own (stampede
// report --gate). A gate the run cannot judge (a step it has no figures
// of, a window longer than it) is an error wrapping ErrBadInput.
func (r *Run) SummaryWith(gates []reports.Gate) (*reports.Summary, error) {
	meta := r.Header.meta()
	for _, g := range gates {
		if !slices.ContainsFunc(meta.Gates, func(h reports.Gate) bool { return h.Expr == g.Expr }) {
			meta.Gates = append(meta.Gates, g)
		}
	}
	s := r.Acc.Summary(meta)
	for _, g := range gates {
		if err := s.CheckGate(g); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadInput, strings.Join(r.Dirs, ", "), err)
		}
	}
	return s, nil
}

// Load reads one run folder as it is: a whole run, a merged one, or a
// single shard.
func Load(dir string) (*Run, error) {
	c, err := readCounters(dir)
	if err != nil {
		return nil, err
	}
	acc, err := restore([]string{dir}, []*Counters{c})
	if err != nil {
		return nil, err
	}
	return &Run{Dirs: []string{dir}, Header: c.Header, Acc: acc}, nil
}

// Runs loads the run folders dirs and merges them exactly into one run. A
// single folder of a whole run loads as it is. Shards must be all the
// shards of one run: the same scenario, source, seed, shard plan and
// start, every shard exactly once (a missing one is named). With out
// non-empty, the merged run's summary.json, counters.json and latency.hlog
// are written there, so the merged folder is itself a run that loads,
// reports and merges.
func Runs(dirs []string, out string) (*Run, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%w: no run folder to merge", ErrBadInput)
	}
	cs := make([]*Counters, len(dirs))
	errs := make([]error, len(dirs))
	parallel(len(dirs), func(i int) { cs[i], errs[i] = readCounters(dirs[i]) })
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	h, err := mergedHeader(dirs, cs)
	if err != nil {
		return nil, err
	}
	acc, err := restore(dirs, cs)
	if err != nil {
		return nil, err
	}
	run := &Run{Dirs: dirs, Header: h, Acc: acc}
	if out == "" {
		return run, nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	if err := writeIntervals(filepath.Join(out, IntervalsFile), dirs); err != nil {
		return nil, err
	}
	if err := WriteCounters(filepath.Join(out, CountersFile), &Counters{Header: h, Tally: acc.Tally()}); err != nil {
		return nil, err
	}
	if err := reports.WriteSummaryFile(filepath.Join(out, SummaryFile), run.Summary()); err != nil {
		return nil, err
	}
	return run, nil
}

// parallel calls fn(i) for i in [0, n) on as many goroutines as there are
// cores, and returns when all calls have.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	work := make(chan int)
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := range work {
				fn(i)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

// writeIntervals writes the merged run's interval log: every entry of the
// folders' logs, as they are (entries add up, so the log of all the shards'
// requests is their entries together).
func writeIntervals(path string, dirs []string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	defer f.Close()
	w := NewIntervalWriter(f)
	for _, d := range dirs {
		src, err := os.Open(filepath.Join(d, IntervalsFile))
		if err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		err = copyEntries(w, src)
		src.Close()
		if err != nil {
			return fmt.Errorf("merge: %s: %w", src.Name(), err)
		}
	}
	if err := errors.Join(w.Close(), f.Close()); err != nil {
		return fmt.Errorf("merge: %s: %w", path, err)
	}
	return nil
}

// IsShard reports whether dir holds the merge inputs of one shard of a
// run (a run with --shard k/n, n > 1, not yet merged).
func IsShard(dir string) bool {
	c, err := readCounters(dir)
	return err == nil && c.Shard != ""
}

// ShardsIn lists the shards' folders directly inside dir, sorted, when dir
// is not a run folder itself: the folder a fleet's run folders were
// collected into. It is nil otherwise.
func ShardsIn(dir string) []string {
	if _, err := os.Stat(filepath.Join(dir, CountersFile)); err == nil {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var shards []string
	for _, e := range entries {
		if p := filepath.Join(dir, e.Name()); e.IsDir() && IsShard(p) {
			shards = append(shards, p)
		}
	}
	return shards
}

func readCounters(dir string) (*Counters, error) {
	path := filepath.Join(dir, CountersFile)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s: not a run folder with merge inputs (no %s)", ErrBadInput, dir, CountersFile)
		}
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	defer f.Close()
	return DecodeCounters(f, path)
}

// mergedHeader checks that the runs are the shards of one run, all of
// them, and says what the merged run is.
func mergedHeader(dirs []string, cs []*Counters) (Header, error) {
	if len(cs) == 1 && cs[0].Shard == "" {
		return cs[0].Header, nil
	}
	first := cs[0]
	_, plan, _ := parseShard(first.Shard)
	seen := make(map[int]string)
	h := first.Header
	h.Shard, h.Shards = "", 0
	for i, c := range cs {
		switch {
		case c.Shard == "" || c.Shards > 0:
			return Header{}, fmt.Errorf("%w: %s is not a shard (run with --shard k/n); only the shards of one run merge", ErrBadInput, dirs[i])
		case c.Scenario != first.Scenario:
			return Header{}, fmt.Errorf("%w: %s is of scenario %q, %s of %q: only the shards of one run merge", ErrBadInput, dirs[i], c.Scenario, dirs[0], first.Scenario)
		case c.Source != first.Source:
			return Header{}, fmt.Errorf("%w: %s is a %s run, %s a %s run", ErrBadInput, dirs[i], c.Source, dirs[0], first.Source)
		case c.Seed != first.Seed:
			return Header{}, fmt.Errorf("%w: %s has seed %d, %s seed %d: only the shards of one run merge", ErrBadInput, dirs[i], c.Seed, dirs[0], first.Seed)
		case !c.StartAt.Equal(first.StartAt):
			return Header{}, fmt.Errorf("%w: %s started at %s, %s at %s: shards of one run share --start-at", ErrBadInput, dirs[i], c.StartAt, dirs[0], first.StartAt)
		case c.Duration != first.Duration:
			return Header{}, fmt.Errorf("%w: %s planned %s, %s %s: only the shards of one run merge", ErrBadInput, dirs[i], c.Duration, dirs[0], first.Duration)
		case !slices.Equal(c.Gates, first.Gates):
			return Header{}, fmt.Errorf("%w: %s has gates %q, %s %q", ErrBadInput, dirs[i], c.Gates, dirs[0], first.Gates)
		}
		k, n, _ := parseShard(c.Shard)
		if n != plan {
			return Header{}, fmt.Errorf("%w: %s is shard %s, %s shard %s: different shard plans", ErrBadInput, dirs[i], c.Shard, dirs[0], first.Shard)
		}
		if d, dup := seen[k]; dup {
			return Header{}, fmt.Errorf("%w: %s and %s are both shard %s", ErrBadInput, d, dirs[i], c.Shard)
		}
		seen[k] = dirs[i]
		h.Interrupted = h.Interrupted || c.Interrupted
	}
	var missing []string
	for k := 1; k <= plan; k++ {
		if _, ok := seen[k]; !ok {
			missing = append(missing, fmt.Sprintf("%d/%d", k, plan))
		}
	}
	if len(missing) > 0 {
		return Header{}, fmt.Errorf("%w: shard %s of %s missing: merge all %d shards", ErrBadInput, strings.Join(missing, ", "), first.Scenario, plan)
	}
	h.Shards = plan
	return h, nil
}
