package render

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stampede-load/stampede/internal/golden"
	"github.com/stampede-load/stampede/reports"
)

// The inputs are the summaries and the saturation report that package
// reports pins in its own testdata/ (and checks decode back unchanged), so
// every renderer draws the same figures.
const inputs = "../testdata"

func summary(t *testing.T, name string) *reports.Summary {
	t.Helper()
	s, err := reports.ReadSummary(filepath.Join(inputs, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, os.ErrClosed
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriteTableGolden(t *testing.T) {
	for _, name := range []string{"empty", "interrupted", "launch", "storm"} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteTable(&buf, summary(t, name)); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, name+".txt", buf.Bytes())
		})
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, summary(t, "storm")); err != nil || !strings.Contains(buf.String(), "metastability: did not recover for") {
		t.Errorf("table does not give the verdict (%v):\n%s", err, buf.String())
	}
}

func TestWriteTableSaturation(t *testing.T) {
	criteria := reports.Criteria{SLO: reports.DefaultSLO}
	held := reports.AnalyzeSaturation([]reports.StepPoint{
		{Index: 1, Rate: 10, OfferedRate: 10, Requests: 10, Pass: true},
		{Index: 2, Rate: 20, OfferedRate: 20, Requests: 20, Pass: true},
	}, criteria)
	held.USL = &reports.USL{Lambda: 25, R2: 1}
	first := reports.AnalyzeSaturation([]reports.StepPoint{{Index: 1, Rate: 10, OfferedRate: 10, Requests: 10, ErrorRate: 0.5, GoodputRatio: 0.5}}, criteria)
	tests := []struct {
		name string
		sat  *reports.Saturation
		want []string
	}{
		{"not reached", held, []string{"saturation: not reached", "USL: no peak in sight, linear at λ=25.0/s"}},
		{"first step failed", first, []string{"saturation: already at the first step, errors over budget"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteTable(&buf, &reports.Summary{Saturation: tt.sat}); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("table lacks %q:\n%s", w, buf.String())
				}
			}
		})
	}
}

func TestRenderWriteErrors(t *testing.T) {
	s := summary(t, "launch")
	var full bytes.Buffer
	if err := WriteTable(&full, s); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 10, 300, 1500, full.Len() - 10} {
		if err := WriteTable(&failingWriter{n: n}, s); err == nil {
			t.Errorf("WriteTable with a writer failing after %d bytes returned nil", n)
		}
	}
	if err := WriteJSON(&failingWriter{n: 10}, s); err == nil {
		t.Error("WriteJSON with a failing writer returned nil")
	}
}

// TestWriteJSONIsTheFile checks that --format json prints summary.json byte
// for byte.
func TestWriteJSONIsTheFile(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(inputs, "launch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, summary(t, "launch")); err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(want) {
		t.Errorf("WriteJSON differs from summary.json:\n%s", buf.String())
	}
}

func TestSaturationReportGolden(t *testing.T) {
	f, err := os.Open(filepath.Join(inputs, "saturation.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := reports.DecodeSaturationReport(f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteSaturationTable(&buf, rep); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "saturation.txt", buf.Bytes())

	for _, n := range []int{0, 100, buf.Len() / 2} {
		if err := WriteSaturationTable(&failingWriter{n: n}, rep); err == nil {
			t.Errorf("WriteSaturationTable with a writer failing after %d bytes returned nil", n)
		}
	}
	var empty bytes.Buffer
	if err := WriteSaturationTable(&empty, &reports.SaturationReport{Scenario: "x", Interrupted: true}); err != nil || !strings.Contains(empty.String(), "no step ran") {
		t.Errorf("empty report: %v\n%s", err, empty.String())
	}
}

func TestWriteTableGenerator(t *testing.T) {
	limited := &reports.Generator{Cores: 2, CPUPeak: 0.97, CPUMean: 0.8, InFlightCap: 100, InFlightPeak: 100, Arrivals: 10}
	limited.Judge()
	healthy := &reports.Generator{Cores: 2, CPUPeak: 0.12, PacerLagP99: 0.5, InFlightPeak: 7, InFlightCap: 10000, Arrivals: 10}
	healthy.Judge()
	tests := []struct {
		name string
		g    *reports.Generator
		want []string
		not  []string
	}{
		{"limited", limited, []string{
			"generator: LIMITED: CPU: the process used 97.00% of its 2 cores (mean 80.00%)\n",
			"  what to do: the figures above are the generator's, not the target's: run fewer journeys per process",
			"--shard k/n\n",
			"  warning: journeys in flight reached 100 of the --max-inflight cap of 100",
		}, nil},
		{"healthy", healthy, []string{"generator: ok (CPU peak 12.00% of 2 cores, pacer lag p99 500µs, in flight peak 7)\n"},
			[]string{"what to do", "warning"}},
		{"not measured", nil, nil, []string{"generator:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := summary(t, "launch")
			s.Generator = tt.g
			var buf bytes.Buffer
			if err := WriteTable(&buf, s); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("table lacks %q:\n%s", w, buf.String())
				}
			}
			for _, w := range tt.not {
				if strings.Contains(buf.String(), w) {
					t.Errorf("table has %q:\n%s", w, buf.String())
				}
			}
		})
	}
}
