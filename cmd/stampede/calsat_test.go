package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stampede-load/stampede/reports"
)

// TestCalibratedModelPredictsSaturation holds the calibrated model to the
// embedded stack's measured saturation point within ±15%. The measured
// side is real time (minutes on two cores, and noisy under load), so it
// is recorded: `go run ./bench/calsat -record testdata/calsat` measured a
// non-saturating run of the naive embedded stack, calibrated model.yaml
// from it, and measured `stampede saturate` on the same stack
// (measured.json). The simulated side is deterministic and runs here: the
// same search on the calibrated model.
func TestCalibratedModelPredictsSaturation(t *testing.T) {
	dir := filepath.Join("testdata", "calsat")
	b, err := os.ReadFile(filepath.Join(dir, "measured.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Commands    []string `json:"commands"`
		OfferedRate float64  `json:"offered_rate"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	search := "--start 4/s --step 4/s --step-duration 20s --refine"
	if len(rec.Commands) != 4 || !strings.HasPrefix(rec.Commands[3], "stampede saturate step --rate-scale 0.2 --stack-profile naive") ||
		!strings.HasSuffix(rec.Commands[3], search) || !(rec.OfferedRate > 0) {
		t.Fatalf("measured.json does not record the measured search %q: %s", search, b)
	}
	args := append([]string{"sim", "saturate", "step", "--model", filepath.Join(dir, "model.yaml"), "--out", t.TempDir(), "--no-report", "--format", "json"},
		strings.Fields(search)...)
	code, stdout, stderr := cli(t, args...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s reports.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatal(err)
	}
	if s.Saturation == nil || !s.Saturation.Saturated {
		t.Fatalf("the calibrated model did not saturate: %+v", s.Saturation)
	}
	rel := (s.Saturation.OfferedRate - rec.OfferedRate) / rec.OfferedRate
	t.Logf("saturation point: measured %.1f/s, calibrated model %.1f/s (%+.1f%%)", rec.OfferedRate, s.Saturation.OfferedRate, 100*rel)
	if math.Abs(rel) > 0.15 {
		t.Fatalf("the calibrated model saturates at %.1f/s, the measured stack at %.1f/s: %+.1f%%, want within ±15%%",
			s.Saturation.OfferedRate, rec.OfferedRate, 100*rel)
	}
}
