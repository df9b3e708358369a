package sim

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// tinyModel is a valid model: one processor, the IBAN service, one bank,
// the database.
func tinyModel() *Model {
	svc := Service{Distribution: Constant, Value: 10 * time.Millisecond}
	return &Model{
		Name: "tiny",
		Stations: []StationSpec{
			{Name: "nexi", Kind: KindProcessor, Servers: 2, Queue: 4, Service: svc, Pending: time.Second},
			{Name: "iban", Kind: KindIBAN, Servers: 1, Queue: 0, Service: svc, BankTimeout: time.Second},
			{Name: "01030", Kind: KindBank, Servers: 1, Queue: 0, Service: svc, Weight: 1},
			{Name: "db-read", Kind: KindDB, Servers: 1, Queue: -1, Service: svc},
			{Name: "db-write", Kind: KindDB, Servers: 1, Queue: -1, Service: svc},
		},
		Stack: Stack{Sequential: true, CallTimeout: time.Second, DBTimeout: time.Second, CardProcessor: "nexi"},
		Routes: []Route{
			{Step: "s", Ops: []Op{{Kind: OpRead}, {Kind: OpCall}}, Code: "CARD_SAVE_FAILED", Message: "m"},
			{Step: "iban", Ops: []Op{{Kind: OpIBAN, Stations: []string{"iban"}}}},
			{Step: "search", Ops: []Op{{Kind: OpFanOut, Stations: []string{"nexi"}}}},
		},
	}
}

func TestModelValidateNamesEveryProblem(t *testing.T) {
	if err := tinyModel().Validate(); err != nil {
		t.Fatalf("tiny model: %v", err)
	}
	tests := []struct {
		name  string
		spoil func(m *Model)
		want  string
	}{
		{"missing station", func(m *Model) { m.Routes[2].Ops[0].Stations = []string{"nexy"} },
			`route search: fanout calls station "nexy", which the model does not have (did you mean "nexi"?)`},
		{"wrong kind", func(m *Model) { m.Routes[1].Ops[0].Stations = []string{"nexi"} }, "route iban: iban calls nexi, a processor station; want a iban"},
		{"unknown op", func(m *Model) { m.Routes[0].Ops[0].Kind = "loop" }, `route s: operation "loop" is not one of`},
		{"impossible lognormal", func(m *Model) {
			m.Stations[0].Service = Service{Distribution: LogNormal, Median: time.Second, P99: time.Millisecond}
		}, "station nexi: service: lognormal p99 1ms must be above the median 1s"},
		{"negative exponential", func(m *Model) { m.Stations[0].Service = Service{Distribution: Exponential, Mean: -1} }, "exponential mean -1ns must be positive"},
		{"uniform backwards", func(m *Model) {
			m.Stations[0].Service = Service{Distribution: Uniform, Min: time.Second, Max: time.Millisecond}
		}, "uniform [1s, 1ms] needs 0 <= min <= max"},
		{"no servers", func(m *Model) { m.Stations[1].Servers = 0 }, "station iban: servers 0 must be at least 1"},
		{"duplicate route", func(m *Model) { m.Routes = append(m.Routes, m.Routes[0]) }, "route s is listed twice"},
		{"no database", func(m *Model) { m.Stations = m.Stations[:4] }, "station db-write (kind db) is missing"},
		{"card processor", func(m *Model) { m.Stack.CardProcessor = "iban" }, `stack: card processor "iban" is not a processor station`},
		{"breaker", func(m *Model) {
			m.Stack.Breaker = &Breaker{Window: time.Second, MinCalls: 1, FailureRatio: 2, OpenFor: time.Second}
		}, "stack: breaker needs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tinyModel()
			tc.spoil(m)
			err := m.Validate()
			if err == nil || !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("Validate = %v, want an ErrInvalidModel", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %q, want it to say %q", err, tc.want)
			}
			if lines := strings.Count(err.Error(), "\n"); lines != 0 {
				t.Fatalf("one problem gave %d lines: %q", lines+1, err)
			}
		})
	}
}
