package mocks

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stampede-load/stampede/mocks/bank"
	"github.com/stampede-load/stampede/scenarios"
)

func TestStartScalesCapacityAndInjectsOutages(t *testing.T) {
	def := bank.DefaultConfig()
	emb, err := Start(context.Background(), Options{
		StackProfile:  "hardened",
		CapacityScale: 0.1,
		Outages:       []scenarios.Outage{{Station: "nexi", Start: time.Minute, Duration: 2 * time.Minute}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()

	for _, name := range bank.ProcessorNames() {
		got := emb.Bank.Station(name).Config().Servers
		if want := max(1, int(float64(def.Processors[name].Servers)*0.1+0.5)); got != want {
			t.Errorf("%s: %d servers at capacity scale 0.1, want %d", name, got, want)
		}
	}
	faults := emb.Bank.Station("nexi").Config().Faults
	if len(faults) != 1 || faults[0].Type != "outage" || faults[0].From != time.Minute || faults[0].To != 3*time.Minute {
		t.Errorf("nexi faults %+v, want one outage from 1m to 3m", faults)
	}
	if n := len(emb.Bank.Station("sia").Config().Faults); n != 0 {
		t.Errorf("sia has %d faults, want none", n)
	}
	resp, err := http.Get(emb.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stack /healthz: %s", resp.Status)
	}
}

func TestStartBadInput(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"unknown profile", Options{StackProfile: "fast"}},
		{"outage at an unknown station", Options{Outages: []scenarios.Outage{{Station: "nowhere", Duration: time.Second, Line: 7}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emb, err := Start(context.Background(), tt.o)
			if err == nil {
				emb.Close()
				t.Fatal("started")
			}
			if !errors.Is(err, scenarios.ErrInvalid) {
				t.Fatalf("err %v is not bad input", err)
			}
		})
	}
}
