package reports

import (
	"fmt"
	"strings"
)

// Generator is the load generator's own health over a run: whether it
// could send what the profile asked for, or was itself the limit. A
// measured run (replay) fills it; summary.json carries it as "generator".
// Times are in milliseconds, ratios in [0, 1].
type Generator struct {
	Verdict string   `json:"verdict"`            // GeneratorOK or GeneratorLimited
	Limits  []string `json:"limits,omitempty"`   // why the generator was the limit, one reason each
	Advice  string   `json:"advice,omitempty"`   // what to do about it, when limited
	Warning []string `json:"warnings,omitempty"` // close to a limit, or limits set by flags (the in-flight cap)

	Cores        int     `json:"cores"`            // GOMAXPROCS: the cores the process may use
	CPUMean      float64 `json:"cpu_mean"`         // process CPU time / (wall time × cores), over the run
	CPUPeak      float64 `json:"cpu_peak"`         // the same over the busiest sampling interval (1 s)
	PacerLagP99  float64 `json:"pacer_lag_p99_ms"` // how late arrivals left against their intended time (upper bound of its bucket)
	PacerLagMax  float64 `json:"pacer_lag_max_ms"`
	Arrivals     int64   `json:"arrivals"`       // arrivals dispatched by this process
	LateArrivals int64   `json:"late_arrivals"`  // dispatched more than LateArrivalMs after their intended time
	LateShare    float64 `json:"late_share"`     // LateArrivals / Arrivals
	GCPauseMs    float64 `json:"gc_pause_ms"`    // stop-the-world GC pauses, total
	GCPauseShare float64 `json:"gc_pause_share"` // of the wall time
	InFlightPeak int64   `json:"inflight_peak"`  // journeys in flight at once, highest seen
	InFlightCap  int     `json:"inflight_cap"`   // --max-inflight
	FDsPeak      int     `json:"fds_peak"`       // open file descriptors, highest seen (0 where unknown)
	FDLimit      int     `json:"fd_limit"`       // the process's soft limit (0 where unknown)
}

// Generator verdicts.
const (
	GeneratorOK      = "ok"
	GeneratorLimited = "limited"
)

// The thresholds past which the generator is judged to be the limit.
const (
	LateArrivalMs        = 50.0 // an arrival dispatched later than this is late: its latency carries 50 ms of the generator's
	MaxLateShare         = 0.05 // more late arrivals than this share, and at least MinLateArrivals of them
	MinLateArrivals      = 5
	MaxCPUPeak           = 0.90 // of the cores, over one sampling interval
	MaxGCPauseShare      = 0.05 // of the wall time
	MaxFDShare           = 0.90 // of the soft limit
	InFlightWarningShare = 0.95 // of the cap
)

// GeneratorAdvice is what to do when one process cannot offer the load.
const GeneratorAdvice = "the figures above are the generator's, not the target's: run fewer journeys per process (a lower --rate-scale or --rate), or split the load across processes or hosts with --shard k/n"

// Judge sets Verdict, Limits, Advice and Warning from the figures.
func (g *Generator) Judge() {
	g.Limits, g.Warning, g.Advice = nil, nil, ""
	if g.Arrivals > 0 {
		g.LateShare = float64(g.LateArrivals) / float64(g.Arrivals)
	}
	if g.LateArrivals >= MinLateArrivals && g.LateShare > MaxLateShare {
		g.Limits = append(g.Limits, fmt.Sprintf("pacer lag: %s of arrivals left more than %gms late (p99 %s, max %s)",
			FormatPercent(g.LateShare), LateArrivalMs, FormatMillis(g.PacerLagP99), FormatMillis(g.PacerLagMax)))
	}
	if g.CPUPeak >= MaxCPUPeak {
		g.Limits = append(g.Limits, fmt.Sprintf("CPU: the process used %s of its %d cores (mean %s)",
			FormatPercent(g.CPUPeak), g.Cores, FormatPercent(g.CPUMean)))
	}
	if g.GCPauseShare > MaxGCPauseShare {
		g.Limits = append(g.Limits, fmt.Sprintf("GC: pauses took %s of the run (%s)", FormatPercent(g.GCPauseShare), FormatMillis(g.GCPauseMs)))
	}
	if g.FDLimit > 0 && float64(g.FDsPeak) >= MaxFDShare*float64(g.FDLimit) {
		g.Limits = append(g.Limits, fmt.Sprintf("file descriptors: %d open of a limit of %d (raise it with ulimit -n)", g.FDsPeak, g.FDLimit))
	}
	if g.InFlightCap > 0 && float64(g.InFlightPeak) >= InFlightWarningShare*float64(g.InFlightCap) {
		g.Warning = append(g.Warning, fmt.Sprintf("journeys in flight reached %d of the --max-inflight cap of %d: arrivals over it waited or were dropped", g.InFlightPeak, g.InFlightCap))
	}
	g.Verdict = GeneratorOK
	if len(g.Limits) > 0 {
		g.Verdict, g.Advice = GeneratorLimited, GeneratorAdvice
	}
}

// OutOfResources reports whether the generator ran out of a resource of
// its own (CPU, GC time, file descriptors), as opposed to only dispatching
// arrivals late: then nothing it measured can be trusted, throughput
// included. Late dispatch alone inflates latency from the intended time,
// but not what the target did once a request reached it.
func (g *Generator) OutOfResources() bool {
	return g != nil && (g.CPUPeak >= MaxCPUPeak || g.GCPauseShare > MaxGCPauseShare ||
		(g.FDLimit > 0 && float64(g.FDsPeak) >= MaxFDShare*float64(g.FDLimit)))
}

// Limited reports whether the generator was the limit of the run.
func (g *Generator) Limited() bool { return g != nil && g.Verdict == GeneratorLimited }

// String is the one-line verdict, as the terminal summary prints it.
func (g *Generator) String() string {
	if g.Limited() {
		return "LIMITED: " + strings.Join(g.Limits, "; ")
	}
	return fmt.Sprintf("ok (CPU peak %s of %d cores, pacer lag p99 %s, in flight peak %d)",
		FormatPercent(g.CPUPeak), g.Cores, FormatMillis(g.PacerLagP99), g.InFlightPeak)
}
