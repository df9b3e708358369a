package sim

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// withoutLines clears what a file adds to a model: its name and lines.
func withoutLines(m *Model) *Model {
	c := *m
	c.File = ""
	c.Stations = append([]StationSpec(nil), m.Stations...)
	for i := range c.Stations {
		c.Stations[i].Line = 0
	}
	c.Routes = append([]Route(nil), m.Routes...)
	for i := range c.Routes {
		c.Routes[i].Line = 0
	}
	return &c
}

func roundTrip(t testing.TB, m *Model) *Model {
	t.Helper()
	var b strings.Builder
	if err := m.Write(&b); err != nil {
		t.Fatal(err)
	}
	back, err := ParseModel("model.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("the written model does not parse: %v\n%s", err, b.String())
	}
	return back
}

func TestModelFileRoundTrips(t *testing.T) {
	m := tinyModel()
	m.Stack.Overhead = &Service{Distribution: LogNormal, Median: time.Millisecond, P99: 60 * time.Millisecond}
	m.Stack.Retry, m.Stack.RetryBackoff = true, 50*time.Millisecond
	m.Stack.Breaker = &Breaker{Window: 10 * time.Second, MinCalls: 20, FailureRatio: 0.5, OpenFor: 5 * time.Second}
	m.Stations[0].Service = Service{Distribution: Uniform, Min: time.Millisecond, Max: 3 * time.Millisecond}
	m.Stations[1].Service = Service{Distribution: Exponential, Mean: 7 * time.Millisecond}
	m.Routes[0].Message = `Si è verificato un "errore"\ntemporaneo`
	m.Routes[2].Ops[0].Stations = []string{"nexi", "nexi"}
	back := roundTrip(t, m)
	if !reflect.DeepEqual(withoutLines(back), m) {
		t.Fatalf("round trip changed the model:\n got %+v\nwant %+v", withoutLines(back), m)
	}
	if back.Stations[2].Line != 6 || back.Routes[0].Line == 0 {
		t.Errorf("lines not kept: station %d route %d", back.Stations[2].Line, back.Routes[0].Line)
	}
}

func TestModelFileProblemsNameFileAndLine(t *testing.T) {
	var b strings.Builder
	if err := tinyModel().Write(&b); err != nil {
		t.Fatal(err)
	}
	good := b.String()
	tests := []struct {
		name, old, new, want string
	}{
		{"unknown key", "servers: 2,", "servrs: 2,", `model.yaml:4: stations[0].servrs: unknown key (did you mean "servers"?)`},
		{"missing station", `ops: ["fanout(nexi)"]`, `ops: ["fanout(nexy)"]`, `model.yaml:20: route search: fanout calls station "nexy", which the model does not have (did you mean "nexi"?)`},
		{"bad op", `ops: ["fanout(nexi)"]`, `ops: ["fanout(nexi"]`, `model.yaml:20: routes[2].ops[0]: "fanout(nexi" is not an operation`},
		{"impossible lognormal", "{distribution: constant, value: 10ms}, pending", "{distribution: lognormal, median: 1s, p99: 1ms}, pending",
			"model.yaml:4: stations[0].service: lognormal p99 1ms must be above the median 1s"},
		{"duration without unit", "call_timeout: 1s", "call_timeout: 1", `model.yaml:14: stack.call_timeout: "1" has no unit`},
		{"bad kind", "kind: bank", "kind: banc", `model.yaml:6: stations[2].kind: "banc" is not`},
		{"syntax", "stack:", "stack: [", "model.yaml:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(strings.Replace(good, "cobadge_pending", "pending", 1), tc.old, tc.new, 1)
			src = strings.Replace(src, "pending", "cobadge_pending", 1)
			if src == good && tc.old != "" {
				t.Fatalf("%q not in the model file:\n%s", tc.old, good)
			}
			_, err := ParseModel("model.yaml", []byte(src))
			if err == nil || !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("ParseModel = %v, want an ErrInvalidModel\n%s", err, src)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseModel = %q, want %q", err, tc.want)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "model.yaml:") {
					t.Fatalf("problem %q does not start with the file and line", line)
				}
			}
		})
	}
}

// FuzzParseModel: any input gives a model or an ErrInvalidModel, never a
// panic; a model that parses is written and read back unchanged.
func FuzzParseModel(f *testing.F) {
	var b strings.Builder
	_ = tinyModel().Write(&b)
	f.Add(b.String())
	f.Add("stations: []\nstack: {}\nroutes: []\n")
	f.Add("model: x\nstations:\n  - {name: a, kind: db, servers: 1, service: {distribution: constant, value: 0s}}\n")
	f.Fuzz(func(t *testing.T, src string) {
		m, err := ParseModel("fuzz.yaml", []byte(src))
		if err != nil {
			if !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("error %v does not wrap ErrInvalidModel", err)
			}
			return
		}
		if back := roundTrip(t, m); !reflect.DeepEqual(withoutLines(back), withoutLines(m)) {
			t.Fatalf("round trip changed the model:\n got %+v\nwant %+v", withoutLines(back), withoutLines(m))
		}
	})
}
