package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/resultsfile"
)

// The files of a run folder, as the engines write them.
const (
	resultsFile    = "results.jsonl"
	summaryFile    = "summary.json"
	runInfoFile    = "run.json"
	saturationFile = "saturation.json"
)

// runInfo is the part of run.json a report uses.
type runInfo struct {
	Scenario  string    `json:"scenario"`
	TimeScale float64   `json:"time_scale"`
	RateScale float64   `json:"rate_scale"`
	Shard     string    `json:"shard"`
	StartedAt time.Time `json:"started_at"`
	Gates     []string  `json:"gates"` // the gates the run judges, written as it starts
}

// Loaded is a run read back from its folder.
type Loaded struct {
	Run
	Shard string // "k/n" when the run was one shard of several
}

// LoadRun reads the run in folder dir (or the results file or summary.json
// given directly). The results file is the source of the figures: the
// summary is rebuilt from it, so a run killed before it wrote its summary
// is still reported, and a summary written by an older version gains what
// the reports now draw. summary.json and run.json supply what the results
// do not hold (the planned duration, the SLO, the gates, the scales, an
// interruption); saturation.json makes it a saturation search, whose
// results are in its step folders. The run's gates are judged again on its
// results, whole run and windows, by the code the run judged them with;
// given a summary alone, they stay as the run judged them.
//
// warn receives one line per problem that does not stop the report: a
// results file cut short mid-line (read up to its last complete record), a
// missing summary. A folder that holds no run, or a file that is not what
// it should be, is an error wrapping ErrBadInput or a *reports.LineError
// naming the file and where.
func LoadRun(dir string, warn func(string)) (*Loaded, error) { return loadRun(dir, nil, warn) }

// loadRun is LoadRun judging extra gates besides the run's own.
func loadRun(dir string, extra []reports.Gate, warn func(string)) (*Loaded, error) {
	if warn == nil {
		warn = func(string) {}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	var resultsPaths []string
	summaryPath := filepath.Join(dir, summaryFile)
	switch {
	case !fi.IsDir() && filepath.Ext(dir) == ".json":
		summaryPath = dir
		dir = filepath.Dir(dir)
	case !fi.IsDir():
		resultsPaths = []string{dir}
		dir = filepath.Dir(dir)
		summaryPath = filepath.Join(dir, summaryFile)
	}
	l := &Loaded{Run: Run{Name: filepath.Base(dir)}}

	old, err := readSummary(summaryPath)
	if err != nil {
		return nil, err
	}
	var info runInfo
	if err := readJSON(filepath.Join(dir, runInfoFile), &info); err != nil {
		return nil, err
	}
	l.Shard = info.Shard
	var sat reports.SaturationReport
	if err := readJSON(filepath.Join(dir, saturationFile), &sat); err != nil {
		return nil, err
	}
	isSearch := sat.Saturation != nil || len(sat.Steps) > 0
	if isSearch {
		l.Saturation = &sat
	}

	if resultsPaths == nil && fi.IsDir() {
		if isSearch {
			resultsPaths, _ = filepath.Glob(filepath.Join(dir, "step-*", resultsFile))
			sort.Strings(resultsPaths)
		} else if _, err := os.Stat(filepath.Join(dir, resultsFile)); err == nil {
			resultsPaths = []string{filepath.Join(dir, resultsFile)}
		}
	}
	if len(resultsPaths) == 0 {
		if old == nil {
			return nil, fmt.Errorf("%w: %s: not a run folder: no %s or %s in it", ErrBadInput, dir, resultsFile, summaryFile)
		}
		warn(dir + ": no results file: the report shows " + summaryFile + " as it is")
		if err := checkGates(dir, old, extra); err != nil {
			return nil, err
		}
		// The run's gates stay as the run judged them: a summary alone
		// cannot judge a window again.
		var judged []string
		for _, g := range old.Gates {
			judged = append(judged, g.Expr)
		}
		old.Gates = append(old.Gates, reports.EvaluateGates(old, newGates(judged, extra))...)
		l.Summary = old
		return l, nil
	}
	gates, err := recordedGates(dir, old, &info)
	if err != nil {
		return nil, err
	}
	var recorded []string
	for _, g := range gates {
		recorded = append(recorded, g.Expr)
	}
	gates = append(gates, newGates(recorded, extra)...)

	meta, start := summaryMeta(old, &info, l.Saturation)
	var opts []reports.Option
	if !start.IsZero() {
		opts = append(opts, reports.WithStart(start))
	}
	acc := reports.NewAccumulator(opts...)
	scenario := ""
	for _, p := range resultsPaths {
		name, err := addResults(acc, p, warn)
		if err != nil {
			return nil, err
		}
		if scenario == "" {
			scenario = name
		}
	}
	if meta.Scenario == "" {
		meta.Scenario = scenario
	}
	if old == nil {
		warn(dir + ": no " + summaryFile + ": the run did not finish; the report covers the results written")
		meta.Interrupted = true
	}
	if l.Saturation == nil {
		meta.Gates = gates
	}
	s := acc.Summary(meta)
	if l.Saturation != nil {
		reports.SetStepOnsets(s, l.Saturation.Steps)
		s.Saturation = l.Saturation.Saturation
		s.Metastability = nil // separate runs at fixed rates: no decline to recover in
		if len(gates) > 0 {
			s.Gates = acc.JudgeGates(s, gates) // once the saturation point is set, as the search judges
		}
	}
	if err := checkGates(dir, s, extra); err != nil {
		return nil, err
	}
	l.Summary = s
	return l, nil
}

// recordedGates are the gates the run judged, to judge again on its
// results: from its summary, else (a run killed before it wrote one) from
// run.json, which the run wrote as it started.
func recordedGates(dir string, old *reports.Summary, info *runInfo) ([]reports.Gate, error) {
	exprs, from := info.Gates, runInfoFile
	if old != nil {
		exprs, from = nil, summaryFile
		for _, g := range old.Gates {
			exprs = append(exprs, g.Expr)
		}
	}
	gates := make([]reports.Gate, 0, len(exprs))
	for _, expr := range exprs {
		g, err := reports.ParseGate(expr)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: gate %q: %w", ErrBadInput, filepath.Join(dir, from), expr, err)
		}
		gates = append(gates, g)
	}
	return gates, nil
}

// newGates are the gates of extra not already among judged (expressions).
func newGates(judged []string, extra []reports.Gate) []reports.Gate {
	var out []reports.Gate
	for _, g := range extra {
		if !slices.Contains(judged, g.Expr) {
			out = append(out, g)
			judged = append(judged, g.Expr)
		}
	}
	return out
}

// checkGates refuses a gate of extra that the run cannot judge: a step it
// has no figures of, a window longer than it.
func checkGates(dir string, s *reports.Summary, extra []reports.Gate) error {
	for _, g := range extra {
		if err := s.CheckGate(g); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrBadInput, dir, err)
		}
	}
	return nil
}

// summaryMeta rebuilds the meta a run gave its summary from what its
// folder kept, and the run's start.
func summaryMeta(old *reports.Summary, info *runInfo, sat *reports.SaturationReport) (reports.SummaryMeta, time.Time) {
	meta := reports.SummaryMeta{Source: "replay", Series: true, TimeScale: info.TimeScale, RateScale: info.RateScale, Scenario: info.Scenario}
	start := info.StartedAt
	if sat != nil && !sat.StartedAt.IsZero() {
		start = sat.StartedAt
	}
	if old == nil {
		return meta, start
	}
	meta.Scenario, meta.Source, meta.Interrupted, meta.Aborted = old.Scenario, old.Source, old.Interrupted, old.Aborted
	meta.Duration = time.Duration(old.DurationS * float64(time.Second))
	if old.TimeScale > 0 {
		meta.TimeScale = old.TimeScale
	}
	if old.RateScale > 0 {
		meta.RateScale = old.RateScale
	}
	if old.SLO != "" {
		if slo, err := reports.ParseSLO(old.SLO, reports.DefaultSLO); err == nil {
			meta.SLO = slo
		}
	}
	if !old.StartedAt.IsZero() {
		start = old.StartedAt
	}
	if old.Metastability != nil && !old.Metastability.Estimated {
		meta.SaturationRate = old.Metastability.SaturationRate
	}
	return meta, start
}

// addResults feeds a results file to acc and returns its scenario name.
// Decoding and accumulating take about the same time, so they run on two
// goroutines, handing results over in batches.
func addResults(acc *reports.Accumulator, path string, warn func(string)) (string, error) {
	pipe := reports.NewPipe(acc)
	info, err := resultsfile.ReadFile(path, pipe)
	pipe.Close()
	if err != nil {
		if _, ok := errors.AsType[*resultsfile.LineError](err); ok {
			return "", err
		}
		return "", fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	if info.Truncated {
		warn(fmt.Sprintf("%s: cut short at byte %d (a run killed mid-write?): read up to its last complete result, %d results", path, info.TruncatedAt, info.Results))
	}
	return info.Attack, nil
}

// readSummary reads summary.json, nil when there is none.
func readSummary(path string) (*reports.Summary, error) {
	s, err := reports.ReadSummary(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%w: %w%s", ErrBadInput, err, jsonOffset(err))
	}
	return s, nil
}

// jsonOffset says where in its file a JSON error is, when the decoder
// knows: " (at byte 1234)".
func jsonOffset(err error) string {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Sprintf(" (at byte %d)", se.Offset)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Sprintf(" (at byte %d)", te.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return " (the file is cut short)"
	}
	return ""
}

// readJSON decodes path into v, leaving v as it was when there is no file.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || (errors.As(err, new(*json.SyntaxError)) && strings.Contains(err.Error(), "unexpected end")) {
			return fmt.Errorf("%w: %s: cut short at byte %d", ErrBadInput, path, len(b))
		}
		return fmt.Errorf("%w: %s: %w%s", ErrBadInput, path, err, jsonOffset(err))
	}
	return nil
}

// LoadRuns reads each run of paths (see LoadRun) to report them side by
// side: a measured run and a simulated one, or runs to set against each
// other. Shards of one run are refused: they are one run, and reporting
// them means merging them first.
//
// gates are judged on every run besides its own (stampede report --gate),
// on its results, over the whole run and windows, by the code the run
// judges its gates with; a gate naming a step a run does not have, or a
// window longer than it, is an error wrapping ErrBadInput.
func LoadRuns(paths []string, gates []reports.Gate, warn func(string)) ([]*Run, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: name at least one run folder", ErrBadInput)
	}
	runs := make([]*Run, 0, len(paths))
	var shards []string
	for _, p := range paths {
		l, err := loadRun(p, gates, warn)
		if err != nil {
			return nil, err
		}
		if l.Shard != "" {
			shards = append(shards, p+" (shard "+l.Shard+")")
		}
		runs = append(runs, &l.Run)
	}
	if len(shards) > 1 {
		return nil, fmt.Errorf("%w: %s are shards of one run: merge them first (stampede merge), then report the merged run", ErrBadInput, joinAnd(shards))
	}
	return runs, nil
}
