package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGeneratorJudge(t *testing.T) {
	healthy := Generator{Cores: 2, CPUPeak: 0.3, CPUMean: 0.2, Arrivals: 1000, LateArrivals: 50, PacerLagP99: 2,
		GCPauseShare: 0.01, InFlightPeak: 10, InFlightCap: 100, FDsPeak: 50, FDLimit: 1024}
	tests := []struct {
		name    string
		change  func(*Generator)
		limits  []string // prefixes, in order
		warning string   // fragment, "" for none
	}{
		{"healthy", func(*Generator) {}, nil, ""},
		{"late arrivals at the limit", func(g *Generator) { g.LateArrivals = 50 }, nil, ""},
		{"late arrivals over the limit", func(g *Generator) { g.LateArrivals = 51 }, []string{"pacer lag: 5.10% of arrivals left more than 50ms late"}, ""},
		{"too few late arrivals to judge", func(g *Generator) { g.Arrivals, g.LateArrivals = 10, 4 }, nil, ""},
		{"enough late arrivals", func(g *Generator) { g.Arrivals, g.LateArrivals = 10, 5 }, []string{"pacer lag: 50.00%"}, ""},
		{"CPU just under", func(g *Generator) { g.CPUPeak = 0.8999 }, nil, ""},
		{"CPU at the limit", func(g *Generator) { g.CPUPeak = 0.9 }, []string{"CPU: the process used 90.00% of its 2 cores"}, ""},
		{"GC pauses", func(g *Generator) { g.GCPauseShare, g.GCPauseMs = 0.06, 120 }, []string{"GC: pauses took 6.00% of the run"}, ""},
		{"file descriptors", func(g *Generator) { g.FDsPeak = 922 }, []string{"file descriptors: 922 open of a limit of 1024"}, ""},
		{"file descriptors unknown", func(g *Generator) { g.FDsPeak, g.FDLimit = 0, 0 }, nil, ""},
		{"in flight at the cap", func(g *Generator) { g.InFlightPeak = 95 }, nil, "reached 95 of the --max-inflight cap of 100"},
		{"everything", func(g *Generator) { g.CPUPeak, g.LateArrivals, g.GCPauseShare, g.FDsPeak = 1, 900, 0.5, 1024 },
			[]string{"pacer lag", "CPU", "GC", "file descriptors"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := healthy
			tt.change(&g)
			g.Judge()
			if len(g.Limits) != len(tt.limits) {
				t.Fatalf("limits %q, want %d", g.Limits, len(tt.limits))
			}
			for i, p := range tt.limits {
				if !strings.HasPrefix(g.Limits[i], p) {
					t.Errorf("limit %d %q, want prefix %q", i, g.Limits[i], p)
				}
			}
			if want := len(tt.limits) > 0; g.Limited() != want || (g.Verdict == GeneratorLimited) != want || (g.Advice != "") != want {
				t.Errorf("verdict %q advice %q, want limited=%v", g.Verdict, g.Advice, want)
			}
			if g.Verdict != GeneratorOK && g.Verdict != GeneratorLimited {
				t.Errorf("verdict %q", g.Verdict)
			}
			if (tt.warning == "") != (len(g.Warning) == 0) || (tt.warning != "" && !strings.Contains(g.Warning[0], tt.warning)) {
				t.Errorf("warnings %q, want %q", g.Warning, tt.warning)
			}
		})
	}
	var nilGen *Generator
	if nilGen.Limited() {
		t.Error("no figures judged limited")
	}
}

func TestGeneratorInSummaryJSON(t *testing.T) {
	g := Generator{Cores: 2, CPUPeak: 0.95, Arrivals: 10}
	g.Judge()
	b, err := json.Marshal(&Summary{Generator: &g})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Generator map[string]any `json:"generator"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"verdict", "limits", "advice", "cores", "cpu_mean", "cpu_peak", "pacer_lag_p99_ms", "pacer_lag_max_ms",
		"arrivals", "late_arrivals", "late_share", "gc_pause_ms", "gc_pause_share", "inflight_peak", "inflight_cap", "fds_peak", "fd_limit"} {
		if _, ok := doc.Generator[k]; !ok {
			t.Errorf("summary.json generator lacks %q: %s", k, b)
		}
	}
	if doc.Generator["verdict"] != "limited" {
		t.Errorf("verdict %v", doc.Generator["verdict"])
	}
	if b, _ := json.Marshal(&Summary{}); strings.Contains(string(b), "generator") {
		t.Errorf("a summary without figures has a generator object: %s", b)
	}
}

// FuzzDecodeSummary: a summary.json that decodes encodes back to a
// document that decodes to the same summary (decode(encode(x)) == x).
func FuzzDecodeSummary(f *testing.F) {
	for _, name := range []string{"launch", "storm", "empty", "interrupted"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name+".json")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"generator":{"verdict":"limited","limits":["CPU"],"cores":2,"cpu_peak":0.97}}`))
	f.Add([]byte(`{"requests":-1,"latency_ms":{"p99":1e308}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSummary(bytes.NewReader(data))
		if err != nil {
			return
		}
		roundTrip(t, s, func(b []byte) (any, error) { return DecodeSummary(bytes.NewReader(b)) })
	})
}

// FuzzDecodeSaturationReport: the same for saturation.json.
func FuzzDecodeSaturationReport(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "saturation.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"steps":[{"index":1,"rate":100,"pass":true}],"saturation":{"offered_rate":100},"generator_limit":"x"}`))
	f.Add([]byte(`{"steps":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := DecodeSaturationReport(bytes.NewReader(data))
		if err != nil {
			return
		}
		roundTrip(t, rep, func(b []byte) (any, error) { return DecodeSaturationReport(bytes.NewReader(b)) })
	})
}

// roundTrip encodes v, decodes it with decode and checks the result encodes
// to the same bytes.
func roundTrip(t *testing.T, v any, decode func([]byte) (any, error)) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		return // a value JSON cannot carry (none reach here from JSON input)
	}
	again, err := decode(b)
	if err != nil {
		t.Fatalf("what was decoded does not decode once encoded: %v\n%s", err, b)
	}
	b2, err := json.Marshal(again)
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("round trip changed the document:\n%s\n%s", b, b2)
	}
}
