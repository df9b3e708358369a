package sim

import (
	"strings"
	"testing"

	"github.com/stampede-load/stampede/reports"
)

// TestFindingsSetOnlyTheLaunchDayBesideTheDay: the reported figures of 8
// December 2020 belong beside the launch-day scenario at real scale, not
// beside another scenario or a scaled run.
func TestFindingsSetOnlyTheLaunchDayBesideTheDay(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		scales   Scales
		want     bool
	}{
		{launchDayScenario, Scales{Time: 1, Rate: 1}, true},
		{"bank-outage", Scales{Time: 1, Rate: 1}, false},
		{launchDayScenario, Scales{Time: 10, Rate: 0.1}, false},
	} {
		out := &Outcome{Summary: &reports.Summary{Scenario: tc.scenario,
			Steps: []reports.StepSummary{{Name: "add-card", Requests: 12, Retries: 2, OK: 7}}}}
		var b strings.Builder
		if err := WriteFindings(&b, out, tc.scales); err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(b.String(), "Beside launch day")
		if got != tc.want || tc.want && !strings.Contains(b.String(), "card adds (first)        10") {
			t.Errorf("%s at %+v: beside the day %v, want %v:\n%s", tc.scenario, tc.scales, got, tc.want, b.String())
		}
	}
}
