package reports

import (
	"strings"
	"testing"
	"time"
)

// windowFixture is 30 s of a two-step journey at 20 requests a second per
// step: add-card takes 100 ms, except from +10 s to +15 s when it takes
// 900 ms and a quarter of its requests fail blaming nexi; search takes
// 10 ms throughout. The start is a whole second, so windows begin at it.
func windowFixture() []Result {
	var out []Result
	for sec := 0; sec < 30; sec++ {
		for i := 0; i < 20; i++ {
			due := t0.Add(time.Duration(sec)*time.Second + time.Duration(i)*50*time.Millisecond)
			slow := sec >= 10 && sec < 15
			card := Result{Journey: "enroll", Step: "add-card", Attempt: 1, Intended: due, Sent: due, Code: 201, OK: true,
				Latency: 100 * time.Millisecond, Arrival: true}
			if slow {
				card.Latency = 900 * time.Millisecond
				if i%4 == 0 {
					card.Code, card.OK, card.Upstream, card.ErrorCode = 503, false, "nexi", "QUEUE_FULL"
				}
			}
			card.SendLatency = card.Latency
			search := Result{Journey: "enroll", Step: "search", Attempt: 1, Intended: due.Add(time.Millisecond), Sent: due.Add(time.Millisecond),
				Code: 200, OK: true, Latency: 10 * time.Millisecond, SendLatency: 10 * time.Millisecond, JourneyDone: true}
			out = append(out, card, search)
		}
	}
	sortByEnd(out)
	return out
}

func TestJudgeGates(t *testing.T) {
	a := accumulate(windowFixture(), WithStart(t0))
	tests := []struct {
		expr          string
		actual        float64
		pass          bool
		windows       int
		windowsFailed int
		failedAt      float64 // start of the first failed window, -1 for none
		reason        string
	}{
		// Whole run: 5 slow seconds of 30 are 16.7% of add-card and 8.3% of
		// all requests, so p50 of the step holds and p90 does not, and over
		// the run p90 holds and p95 does not.
		{expr: "p50{step:add-card}<500ms", actual: 100, pass: true, failedAt: -1},
		{expr: "p90{step:add-card}<500ms", actual: 900, pass: false, failedAt: -1},
		{expr: "p90<500ms", actual: 100, pass: true, failedAt: -1},
		{expr: "p95<500ms", actual: 900, pass: false, failedAt: -1},
		{expr: "p95{step:enroll/add-card}<500ms", actual: 900, pass: false, failedAt: -1},
		{expr: "p95{step:search}<500ms", actual: 10, pass: true, failedAt: -1},
		{expr: "errors{upstream:nexi}<1%", actual: 0.020833, pass: false, failedAt: -1}, // 25 of 1200
		{expr: "errors{step:add-card}<=2.1%", actual: 0.041667, pass: false, failedAt: -1},
		// Over windows: the slow seconds fall in the window from +10 s.
		{expr: "p95{step:add-card}<500ms over 10s", actual: 900, pass: false, windows: 3, windowsFailed: 1, failedAt: 10},
		{expr: "p90{step:add-card}<500ms over 10s", actual: 900, pass: false, windows: 3, windowsFailed: 1, failedAt: 10},
		{expr: "p50{step:add-card}<500ms over 5s", actual: 900, pass: false, windows: 6, windowsFailed: 1, failedAt: 10},
		{expr: "p50<500ms over 5s", actual: 10, pass: true, windows: 6, failedAt: -1},
		{expr: "p50{step:search}<500ms over 5s", actual: 10, pass: true, windows: 6, failedAt: -1},
		{expr: "p99<1s over 10s", actual: 900, pass: true, windows: 3, failedAt: -1},
		{expr: "errors{upstream:nexi}<5% over 5s", actual: 0.125, pass: false, windows: 6, windowsFailed: 1, failedAt: 10},
		{expr: "errors{upstream:nexi}<5% over 30s", actual: 0.020833, pass: true, windows: 1, failedAt: -1},
		{expr: "goodput{step:search}>=19/s over 10s", actual: 20, pass: true, windows: 3, failedAt: -1},
		{expr: "goodput{step:add-card}>=19/s over 5s", actual: 15, pass: false, windows: 6, windowsFailed: 1, failedAt: 10},
		{expr: "offered_rate>=40/s over 10s", actual: 40, pass: true, windows: 3, failedAt: -1},
		{expr: "dropped<=0 over 10s", actual: 0, pass: true, windows: 3, failedAt: -1},
		// No data fails, and says so.
		{expr: "p99{step:checkout}<1s", reason: "no step checkout ran", failedAt: -1},
		{expr: "p99{step:checkout}<1s over 10s", reason: "no step checkout ran", failedAt: -1},
		{expr: "saturation_rate>100/s", reason: "no saturation point", failedAt: -1},
		{expr: "recovery<10s", reason: "no recovery to time", failedAt: -1},
	}
	s := a.Summary(SummaryMeta{Scenario: "windows", Source: "replay"})
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got := a.JudgeGates(s, mustGates(t, tt.expr))[0]
			if tt.reason != "" {
				if got.Pass || !got.NoData || !strings.Contains(got.Reason, tt.reason) {
					t.Fatalf("got %+v, want a failure without data saying %q", got, tt.reason)
				}
				return
			}
			if got.Pass != tt.pass || !near(got.Actual, tt.actual, 1e-3*tt.actual+1e-6) || got.Windows != tt.windows || got.WindowsFailed != tt.windowsFailed {
				t.Fatalf("got %+v, want actual %v pass %v, %d windows, %d failed", got, tt.actual, tt.pass, tt.windows, tt.windowsFailed)
			}
			if (got.FailedWindow == nil) != (tt.failedAt < 0) {
				t.Fatalf("failed window %+v, want one at %v", got.FailedWindow, tt.failedAt)
			}
			if fw := got.FailedWindow; fw != nil && (fw.T != tt.failedAt || fw.Width != got.WindowS || fw.Actual != got.Actual) {
				t.Errorf("failed window %+v, want at +%vs, %vs wide, actual %v", fw, tt.failedAt, got.WindowS, got.Actual)
			}
		})
	}

	t.Run("an upstream nothing named passes with a caution", func(t *testing.T) {
		got := a.JudgeGates(s, mustGates(t, "errors{upstream:nexy}<5%"))[0]
		if !got.Pass || got.Actual != 0 || !strings.Contains(got.Reason, "no request named upstream nexy") {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("the summary says the same of whole-run gates", func(t *testing.T) {
		exprs := []string{"p90{step:add-card}<500ms", "p95<500ms", "errors{upstream:nexi}<1%", "errors{step:add-card}<=2.1%", "goodput{step:search}>20/s"}
		fromRun := a.JudgeGates(s, mustGates(t, exprs...))
		fromSummary := EvaluateGates(s, mustGates(t, exprs...))
		for i := range exprs {
			if fromRun[i] != fromSummary[i] {
				t.Errorf("%s: run %+v, summary %+v", exprs[i], fromRun[i], fromSummary[i])
			}
		}
		if got := EvaluateGates(s, mustGates(t, "p95<1s over 10s"))[0]; got.Pass || !got.NoData {
			t.Errorf("a windowed gate from a summary alone: %+v", got)
		}
	})
	t.Run("shards merge into the same windows", func(t *testing.T) {
		rs := windowFixture()
		var odd, even []Result
		for i, r := range rs {
			if i%2 == 0 {
				even = append(even, r)
			} else {
				odd = append(odd, r)
			}
		}
		m := accumulate(even, WithStart(t0))
		if err := m.Merge(accumulate(odd, WithStart(t0))); err != nil {
			t.Fatal(err)
		}
		ms := m.Summary(SummaryMeta{Scenario: "windows", Source: "replay"})
		gates := mustGates(t, "p95{step:add-card}<500ms over 10s", "errors{upstream:nexi}<5% over 5s", "p50{step:add-card}<500ms over 5s")
		want, got := a.JudgeGates(s, gates), m.JudgeGates(ms, gates)
		for i := range gates {
			if *got[i].FailedWindow != *want[i].FailedWindow || got[i].Actual != want[i].Actual || got[i].Windows != want[i].Windows {
				t.Errorf("%s: merged %+v (%+v), want %+v (%+v)", gates[i].Expr, got[i], got[i].FailedWindow, want[i], want[i].FailedWindow)
			}
		}
	})
}
