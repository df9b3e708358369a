// Package replay is stampede's load engine. It replays a scenario against a
// real HTTP target in an open model: journeys arrive when the scenario's
// profile says, whatever the target does, and every request's latency is
// counted from the moment it was due, so time spent waiting inside the
// generator is never hidden (no coordinated omission). Results stream to a
// file in the run folder as they happen; memory stays flat however long the
// run.
//
// replay owns the engine and a run's folder (results, summary, run.json,
// the saturation search's steps); what a result means, and when a search
// stops, is reports'. It imports scenarios and reports and their
// sub-packages; it must not import mocks, sim or cmd.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

// ErrBadInput marks problems with the options or the target that the user
// must fix (an unreachable target, a malformed URL, an impossible shard).
// The CLI maps it to exit code 2.
var ErrBadInput = errors.New("bad input")

// Options configure one run. Scenario and Target are required; the zero
// value of everything else picks the defaults documented on each field.
type Options struct {
	Scenario *scenarios.Scenario
	Target   string // base URL of the system under test, e.g. http://127.0.0.1:8080

	// MaxInflight caps the journeys in flight at once (default 10,000). An
	// arrival over the cap waits for a slot, and its wait counts in its
	// latency; past MaxWait it is dropped and counted.
	MaxInflight int
	MaxWait     time.Duration // default 1s

	// Grace is how long journeys already running may go on once arrivals
	// stop, at the end of the profile or on interruption (default 10s).
	// After it, requests still open are cancelled and recorded as such.
	Grace time.Duration

	Shard Shard // which part of the load this process sends; the zero value is all of it

	// StartAt is the instant every shard of a run starts its schedule
	// from; zero starts now. Run waits for it, and refuses (bad input) a
	// start already more than StartTolerance past.
	StartAt        time.Time
	StartTolerance time.Duration // default 2s

	// Info is recorded in the run folder's run.json; Run fills in the
	// scenario, seed, target and start time.
	Info RunInfo

	// Abort, when set, can end the run early (reports.GateWatch, for
	// abort_on_fail gates, is one; add it to Sinks too so it sees the
	// results). It stops the run as an interruption would, but the run is
	// not interrupted: the outcome and summary carry the lost gate.
	Abort reports.Abort

	// Sinks receive every result as it ends, after the results file and
	// the run's accumulator, from the engine's collector goroutine.
	Sinks []reports.Sink

	// PaceGC lets Run lower the garbage collector's percentage (GOGC, for
	// the whole process) while many journeys are in flight, so that the
	// heap grows about 32 MB between collections rather than a multiple of
	// a large live heap: never above the percentage in effect when Run
	// starts, never below 25, and restored when Run returns. For a command
	// that owns its process and runs one Run at a time.
	PaceGC bool

	// Generator measures the generator's own health during the run (nil:
	// Run makes its own); give one to read it live. The summary's
	// "generator" object is its final Snapshot.
	Generator *GeneratorMeter

	// Dir is the run folder, created if missing; results.jsonl,
	// summary.json and the merge inputs (latency.hlog, counters.json) are
	// written there.
	Dir string

	// Results says which results go to results.jsonl (default all); the
	// summary and the merge inputs are written whatever it says.
	Results ResultsMode

	// Progress receives live progress lines; nil for none. Terminal chooses
	// a redrawn single line (true) or a plain line every ProgressEvery
	// (false, for CI logs).
	Progress      io.Writer
	Terminal      bool
	ProgressEvery time.Duration // default 1s on a terminal, 5s otherwise

	// Dial, when set, replaces the dialer of the engine's HTTP client (the
	// reachability check still dials the target for real). Tests serve a
	// target on an in-memory network through it (internal/memnet), or
	// watch what the client reads.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Shard selects part k (from 0) of n of a run split across processes. The
// shards are stripes of the single-process schedule: shard k plays the
// global arrivals k, k+n, k+2n, … at exactly their intended times, as users
// k, k+n, …, so together the shards replay the single-process run's
// arrivals, no more and no fewer, whatever n.
type Shard struct {
	K, N int
}

// ParseShard reads "k/n" with 1 ≤ k ≤ n, as people count shards; the
// returned Shard counts from 0.
func ParseShard(s string) (Shard, error) {
	var k, n int
	if _, err := fmt.Sscanf(s, "%d/%d", &k, &n); err != nil || n < 1 || k < 1 || k > n || fmt.Sprintf("%d/%d", k, n) != s {
		return Shard{}, fmt.Errorf("%w: --shard %q: want k/n with 1 <= k <= n, e.g. 1/4", ErrBadInput, s)
	}
	return Shard{K: k - 1, N: n}, nil
}

func (o *Options) setDefaults() {
	if o.MaxInflight <= 0 {
		o.MaxInflight = 10000
	}
	if o.MaxWait <= 0 {
		o.MaxWait = time.Second
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Second
	}
	if o.Shard.N == 0 {
		o.Shard = Shard{K: 0, N: 1}
	}
	if o.Results == "" {
		o.Results = ResultsAll
	}
	if o.StartTolerance <= 0 {
		o.StartTolerance = 2 * time.Second
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
		if o.Terminal {
			o.ProgressEvery = time.Second
		}
	}
}

// validate checks what Run needs before it sends anything.
func (o *Options) validate() error {
	if o.Scenario == nil {
		return fmt.Errorf("%w: no scenario", ErrBadInput)
	}
	if o.Dir == "" {
		return fmt.Errorf("%w: no run folder", ErrBadInput)
	}
	u, err := url.Parse(o.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: target %q is not an http:// or https:// URL", ErrBadInput, o.Target)
	}
	if _, err := ParseResultsMode(string(o.Results)); err != nil {
		return err
	}
	if o.Shard.N < 1 || o.Shard.K < 0 || o.Shard.K >= o.Shard.N {
		return fmt.Errorf("%w: shard %d/%d is out of range", ErrBadInput, o.Shard.K+1, o.Shard.N)
	}
	return nil
}

// ResultsMode says which results a run writes to its per-request file:
// at about 430 bytes a request, a long run's file runs to gigabytes, while
// its merge inputs stay small.
type ResultsMode string

// The results modes.
const (
	ResultsAll    ResultsMode = "all"    // every result (the default)
	ResultsErrors ResultsMode = "errors" // failed and dropped requests only
	ResultsNone   ResultsMode = "none"   // no results file
)

// ParseResultsMode reads all, errors or none.
func ParseResultsMode(s string) (ResultsMode, error) {
	switch m := ResultsMode(s); m {
	case ResultsAll, ResultsErrors, ResultsNone:
		return m, nil
	}
	return "", fmt.Errorf("%w: --results %q: want all, errors or none", ErrBadInput, s)
}

// filter returns the sink of the results file under mode m.
func (m ResultsMode) filter(file reports.Sink) reports.Sink {
	switch m {
	case ResultsNone:
		return reports.SinkFunc(func(*reports.Result) {})
	case ResultsErrors:
		return reports.SinkFunc(func(r *reports.Result) {
			if reports.Classify(r) != reports.ModeNone {
				file.Add(r)
			}
		})
	}
	return file
}

// Plays reports whether global arrival g belongs to this shard.
func (s Shard) Plays(g uint64) bool { return g%uint64(s.N) == uint64(s.K) }

// String formats the shard as people count it, "k/n" from 1.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.K+1, s.N) }

// base returns the target without a trailing slash, as steps expect.
func (o *Options) base() string { return strings.TrimRight(o.Target, "/") }
