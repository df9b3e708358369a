package replay

import (
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

func TestProgressLine(t *testing.T) {
	sc := quickScenarioForProgress(t)
	r := &run{o: Options{Scenario: sc}, sc: sc, start: time.Unix(1000, 0)}
	r.active.Store(7)
	snap := reports.Snapshot{OfferedRate: 100, AchievedRate: 98, Window: 5 * time.Second, P99: 12300 * time.Microsecond,
		Dropped: 2, Errors: []reports.ModeCount{
			{Mode: "timeout", Upstream: "nexi", Count: 9}, {Mode: "http 503", Count: 4},
			{Mode: "reset", Count: 2}, {Mode: "eof", Count: 1}}}
	tests := []struct {
		name     string
		terminal bool
		want     []string
	}{
		{"plain for CI logs", false, []string{"3s/10s", "arrivals 50/s", "offered 100/s achieved 98/s",
			"in flight 7", "p99(5s) 12.3ms", "dropped 2", "timeout via nexi 9, http 503 4, reset 2, +1 more"}},
		{"redrawn on a terminal", true, []string{"\r\033[K[======", "3s/10s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			r.o.Terminal = tt.terminal
			r.printProgress(&b, r.start.Add(3*time.Second), snap)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("%q lacks %q", b.String(), w)
				}
			}
			if tt.terminal == strings.HasSuffix(b.String(), "\n") {
				t.Errorf("line ending wrong for terminal=%v: %q", tt.terminal, b.String())
			}
		})
	}
}

func quickScenarioForProgress(t *testing.T) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Quick(scenarios.QuickOptions{URL: "http://127.0.0.1:1/", Rate: 50, Duration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}
