package reports

import (
	"testing"
	"time"
)

func TestGateWatch(t *testing.T) {
	tests := []struct {
		expr     string
		lost     bool
		lostFrom time.Duration // the latest response when Done closed: in [lostFrom, lostFrom+1s)
		window   float64       // start of the failed window, for a windowed gate
	}{
		// The slow seconds are +10 s to +15 s; their 5 s window is judged once
		// responses reach +20 s (its end plus its length).
		{expr: "p95{step:add-card}<500ms over 5s abort_on_fail", lost: true, lostFrom: 20 * time.Second, window: 10},
		{expr: "p95{step:add-card}<500ms over 10s abort_on_fail", lost: true, lostFrom: 30 * time.Second, window: 10},
		// Whole run, on the responses so far: by +11 s one slow failure via
		// nexi had come back (of 423 requests), by +12 s six (of ~460): 1.3%.
		{expr: "errors{upstream:nexi}<1% abort_on_fail", lost: true, lostFrom: 12 * time.Second},
		{expr: "errors{upstream:nexi}<1% abort_on_fail after 14s", lost: true, lostFrom: 14 * time.Second},
		{expr: "p95{step:add-card}<500ms over 5s abort_on_fail after 31s"}, // the run is over first
		{expr: "p99<1s over 5s abort_on_fail"},                             // holds
		{expr: "p95{step:add-card}<500ms over 5s"},                         // not watched
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			w := NewGateWatch(mustGates(t, tt.expr))
			var at time.Duration = -1
			for _, r := range windowFixture() {
				w.Add(&r)
				select {
				case <-w.Done():
					if at < 0 {
						at = r.End().Sub(t0)
					}
				default:
				}
			}
			lost := w.Lost()
			if (lost != nil) != tt.lost || (at >= 0) != tt.lost {
				t.Fatalf("lost %+v (Done at %v), want lost %v", lost, at, tt.lost)
			}
			if !tt.lost {
				return
			}
			if at < tt.lostFrom || at >= tt.lostFrom+time.Second {
				t.Errorf("lost with responses at +%v, want from +%v", at, tt.lostFrom)
			}
			if lost.Pass || !lost.Aborted || lost.Expr != tt.expr {
				t.Errorf("lost %+v", lost)
			}
			if tt.window > 0 && (lost.FailedWindow == nil || lost.FailedWindow.T != tt.window-(t0.Sub(t0.Truncate(time.Second))).Seconds()) {
				t.Errorf("failed window %+v, want the one from +%vs", lost.FailedWindow, tt.window)
			}
		})
	}

	t.Run("the summary keeps the lost gate lost", func(t *testing.T) {
		a := accumulate(windowFixture(), WithStart(t0))
		gates := mustGates(t, "errors{upstream:nexi}<3% abort_on_fail")
		lost := &GateResult{Expr: gates[0].Expr, Reason: "lost at +11s: abort_on_fail stopped the run", Aborted: true}
		s := a.Summary(SummaryMeta{Scenario: "w", Source: "replay", Gates: gates, Aborted: lost})
		// Over the whole run 2.1% failed via nexi: it would pass now.
		if g := s.Gates[0]; g.Pass || !g.Aborted || s.Aborted != lost || s.Passed() {
			t.Errorf("gate %+v, aborted %+v", g, s.Aborted)
		}
	})
}
