package render

import (
	"math"
	"strconv"
	"strings"

	"github.com/stampede-load/stampede/reports"
)

// Verdict is a run's outcome in words, the first thing every format shows:
// what saturated, at what offered rate and why, which component first, how
// users were hurt (the error modes and the messages they saw), whether and
// how fast the target recovered, and the gates. Rates and times are also
// given at real scale when the run was scaled.
type Verdict struct {
	Pass       bool     // every gate passed (true without gates)
	Gates      int      // how many gates were judged
	Failed     int      // how many of them failed
	Paragraphs []string // most important first; each a few sentences
}

// Text is the verdict as one block of text, paragraphs separated by a
// blank line.
func (v Verdict) Text() string { return strings.Join(v.Paragraphs, "\n\n") }

// NewVerdict builds the verdict of one run.
func NewVerdict(r *Run) Verdict {
	s := r.Summary
	v := Verdict{Pass: s.Passed(), Gates: len(s.Gates)}
	for _, g := range s.Gates {
		if !g.Pass {
			v.Failed++
		}
	}
	sc := scaleOf(s)
	add := func(p string) {
		if p != "" {
			v.Paragraphs = append(v.Paragraphs, p)
		}
	}
	if s.Interrupted {
		add("The run was interrupted: the figures cover what ran.")
	}
	if s.Requests == 0 {
		add("No request was recorded.")
		add(gateSentence(s))
		return v
	}
	if s.Saturation != nil {
		add(searchSentence(s, sc))
	} else {
		add(runSaturationSentence(s, sc))
	}
	add(hurtSentence(s))
	add(recoverySentence(s, sc))
	add(gateSentence(s))
	return v
}

// subject names what was measured: a target, or the simulator's model of one.
func subject(s *reports.Summary) string {
	if s.Source == "sim" {
		return "The modelled stack"
	}
	return "The target"
}

// scale converts the run's figures to real scale.
type scale struct{ time, rate float64 }

func scaleOf(s *reports.Summary) scale {
	sc := scale{time: 1, rate: 1}
	if s.TimeScale > 0 {
		sc.time = s.TimeScale
	}
	if s.RateScale > 0 {
		sc.rate = s.RateScale
	}
	return sc
}

// rate is "146 requests/s", and at real scale "146 requests/s (1,460/s at
// real scale)".
func (sc scale) rateText(r float64) string {
	t := roughRate(r) + " requests/s"
	if sc.rate != 1 {
		t += " (" + roughRate(r/sc.rate) + "/s at real scale)"
	}
	return t
}

// at is "+8.7 s" into the run, with the real-scale time when scaled.
func (sc scale) at(sec float64) string {
	t := "+" + seconds(sec)
	if sc.time != 1 {
		t += " (+" + seconds(sec*sc.time) + " at real scale)"
	}
	return t
}

// span is a duration in seconds, with the real-scale one when scaled.
func (sc scale) span(sec float64) string {
	t := seconds(sec)
	if sc.time != 1 {
		t += " (" + seconds(sec*sc.time) + " at real scale)"
	}
	return t
}

// roughRate writes a rate as a person would say it: 146, 12.5, 1,460.
func roughRate(r float64) string {
	if r >= 100 {
		return reports.FormatDecimal(math.Round(r), 0)
	}
	return strconv.FormatFloat(math.Round(r*10)/10, 'f', -1, 64)
}

// seconds writes 8.7 s, 53 s, 8 min 50 s, 1 h 5 min.
func seconds(s float64) string {
	switch {
	case s < 10:
		return strconv.FormatFloat(math.Round(s*10)/10, 'f', -1, 64) + " s"
	case s < 120:
		return strconv.FormatFloat(math.Round(s), 'f', 0, 64) + " s"
	case s < 3600:
		m, r := math.Floor(s/60), math.Round(math.Mod(s, 60))
		if r == 60 {
			m, r = m+1, 0
		}
		if r == 0 {
			return strconv.Itoa(int(m)) + " min"
		}
		return strconv.Itoa(int(m)) + " min " + strconv.Itoa(int(r)) + " s"
	default:
		h, m := math.Floor(s/3600), math.Round(math.Mod(s, 3600)/60)
		if m == 60 {
			h, m = h+1, 0
		}
		if m == 0 {
			return strconv.Itoa(int(h)) + " h"
		}
		return strconv.Itoa(int(h)) + " h " + strconv.Itoa(int(m)) + " min"
	}
}

// searchSentence states a saturation search's finding.
func searchSentence(s *reports.Summary, sc scale) string {
	sat := s.Saturation
	var b strings.Builder
	switch {
	case sat.Saturated && sat.OfferedRate == 0 && sat.ArrivalRate == 0:
		b.WriteString(subject(s) + " did not hold even the first step: " + sat.Reason + ".")
	case sat.Saturated:
		b.WriteString(subject(s) + " saturated at " + sc.rateText(sat.OfferedRate) + " offered, the highest step that held; the next step failed: " + sat.Reason + ".")
	default:
		b.WriteString("No saturation: " + sat.Reason + ".")
	}
	if sat.Component != "" {
		if sat.Saturated {
			b.WriteString(" " + capitalize(sat.Component) + " crossed its limits first.")
		} else {
			b.WriteString(" Closest to its limits: " + sat.Component + ".")
		}
	}
	if sat.KneeRate > 0 {
		b.WriteString(" The median latency turns up at a knee of " + sc.rateText(sat.KneeRate) + ".")
	}
	if u := sat.USL; u != nil {
		if u.PeakRate > 0 {
			b.WriteString(" A Universal Scalability Law fit puts the peak throughput at " + sc.rateText(u.PeakRate))
			b.WriteString(" (σ=" + strconv.FormatFloat(u.Sigma, 'g', 3, 64) + ", κ=" + strconv.FormatFloat(u.Kappa, 'g', 3, 64) + ", R²=" + strconv.FormatFloat(u.R2, 'f', 2, 64) + ").")
		} else {
			b.WriteString(" A Universal Scalability Law fit sees no peak yet: throughput still grows linearly.")
		}
	}
	return b.String()
}

// crossing is the first moment a run's seconds stopped meeting the SLO.
type crossing struct {
	found   bool
	t       float64 // seconds from the start
	offered float64 // requests due per second then
	value   string  // what was measured then, e.g. "815ms" or "6.2%"
}

// runSaturationSentence finds, in a plain run's series, where the target
// stopped keeping up: the first of two seconds in a row with latency over
// the SLO, and with errors over the budget.
func runSaturationSentence(s *reports.Summary, sc scale) string {
	slo, err := reports.ParseSLO(s.SLO, reports.DefaultSLO)
	if err != nil {
		slo = reports.DefaultSLO
	}
	sloMs := float64(slo.Latency) / 1e6
	q := reports.QuantileName(slo.Quantile)
	var lat, errs crossing
	var peak float64
	pts := s.Series
	for i := range pts {
		p := &pts[i]
		if p.Offered == 0 || p.Width <= 0 {
			continue
		}
		peak = math.Max(peak, float64(p.Offered)/p.Width)
		if i+1 >= len(pts) {
			break
		}
		n := &pts[i+1]
		if !lat.found && p.Latency.At(slo.Quantile) > sloMs && n.Latency.At(slo.Quantile) > sloMs {
			lat = crossing{true, p.T, float64(p.Offered) / p.Width, reports.FormatMillis(p.Latency.At(slo.Quantile))}
		}
		share := func(p *reports.SeriesPoint) float64 { return float64(p.Failed) / float64(max(p.Offered, 1)) }
		if !errs.found && share(p) > slo.ErrorBudget && share(n) > slo.ErrorBudget {
			errs = crossing{true, p.T, float64(p.Offered) / p.Width, reports.FormatPercent(share(p))}
		}
	}
	var b strings.Builder
	if !lat.found && !errs.found {
		if len(pts) == 0 {
			return subject(s) + " took " + sc.rateText(s.OfferedRate) + " offered on average; the run has no time series to say more."
		}
		b.WriteString(subject(s) + " kept up: no two seconds in a row went past the SLO (" + s.SLO + ") at up to " + sc.rateText(peak) + " offered.")
		return b.String()
	}
	first := lat
	if !lat.found || (errs.found && errs.t < lat.t) {
		first = errs
	}
	b.WriteString(subject(s) + " saturated at about ")
	if m := s.Metastability; m != nil && m.SaturationRate > 0 {
		b.WriteString(roughRate(m.SaturationRate) + " first attempts/s")
		if sc.rate != 1 {
			b.WriteString(" (" + roughRate(m.SaturationRate/sc.rate) + "/s at real scale)")
		}
		b.WriteString(", retries aside.")
	} else {
		b.WriteString(sc.rateText(first.offered) + " offered.")
	}
	var parts []string
	if lat.found {
		parts = append(parts, q+" went over the SLO's "+reports.FormatMillis(sloMs)+" at +"+seconds(lat.t)+" ("+lat.value+"), with "+sc.rateText(lat.offered)+" offered")
	}
	if errs.found {
		parts = append(parts, "error rate passed the "+reports.FormatPercentShort(slo.ErrorBudget)+" budget at +"+seconds(errs.t)+" ("+errs.value+"), with "+sc.rateText(errs.offered)+" offered")
	}
	if lat.found && errs.found && errs.t < lat.t {
		parts[0], parts[1] = parts[1], parts[0]
	}
	b.WriteString(" Its " + strings.Join(parts, "; its ") + ".")
	if c := firstComponents(s); c != "" {
		b.WriteString(" " + c)
	}
	return b.String()
}

// firstComponents names the upstreams in the order they began to fail:
// "sia failed first (http 502 ... in enroll/search at +17.9 s), then nexi
// and iban."
func firstComponents(s *reports.Summary) string {
	type first struct {
		name string
		e    *reports.ErrorSummary
	}
	var order []first
	seen := map[string]int{}
	for i := range s.Errors {
		e := &s.Errors[i]
		if e.Upstream == "" || e.Mode == reports.ModeDropped || e.Mode == reports.ModeCanceled {
			continue
		}
		if j, ok := seen[e.Upstream]; ok {
			if e.OnsetS < order[j].e.OnsetS {
				order[j].e = e
			}
			continue
		}
		seen[e.Upstream] = len(order)
		order = append(order, first{e.Upstream, e})
	}
	if len(order) == 0 {
		return ""
	}
	for i := 1; i < len(order); i++ { // few upstreams: insertion sort by onset
		for j := i; j > 0 && order[j].e.OnsetS < order[j-1].e.OnsetS; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	e := order[0].e
	t := "First to fail: " + order[0].name + " (" + string(e.Mode)
	if e.Step != "" {
		t += " in " + e.Step
	}
	t += " from +" + seconds(e.OnsetS) + ", at " + roughRate(e.OnsetOfferedRate) + " requests/s offered)"
	if len(order) > 1 {
		var rest []string
		for _, f := range order[1:] {
			rest = append(rest, f.name)
		}
		t += ", then " + joinAnd(rest)
	}
	return t + "."
}

// maxHurtModes is how many error modes the verdict names.
const maxHurtModes = 3

// hurtSentence says what users went through.
func hurtSentence(s *reports.Summary) string {
	var b strings.Builder
	failed := s.Requests - s.OK
	if failed == 0 {
		b.WriteString("No request failed")
		slo, err := reports.ParseSLO(s.SLO, reports.DefaultSLO)
		if err != nil {
			slo = reports.DefaultSLO
		}
		q := s.Latency.At(slo.Quantile)
		if q > float64(slo.Latency)/1e6 {
			b.WriteString(", but " + reports.QuantileName(slo.Quantile) + " latency was " + reports.FormatMillis(q) + ", over the SLO's " +
				reports.FormatMillis(float64(slo.Latency)/1e6) + ".")
			return b.String()
		}
		b.WriteString("; " + reports.QuantileName(slo.Quantile) + " latency was " + reports.FormatMillis(q) + ".")
		return b.String()
	}
	b.WriteString("Users were hurt: " + reports.FormatPercent(1-s.SuccessRatio) + " of " + reports.FormatCount(s.Requests) + " requests failed")
	if s.Arrivals > 0 && s.JourneysCompleted < s.Arrivals {
		lost := s.Arrivals - s.JourneysCompleted
		b.WriteString(", " + reports.FormatCount(lost) + " of " + reports.FormatCount(s.Arrivals) + " journeys (" + reports.FormatPercentShort(math.Round(float64(lost)/float64(s.Arrivals)*100)/100) + ") did not complete")
	}
	b.WriteString(", and p99 latency was " + reports.FormatMillis(s.Latency.P99) + ".")
	var modes []string
	for i := range s.Errors {
		if len(modes) == maxHurtModes {
			break
		}
		e := &s.Errors[i]
		m := string(e.Mode)
		if e.Upstream != "" {
			m += " via " + e.Upstream
		}
		m += " (" + reports.FormatPercent(e.Share) + " of requests"
		if e.Message != "" {
			m += ": “" + e.Message + "”"
		}
		m += ")"
		modes = append(modes, m)
	}
	b.WriteString(" Most frequent: " + strings.Join(modes, "; "))
	if more := len(s.Errors) - len(modes); more > 0 {
		b.WriteString("; and " + strconv.Itoa(more) + " more mode")
		if more > 1 {
			b.WriteString("s")
		}
	}
	b.WriteString(".")
	if s.Dropped > 0 {
		b.WriteString(" The generator dropped " + reports.FormatCount(s.Dropped) + " arrivals that found its in-flight cap full.")
	}
	return b.String()
}

// recoverySentence says whether the target came back once the load fell,
// and how much retries added.
func recoverySentence(s *reports.Summary, sc scale) string {
	var b strings.Builder
	if m := s.Metastability; m != nil {
		under := "after the offered first attempts fell back under " + sc.rateText(m.SaturationRate)
		switch {
		case m.Recovered && m.RecoveryS == 0:
			b.WriteString("It recovered at once " + under + ".")
		case m.Recovered:
			b.WriteString("It recovered " + sc.span(m.RecoveryS) + " " + under + ".")
		default:
			b.WriteString("It did not recover for " + sc.span(m.RecoveryS) + " " + under + "; retries were " + reports.FormatPercent(m.RetryShare) + " of the requests meanwhile")
			if m.RetryShare >= 0.05 {
				b.WriteString(": the signature of a retry storm")
			}
			b.WriteString(".")
		}
	}
	if ra := s.RetryAmplification; ra != nil && ra.Factor >= 1.01 {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString("Retries multiplied the load by " + strconv.FormatFloat(ra.Factor, 'f', 2, 64) + " overall, by " +
			strconv.FormatFloat(ra.PeakFactor, 'f', 2, 64) + " at the worst, from " + sc.at(ra.PeakS) + ".")
	}
	return b.String()
}

// gateSentence lists the gates, failing ones with their actual values.
func gateSentence(s *reports.Summary) string {
	if len(s.Gates) == 0 {
		return ""
	}
	var failed, passed []string
	for _, g := range s.Gates {
		if g.Pass {
			passed = append(passed, g.Expr)
			continue
		}
		f := g.Expr + " (" + gateFailure(g) + ")"
		failed = append(failed, f)
	}
	if len(failed) == 0 {
		return "Gates: all " + strconv.Itoa(len(s.Gates)) + " passed (" + strings.Join(passed, ", ") + ")."
	}
	t := "Gates: " + strconv.Itoa(len(failed)) + " of " + strconv.Itoa(len(s.Gates)) + " failed: " + strings.Join(failed, ", ") + "."
	if len(passed) > 0 {
		t += " Passed: " + strings.Join(passed, ", ") + "."
	}
	return t
}

// gateFailure says why a gate failed: its actual value, the first window
// that did not hold, and the judge's reason.
func gateFailure(g reports.GateResult) string {
	if g.NoData {
		return g.Reason
	}
	t := "actual " + reports.FormatGateValue(g.Metric, g.Actual)
	if d := gateDetail(g); d != "" {
		t += "; " + d
	}
	return t
}

// gateDetail is what a failed gate's value alone does not say: the first
// window that failed, and the reason given.
func gateDetail(g reports.GateResult) string {
	var parts []string
	if w := g.FailedWindow; w != nil {
		t := "first failing window +" + reports.FormatDecimal(w.T, 1) + "s–+" + reports.FormatDecimal(w.T+w.Width, 1) + "s: " +
			reports.FormatGateValue(g.Metric, w.Actual)
		if g.Windows > 0 {
			t += " (" + strconv.Itoa(g.WindowsFailed) + " of " + strconv.Itoa(g.Windows) + " windows failed)"
		}
		parts = append(parts, t)
	}
	if g.Reason != "" {
		parts = append(parts, g.Reason)
	}
	return strings.Join(parts, "; ")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// joinAnd joins "a", "b" and "c" as "a, b and c".
func joinAnd(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}
