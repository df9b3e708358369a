package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SLO is the service-level objective a run is judged by: a latency quantile
// that must stay under a target, and the share of failed requests allowed.
type SLO struct {
	Quantile    float64       // e.g. 0.99 for p99
	Latency     time.Duration // the quantile's target
	ErrorBudget float64       // allowed failed share, 0.01 for 1%
}

// DefaultSLO is used when neither the scenario nor the flags give one.
var DefaultSLO = SLO{Quantile: 0.99, Latency: 800 * time.Millisecond, ErrorBudget: 0.01}

// ParseSLO reads "p99=800ms,errors=1%" (either part may be left out; missing
// parts keep base's values).
func ParseSLO(s string, base SLO) (SLO, error) {
	out := base
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return SLO{}, fmt.Errorf("SLO part %q: want key=value, e.g. p99=800ms or errors=1%%", part)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch {
		case key == "errors":
			f, err := ParseRatio(val)
			if err != nil {
				return SLO{}, fmt.Errorf("SLO errors: %w", err)
			}
			out.ErrorBudget = f
		case quantileOf(key) > 0:
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return SLO{}, fmt.Errorf("SLO %s: %q is not a positive duration like 800ms", key, val)
			}
			out.Quantile, out.Latency = quantileOf(key), d
		default:
			return SLO{}, fmt.Errorf("SLO metric %q is unknown: want p50, p90, p95, p99, p999 or errors", key)
		}
	}
	return out, nil
}

// ParseRatio reads "1%" as 0.01 or "0.01" as 0.01; the result lies in [0, 1].
func ParseRatio(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a ratio like 1%% or 0.01", s)
	}
	if pct {
		f /= 100
	}
	if !(f >= 0 && f <= 1) { // also rejects NaN
		return 0, fmt.Errorf("%q is not between 0 and 100%%", s)
	}
	return f, nil
}

// quantileOf maps p50, p90, p95, p99, p999 to their quantile, or 0.
func quantileOf(name string) float64 {
	switch name {
	case "p50":
		return 0.50
	case "p90":
		return 0.90
	case "p95":
		return 0.95
	case "p99":
		return 0.99
	case "p999":
		return 0.999
	}
	return 0
}

// Gate is a pass/fail condition on a run, written
//
//	METRIC[{step:NAME}|{upstream:NAME}] OP VALUE [over WINDOW] [abort_on_fail [after DELAY]]
//
// for instance "p99<800ms", "p99{step:add-card}<1s", "errors{upstream:nexi}<5%",
// "p95<500ms over 10s" (every 10 s window of the run must hold), or
// "errors<20% over 5s abort_on_fail after 30s" (stop the run as soon as a
// window is lost, but not in its first 30 s). OP is <, <=, > or >=. The
// metrics, their units and the filters, windows and aborts each allows are
// in gateRules; ParseGate reads an expression and Gate.String writes the
// canonical one back.
type Gate struct {
	Expr        string        // as written
	Metric      string        // canonical name: p50 p90 p95 p99 p999 max mean recovery (ms), errors success_ratio retry_share achieved/offered (ratio), goodput journey_goodput achieved_rate offered_rate saturation_rate (per s), dropped (count)
	Step        string        // {step:NAME}: only this step's requests (NAME, or JOURNEY/NAME); "" for all
	Upstream    string        // {upstream:NAME}: only failures the target blamed on NAME (X-Upstream); "" for all
	Op          string        // < <= > >=
	Threshold   float64       // in the metric's unit: milliseconds, ratio, per second or count
	Window      time.Duration // "over 10s": every window of this length must hold; 0 judges the whole run
	AbortOnFail bool          // stop the run early once the gate is lost
	AbortAfter  time.Duration // "abort_on_fail after 30s": not before this much of the run has been played
}

// gateMetrics maps each metric to the kind of value it compares: duration
// (milliseconds), ratio, rate (per second) or count.
var gateMetrics = map[string]string{
	"p50": "duration", "p90": "duration", "p95": "duration", "p99": "duration", "p999": "duration",
	"max": "duration", "mean": "duration", "recovery": "duration",
	"errors": "ratio", "success_ratio": "ratio", "retry_share": "ratio", "achieved/offered": "ratio",
	"goodput": "rate", "journey_goodput": "rate", "achieved_rate": "rate", "offered_rate": "rate", "saturation_rate": "rate",
	"dropped": "count",
}

// gateRule says what a metric can be narrowed to: a step, an upstream,
// windows of the run, and whether it is known while the run goes on (so
// that abort_on_fail can act on it).
type gateRule struct{ step, upstream, window, live bool }

var gateRules = map[string]gateRule{
	"p50": {step: true, window: true, live: true}, "p90": {step: true, window: true, live: true},
	"p95": {step: true, window: true, live: true}, "p99": {step: true, window: true, live: true},
	"p999": {step: true, window: true, live: true}, "max": {step: true, window: true, live: true},
	"mean":             {step: true, window: true, live: true},
	"errors":           {step: true, upstream: true, window: true, live: true},
	"success_ratio":    {step: true, window: true, live: true},
	"retry_share":      {step: true, window: true, live: true},
	"achieved/offered": {step: true, window: true, live: true},
	"goodput":          {step: true, window: true, live: true},
	"achieved_rate":    {step: true, window: true, live: true},
	"offered_rate":     {step: true, window: true, live: true},
	"dropped":          {step: true, window: true, live: true},
	"journey_goodput":  {live: true},
	"saturation_rate":  {}, // from a saturation search, once it has ended
	"recovery":         {}, // from the metastability check, once the run has ended
}

// gateAliases are other spellings of a metric.
var gateAliases = map[string]string{"p99.9": "p999", "error_rate": "errors"}

// maxGateDuration bounds duration thresholds and windows (100 h): far past
// the latency histograms' 1 h, and small enough to write back exactly.
const maxGateDuration = 100 * time.Hour

// ParseGate reads one gate expression (see Gate).
func ParseGate(expr string) (Gate, error) {
	bad := func(format string, a ...any) (Gate, error) {
		return Gate{}, fmt.Errorf("gate %q: %s", expr, fmt.Sprintf(format, a...))
	}
	s := strings.TrimSpace(expr)
	from := 0
	if j := strings.IndexByte(s, '}'); j >= 0 {
		from = j + 1 // the comparison comes after the filter
	}
	i := strings.IndexAny(s[from:], "<>")
	if i < 0 || from+i == 0 {
		return bad("want METRIC<VALUE or METRIC>VALUE, e.g. p99<800ms")
	}
	i += from
	op := s[i : i+1]
	if i+1 < len(s) && s[i+1] == '=' {
		op += "="
	}
	g := Gate{Expr: expr, Op: op}

	name, filter, hasFilter := strings.Cut(s[:i], "{")
	metric := strings.Join(strings.Fields(name), "")
	if a, ok := gateAliases[metric]; ok {
		metric = a
	}
	rule, ok := gateRules[metric]
	if !ok {
		return bad("unknown metric %q: want one of %s", metric, gateMetricList())
	}
	g.Metric = metric
	if hasFilter {
		filter = strings.TrimSpace(filter)
		inner, closed := strings.CutSuffix(filter, "}")
		key, val, hasColon := strings.Cut(inner, ":")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch {
		case !closed || !hasColon || val == "" || strings.ContainsAny(val, "{}<>"):
			return bad("want a filter like {step:add-card} or {upstream:nexi}")
		case key == "step" && !rule.step:
			return bad("%s cannot be narrowed to a step", metric)
		case key == "upstream" && !rule.upstream:
			return bad("%s cannot be narrowed to an upstream; errors{upstream:NAME} can", metric)
		case key == "step":
			g.Step = val
		case key == "upstream":
			g.Upstream = val
		default:
			return bad("unknown filter %q: want step or upstream", key)
		}
	}

	words := strings.Fields(s[i+len(op):])
	k := 0
	for k < len(words) && words[k] != "over" && words[k] != "abort_on_fail" {
		k++
	}
	val, rest := strings.Join(words[:k], ""), words[k:]
	th, err := parseThreshold(gateMetrics[metric], val)
	if err != nil {
		return bad("%v", err)
	}
	g.Threshold = th
	if len(rest) > 0 && rest[0] == "over" {
		if !rule.window {
			return bad("%s has no per-window value; judge it over the whole run", metric)
		}
		if len(rest) < 2 {
			return bad("over: want a window like 10s")
		}
		d, err := time.ParseDuration(rest[1])
		if err != nil || d < time.Second || d%time.Second != 0 || d > maxGateDuration {
			return bad("over %s: want a window of whole seconds like 10s", rest[1])
		}
		g.Window, rest = d, rest[2:]
	}
	if len(rest) > 0 && rest[0] == "abort_on_fail" {
		if !rule.live {
			return bad("abort_on_fail: %s is only known once the run has ended", metric)
		}
		g.AbortOnFail, rest = true, rest[1:]
		if len(rest) > 0 && rest[0] == "after" {
			if len(rest) < 2 {
				return bad("abort_on_fail after: want a delay like 30s")
			}
			d, err := time.ParseDuration(rest[1])
			if err != nil || d < 0 || d > maxGateDuration {
				return bad("abort_on_fail after %s: want a delay like 30s", rest[1])
			}
			g.AbortAfter, rest = d, rest[2:]
		}
	}
	if len(rest) > 0 {
		return bad("unexpected %q: want [over WINDOW] [abort_on_fail [after DELAY]] after the value", strings.Join(rest, " "))
	}
	return g, nil
}

// parseThreshold reads a gate's value in its kind's unit.
func parseThreshold(kind, val string) (float64, error) {
	switch kind {
	case "duration":
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 || d > maxGateDuration {
			return 0, fmt.Errorf("%q is not a duration like 800ms", val)
		}
		return float64(d) / float64(time.Millisecond), nil
	case "ratio":
		return ParseRatio(val)
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(val, "/s"), 64)
	if err != nil || !(f >= 0) || math.IsInf(f, 0) { // also rejects NaN
		return 0, fmt.Errorf("%q is not a non-negative number", val)
	}
	return f, nil
}

// gateMetricList names the metrics for an error message.
func gateMetricList() string {
	names := make([]string, 0, len(gateMetrics))
	for m := range gateMetrics {
		names = append(names, m)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// String writes the gate's canonical expression, which ParseGate reads
// back into the same gate.
func (g Gate) String() string {
	var b strings.Builder
	b.WriteString(g.Metric)
	switch {
	case g.Step != "":
		b.WriteString("{step:" + g.Step + "}")
	case g.Upstream != "":
		b.WriteString("{upstream:" + g.Upstream + "}")
	}
	b.WriteString(g.Op)
	b.WriteString(formatThreshold(gateMetrics[g.Metric], g.Threshold))
	if g.Window > 0 {
		b.WriteString(" over " + formatDuration(g.Window))
	}
	if g.AbortOnFail {
		b.WriteString(" abort_on_fail")
		if g.AbortAfter > 0 {
			b.WriteString(" after " + formatDuration(g.AbortAfter))
		}
	}
	return b.String()
}

// formatThreshold writes v so that parseThreshold reads it back exactly.
func formatThreshold(kind string, v float64) string {
	switch kind {
	case "duration":
		return formatDuration(time.Duration(math.Round(v * float64(time.Millisecond))))
	case "ratio":
		// The shortest percentage that reads back as v: 7% for 0.07,
		// whose product by 100 is 7.000000000000001.
		for prec := 1; prec <= 17; prec++ {
			pct := strconv.FormatFloat(v*100, 'g', prec, 64) + "%"
			if f, err := ParseRatio(pct); err == nil && f == v {
				return pct
			}
		}
	case "rate":
		return strconv.FormatFloat(v, 'g', -1, 64) + "/s"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// formatDuration is time.Duration's String without zero trailing units:
// 1m rather than 1m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Holds reports whether actual satisfies the gate.
func (g Gate) Holds(actual float64) bool {
	switch g.Op {
	case "<":
		return actual < g.Threshold
	case "<=":
		return actual <= g.Threshold
	case ">":
		return actual > g.Threshold
	default:
		return actual >= g.Threshold
	}
}

// FormatGateValue formats a gate's actual value in its metric's unit.
func FormatGateValue(metric string, v float64) string {
	switch gateMetrics[metric] {
	case "duration":
		return FormatMillis(v)
	case "ratio":
		return FormatPercent(v)
	case "rate":
		return FormatRate(v)
	case "count":
		return FormatCount(int64(v))
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// worse reports whether a is worse than b for the gate: higher for an
// upper bound (<, <=), lower for a lower bound.
func (g Gate) worse(a, b float64) bool {
	if g.Op[0] == '<' {
		return a > b
	}
	return a < b
}
