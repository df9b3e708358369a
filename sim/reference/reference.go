// Package reference builds the simulator's model of stampede's reference
// stack (mocks/stack in front of mocks/bank) from the very parameters the
// embedded stack starts with (mocks.BankConfig and mocks.StackConfig), so
// the model and what it models cannot drift apart. It imports the mocks
// (package sim does not) and must not import replay.
package reference

import (
	"fmt"
	"time"

	"github.com/stampede-load/stampede/mocks"
	"github.com/stampede-load/stampede/mocks/bank"
	"github.com/stampede-load/stampede/mocks/stack"
	"github.com/stampede-load/stampede/sim"
)

// Options choose the reference stack to model: as mocks.Options choose the
// embedded stack to start.
type Options struct {
	Profile       string  // "naive" (default) or "hardened"
	BanksFile     string  // "" for the default banks
	CapacityScale float64 // as the embedded stack's: follows --rate-scale; 0 means 1
}

// The database is the one part of the model not derived from a
// configuration: the stack's SQLite (DBConns readers, one writer whose
// group commits carry up to stack.GroupCommitMax writes) answers
// in well under a millisecond on a laptop and never saturated under the
// launch day, so it is modelled as fast stations.
var (
	dbRead  = sim.Service{Distribution: sim.LogNormal, Median: 100 * time.Microsecond, P99: time.Millisecond}
	dbWrite = sim.Service{Distribution: sim.LogNormal, Median: time.Millisecond, P99: 20 * time.Millisecond}
)

// overhead is the embedded stack's own time per request, read off the
// login step of the main job (a step with no downstream and no database:
// median about 1 ms, 99th percentile tens of milliseconds on the 2-core
// machine it shares with the generator and the bank mocks).
var overhead = sim.Service{Distribution: sim.LogNormal, Median: time.Millisecond, P99: 60 * time.Millisecond}

// Model returns the model of the reference stack under o.
func Model(o Options) (*sim.Model, error) {
	mo := mocks.Options{StackProfile: o.Profile, BanksFile: o.BanksFile, CapacityScale: o.CapacityScale}
	bc, err := mocks.BankConfig(mo)
	if err != nil {
		return nil, err
	}
	sc, err := mocks.StackConfig(mo)
	if err != nil {
		return nil, err
	}
	m := &sim.Model{Name: string(sc.Profile)}
	for _, name := range bank.ProcessorNames() {
		p := bc.Processors[name]
		s := station(name, sim.KindProcessor, p.StationConfig)
		s.Pending = p.CobadgePending
		m.Stations = append(m.Stations, s)
	}
	iban := station("iban", sim.KindIBAN, bc.IBAN.StationConfig)
	iban.BankTimeout = bc.IBAN.BankTimeout
	m.Stations = append(m.Stations, iban)
	for _, b := range bc.Banks {
		s := station(b.ABI, sim.KindBank, b.StationConfig)
		s.Weight = b.Weight
		m.Stations = append(m.Stations, s)
	}
	m.Stations = append(m.Stations,
		sim.StationSpec{Name: "db-read", Kind: sim.KindDB, Servers: sc.DBConns, Queue: -1, Service: dbRead},
		// One SQLite writer, but group commits: up to GroupCommitMax
		// writes share one transaction and its fsync.
		sim.StationSpec{Name: "db-write", Kind: sim.KindDB, Servers: stack.GroupCommitMax, Queue: -1, Service: dbWrite})
	m.Stack = sim.Stack{CallTimeout: sc.CallTimeout, DBTimeout: sc.DBTimeout, CardProcessor: sc.CardProcessor, Overhead: &overhead}
	if sc.Profile == stack.Naive {
		m.Stack.Sequential = true
		m.Stack.Pool = sc.NaivePool
	} else {
		m.Stack.Workers = sc.MaxInFlight
		m.Stack.Bulkhead = sc.Bulkhead
		m.Stack.Retry, m.Stack.RetryBackoff = true, sc.RetryBackoff
		b := sc.Breaker
		m.Stack.Breaker = &sim.Breaker{Window: b.Window, MinCalls: b.MinCalls, FailureRatio: b.FailureRatio, OpenFor: b.OpenFor}
	}
	m.Routes = routes()
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("reference model: %w", err)
	}
	return m, nil
}

func station(name, kind string, c bank.StationConfig) sim.StationSpec {
	return sim.StationSpec{Name: name, Kind: kind, Servers: c.Servers, Queue: c.Queue, MaxWait: c.MaxWait, Service: service(c.Service)}
}

func service(s bank.ServiceTime) sim.Service {
	return sim.Service{Distribution: sim.Distribution(s.Distribution), Value: s.Value, Mean: s.Mean,
		Median: s.Median, P99: s.P99, Min: s.Min, Max: s.Max}
}

// routes are the reference stack's handlers (mocks/stack/handlers_*.go)
// step by step, with the codes and launch-day messages they answer.
func routes() []sim.Route {
	procs := bank.ProcessorNames()
	temporary := func(step string, ops ...sim.Op) sim.Route {
		return sim.Route{Step: step, Ops: ops, DBCode: "TEMPORARY_ERROR", DBMessage: stack.MessageTemporary, ShedMessage: stack.MessageTemporary}
	}
	read, write := sim.Op{Kind: sim.OpRead}, sim.Op{Kind: sim.OpWrite}
	setIBAN := temporary("set-iban", read, sim.Op{Kind: sim.OpIBAN, Stations: []string{"iban"}}, write)
	setIBAN.Code, setIBAN.Message = "IBAN_CHECK_FAILED", stack.MessageIBANFailed
	bancomat := sim.Route{Step: "bancomat-search", Ops: []sim.Op{{Kind: sim.OpFanOut, Stations: procs}},
		Code: "BANCOMAT_SEARCH_FAILED", Message: stack.MessageBancomatSearchFailed, ShedMessage: stack.MessageBancomatSearchFailed}
	cobadge := temporary("cobadge-search", sim.Op{Kind: sim.OpSearchStart, Stations: procs})
	cobadge.Code, cobadge.Message = "COBADGE_SEARCH_FAILED", stack.MessageCobadgeFailed
	poll := temporary("cobadge-poll", sim.Op{Kind: sim.OpSearchPoll, Stations: procs})
	poll.Code, poll.Message = "COBADGE_SEARCH_FAILED", stack.MessageCobadgeFailed
	addCard := sim.Route{Step: "add-card", Ops: []sim.Op{read, {Kind: sim.OpCall}, write},
		Code: "CARD_SAVE_FAILED", Message: stack.MessageCardSaveFailed,
		DBCode: "CARD_SAVE_FAILED", DBMessage: stack.MessageCardSaveFailed, ShedMessage: stack.MessageCardSaveFailed}
	wallet := sim.Route{Step: "list-wallet", Ops: []sim.Op{read},
		DBCode: "WALLET_UNAVAILABLE", DBMessage: stack.MessageWalletUnavailable, ShedMessage: stack.MessageWalletUnavailable}
	return []sim.Route{
		temporary("login"),
		temporary("accept-terms", write),
		setIBAN,
		temporary("list-banks"),
		bancomat, cobadge, poll, addCard, wallet,
		temporary("activate", write),
		temporary("read-citizen", read),
	}
}
