package reference

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stampede-load/stampede/mocks"
	"github.com/stampede-load/stampede/mocks/bank"
	"github.com/stampede-load/stampede/mocks/stack"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
	"github.com/stampede-load/stampede/sim"
)

// TestModelIsTheEmbeddedStack checks, figure by figure, that the stock
// models are the stations and settings the embedded stack starts with, at
// real scale and shrunk as a --rate-scale 0.1 replay shrinks it.
func TestModelIsTheEmbeddedStack(t *testing.T) {
	for _, tc := range []struct {
		profile string
		scale   float64
	}{{"naive", 1}, {"naive", 0.1}, {"hardened", 1}, {"hardened", 0.1}} {
		t.Run(tc.profile+"@"+strconv.FormatFloat(tc.scale, 'g', -1, 64), func(t *testing.T) {
			o := mocks.Options{StackProfile: tc.profile, CapacityScale: tc.scale}
			bc, err := mocks.BankConfig(o)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := mocks.StackConfig(o)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Model(Options{Profile: tc.profile, CapacityScale: tc.scale})
			if err != nil {
				t.Fatal(err)
			}
			same := func(name string, got sim.StationSpec, want bank.StationConfig) {
				t.Helper()
				w := want.Service
				if got.Servers != want.Servers || got.Queue != want.Queue || got.MaxWait != want.MaxWait ||
					string(got.Service.Distribution) != string(w.Distribution) || got.Service.Median != w.Median ||
					got.Service.P99 != w.P99 || got.Service.Mean != w.Mean || got.Service.Value != w.Value ||
					got.Service.Min != w.Min || got.Service.Max != w.Max {
					t.Errorf("%s: model %+v, embedded %+v", name, got, want)
				}
			}
			for name, p := range bc.Processors {
				st := m.Station(name)
				if st == nil || st.Kind != sim.KindProcessor {
					t.Fatalf("no processor %s in the model", name)
				}
				same(name, *st, p.StationConfig)
				if st.Pending != p.CobadgePending {
					t.Errorf("%s: co-badge pending %s, embedded %s", name, st.Pending, p.CobadgePending)
				}
			}
			same("iban", *m.Station("iban"), bc.IBAN.StationConfig)
			if m.Station("iban").BankTimeout != bc.IBAN.BankTimeout {
				t.Errorf("iban bank timeout %s, embedded %s", m.Station("iban").BankTimeout, bc.IBAN.BankTimeout)
			}
			for _, b := range bc.Banks {
				st := m.Station(b.ABI)
				if st == nil {
					t.Fatalf("bank %s missing", b.ABI)
				}
				same(b.ABI, *st, b.StationConfig)
				if st.Weight != b.Weight {
					t.Errorf("bank %s weight %g, embedded %g", b.ABI, st.Weight, b.Weight)
				}
			}
			if n := len(m.Stations); n != len(bc.Processors)+1+len(bc.Banks)+2 {
				t.Errorf("%d stations, want the processors, iban, %d banks and the database's two", n, len(bc.Banks))
			}
			k := m.Stack
			if k.CallTimeout != sc.CallTimeout || k.DBTimeout != sc.DBTimeout || k.CardProcessor != sc.CardProcessor ||
				m.Station("db-read").Servers != sc.DBConns {
				t.Errorf("stack %+v, embedded %+v", k, sc)
			}
			if tc.profile == "naive" {
				if !k.Sequential || k.Pool != sc.NaivePool || k.Workers != 0 || k.Bulkhead != 0 || k.Retry || k.Breaker != nil {
					t.Errorf("naive stack modelled as %+v (pool %d in the embedded one)", k, sc.NaivePool)
				}
				return
			}
			b := sc.Breaker
			if k.Sequential || k.Pool != 0 || k.Workers != sc.MaxInFlight || k.Bulkhead != sc.Bulkhead ||
				!k.Retry || k.RetryBackoff != sc.RetryBackoff || k.Breaker == nil ||
				*k.Breaker != (sim.Breaker{Window: b.Window, MinCalls: b.MinCalls, FailureRatio: b.FailureRatio, OpenFor: b.OpenFor}) {
				t.Errorf("hardened stack modelled as %+v, embedded %+v", k, sc)
			}
		})
	}
}

// TestModelFollowsABanksFile: a banks file changes the model as it changes
// the embedded stack.
func TestModelFollowsABanksFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "banks.yaml")
	src := "processors:\n  nexi: {servers: 200}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := bank.LoadConfig(path)
	if err != nil {
		t.Fatalf("banks file: %v", err)
	}
	m, err := Model(Options{BanksFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Station("nexi").Servers; got != want.Processors["nexi"].Servers || got != 200 {
		t.Fatalf("nexi has %d servers in the model, %d in the banks file", got, want.Processors["nexi"].Servers)
	}
	if _, err := Model(Options{Profile: "brittle"}); err == nil {
		t.Fatal("an unknown profile made a model")
	}
}

// TestSimulatedLaunchDayFailsAsMeasured simulates the main job's scales
// (the scenario's embedded: defaults) on the naive model and checks the
// error modes come out as the replay names them: launch-day codes and
// messages, blamed on the processor or service that caused them.
func TestSimulatedLaunchDayFailsAsMeasured(t *testing.T) {
	sc, err := scenarios.LoadStock("launch-day")
	if err != nil {
		t.Fatal(err)
	}
	sc.Scale(sc.Embedded.TimeScale, sc.Embedded.RateScale)
	sc.Profile.Truncate(sc.Embedded.Duration)
	m, err := Model(Options{Profile: "naive", CapacityScale: sc.Embedded.RateScale})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	count := reports.SinkFunc(func(*reports.Result) { n++ })
	run := func() *sim.Outcome {
		out, err := sim.Run(context.Background(), sim.Options{Scenario: sc, Model: m, Seed: 1, Sinks: []reports.Sink{count}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := run()
	s := out.Summary
	if s.Source != "sim" || int64(n) != s.Requests || s.Arrivals == 0 {
		t.Fatalf("source %q, %d results to the sink for %d requests, %d arrivals", s.Source, n, s.Requests, s.Arrivals)
	}
	modes := map[string]reports.ErrorSummary{}
	for _, e := range s.Errors {
		modes[string(e.Mode)+" via "+e.Upstream] = e
	}
	for key, msg := range map[string]string{
		"http 502 BANCOMAT_SEARCH_FAILED via sia":  stack.MessageBancomatSearchFailed,
		"http 502 BANCOMAT_SEARCH_FAILED via nexi": stack.MessageBancomatSearchFailed,
		"http 504 CARD_SAVE_FAILED via nexi":       stack.MessageCardSaveFailed,
		"http 504 IBAN_CHECK_FAILED via iban":      stack.MessageIBANFailed,
		"http 502 COBADGE_SEARCH_FAILED via sia":   stack.MessageCobadgeFailed,
	} {
		e, ok := modes[key]
		if !ok {
			t.Errorf("no %s among %v", key, keys(modes))
			continue
		}
		if e.Message != msg {
			t.Errorf("%s says %q, want %q", key, e.Message, msg)
		}
	}
	if s.Metastability == nil || s.RetryAmplification == nil || len(s.Series) == 0 {
		t.Errorf("metastability %v, retry amplification %v, %d series points: want all from the accumulator",
			s.Metastability, s.RetryAmplification, len(s.Series))
	}
	if len(s.Gates) != 2 || s.Passed() {
		t.Errorf("gates %+v: the naive stack fails both", s.Gates)
	}
	again := run()
	if again.Summary.Requests != s.Requests || again.Summary.OK != s.OK || again.Events != out.Events {
		t.Errorf("a second run with the same seeds differs: %d/%d/%d vs %d/%d/%d requests/ok/events",
			again.Summary.Requests, again.Summary.OK, again.Events, s.Requests, s.OK, out.Events)
	}
}

func keys(m map[string]reports.ErrorSummary) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestStockModelsRoundTripThroughAFile: what `stampede sim model` prints is
// a model file that reads back as the same model.
func TestStockModelsRoundTripThroughAFile(t *testing.T) {
	for _, p := range []string{"naive", "hardened"} {
		m, err := Model(Options{Profile: p, CapacityScale: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := m.Write(&b); err != nil {
			t.Fatal(err)
		}
		back, err := sim.ParseModel(p+".yaml", []byte(b.String()))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		back.File = ""
		for i := range back.Stations {
			back.Stations[i].Line = 0
		}
		for i := range back.Routes {
			back.Routes[i].Line = 0
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("%s: the model file reads back differently", p)
		}
	}
}

// TestFindingsSayWhereEachProfileSaturates: at the main job's scales the
// naive stack runs out of its shared connections first; the hardened one
// sheds at the processors' bulkheads first (the three within a second of
// each other), then at its own admission limit.
func TestFindingsSayWhereEachProfileSaturates(t *testing.T) {
	for _, tc := range []struct{ profile, first, also string }{
		{"naive", "pool     13 connections shared by every downstream", "pool     13 servers"},
		{"hardened", "6 servers", "stack    26 workers, every one busy"},
	} {
		sc, err := scenarios.LoadStock("launch-day")
		if err != nil {
			t.Fatal(err)
		}
		sc.Scale(sc.Embedded.TimeScale, sc.Embedded.RateScale)
		sc.Profile.Truncate(sc.Embedded.Duration)
		m, err := Model(Options{Profile: tc.profile, CapacityScale: sc.Embedded.RateScale})
		if err != nil {
			t.Fatal(err)
		}
		out, err := sim.Run(context.Background(), sim.Options{Scenario: sc, Model: m, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := sim.WriteFindings(&b, out, sim.Scales{Time: 10, Rate: 0.1}); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(b.String(), "\n")
		if len(lines) < 3 || !strings.Contains(lines[2], tc.first) || !strings.Contains(b.String(), tc.also) ||
			tc.profile == "hardened" && !strings.Contains(lines[2], "shed by the stack (bulkhead full") {
			t.Errorf("%s: findings do not start with %q and name %q:\n%s", tc.profile, tc.first, tc.also, b.String())
		}
		if strings.Contains(b.String(), "Beside launch day") {
			t.Errorf("%s: a scaled run set beside the real day's figures", tc.profile)
		}
	}
}
