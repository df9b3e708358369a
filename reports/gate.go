package reports

import (
	"fmt"
	"math"
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

// Gate is a pass/fail condition on a run's summary, written as
// "METRIC OP VALUE": "p99<800ms", "errors<1%", "success_ratio>=0.95".
type Gate struct {
	Expr      string  // as written
	Metric    string  // p50 p90 p95 p99 p999 max (ms), errors success_ratio retry_share (ratio), goodput achieved_rate (per s), dropped (count)
	Op        string  // < <= > >=
	Threshold float64 // in the metric's unit: milliseconds, ratio, per second or count
}

// gateMetrics maps each metric to the kind of value it compares.
var gateMetrics = map[string]string{
	"p50": "duration", "p90": "duration", "p95": "duration", "p99": "duration", "p999": "duration", "max": "duration",
	"errors": "ratio", "success_ratio": "ratio", "retry_share": "ratio",
	"goodput": "rate", "achieved_rate": "rate",
	"dropped": "count",
}

// ParseGate reads one gate expression.
func ParseGate(expr string) (Gate, error) {
	s := strings.ReplaceAll(expr, " ", "")
	var op string
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return Gate{}, fmt.Errorf("gate %q: want METRIC<VALUE or METRIC>VALUE, e.g. p99<800ms", expr)
	}
	op = s[i : i+1]
	if i+1 < len(s) && s[i+1] == '=' {
		op += "="
	}
	metric, val := s[:i], s[i+len(op):]
	kind, ok := gateMetrics[metric]
	if !ok {
		return Gate{}, fmt.Errorf("gate %q: unknown metric %q", expr, metric)
	}
	g := Gate{Expr: expr, Metric: metric, Op: op}
	switch kind {
	case "duration":
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 {
			return Gate{}, fmt.Errorf("gate %q: %q is not a duration like 800ms", expr, val)
		}
		g.Threshold = float64(d) / float64(time.Millisecond)
	case "ratio":
		f, err := ParseRatio(val)
		if err != nil {
			return Gate{}, fmt.Errorf("gate %q: %w", expr, err)
		}
		g.Threshold = f
	default:
		f, err := strconv.ParseFloat(strings.TrimSuffix(val, "/s"), 64)
		if err != nil || !(f >= 0) || math.IsInf(f, 0) { // also rejects NaN
			return Gate{}, fmt.Errorf("gate %q: %q is not a non-negative number", expr, val)
		}
		g.Threshold = f
	}
	return g, nil
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
