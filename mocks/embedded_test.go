package mocks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stampede-load/stampede/mocks/bank"
	"github.com/stampede-load/stampede/mocks/stack"
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

func TestForScenario(t *testing.T) {
	sc, err := scenarios.Resolve("bank-outage")
	if err != nil {
		t.Fatal(err)
	}
	sc.Embedded.Banks = "scenario-banks.yaml"
	dir := filepath.Join(t.TempDir(), "run")
	o, err := ForScenario(sc, Options{StackProfile: "hardened"}, dir, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{StackProfile: "hardened", DB: filepath.Join(dir, "stack.db"), BanksFile: "scenario-banks.yaml", Seed: sc.Seed,
		CapacityScale: 0.2, Outages: sc.Outages}
	if !reflect.DeepEqual(o, want) || len(o.Outages) == 0 {
		t.Errorf("options %+v\nwant    %+v", o, want)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("the run folder for stack.db was not made: %v", err)
	}
	sc.Embedded.DB = "scenario.db"
	if o, err := ForScenario(sc, Options{}, dir, 1); err != nil || o.DB != "scenario.db" {
		t.Errorf("the scenario's database: %+v, %v", o, err)
	}
	o, err = ForScenario(sc, Options{DB: "postgres://x", BanksFile: "flag-banks.yaml"}, dir, 1)
	if err != nil || o.StackProfile != sc.Embedded.StackProfile || o.DB != "postgres://x" || o.BanksFile != "flag-banks.yaml" {
		t.Errorf("the scenario's profile under the flags' database and banks: %+v, %v", o, err)
	}
	if _, err := ForScenario(sc, Options{StackProfile: "hardnd"}, dir, 1); !errors.Is(err, stack.ErrUnknownProfile) {
		t.Errorf("an unknown profile: %v", err)
	}
}

// TestStackProfileNames holds the scenario files' stack_profile to the
// stack's own profiles, the one parser of their names.
func TestStackProfileNames(t *testing.T) {
	const src = "name: t\nprofile: [{hold: {rate: 1/s, duration: 1s}}]\njourneys: [{name: j, steps: [{name: s, path: /}]}]\nembedded: {stack_profile: %s}\n"
	for _, name := range stack.Profiles {
		if _, err := stack.ParseProfile(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if sc, err := scenarios.Parse("t.yaml", []byte(fmt.Sprintf(src, name))); err != nil || sc.Embedded.StackProfile != name {
			t.Errorf("a scenario with stack_profile %s: %v", name, err)
		}
	}
	if _, err := scenarios.Parse("t.yaml", []byte(fmt.Sprintf(src, "reckless"))); err == nil {
		t.Error("a scenario took stack_profile reckless")
	}
	if _, err := stack.ParseProfile("reckless"); !errors.Is(err, stack.ErrUnknownProfile) {
		t.Errorf("ParseProfile(reckless): %v", err)
	}
}
