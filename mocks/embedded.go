// Package mocks starts what a replay runs against when a scenario's target
// is "embedded" (scenarios.EmbeddedTarget): the bank and card-processor mocks and the reference
// enrollment stack, in-process on free loopback ports. The replay engine only
// ever sees the stack's URL.
//
// mocks owns the wiring of the embedded stack (its options from a scenario,
// the capacity scale, the outages); it imports mocks/bank, mocks/stack and
// scenarios, and must not import replay or sim.
package mocks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/stampede-load/stampede/mocks/bank"
	"github.com/stampede-load/stampede/mocks/stack"
	"github.com/stampede-load/stampede/scenarios"
)

// Options configure the embedded stack.
type Options struct {
	StackProfile string // "naive" (the 2020 behaviour) or "hardened"; "" means naive
	DB           string // "" for SQLite in a temporary folder, an SQLite path, or a postgres:// DSN
	BanksFile    string // banks file; "" for the default banks
	Seed         int64  // seeds the banks' cards and random draws

	// CapacityScale multiplies the capacity of every bank station (servers
	// and queue) and of the stack (admission limit, bulkheads, connection
	// pool). A scenario replayed at a tenth of its rate on a laptop keeps
	// launch day's utilisation, and so its saturation and error modes, when
	// the capacity shrinks by the same factor. 0 means 1.
	CapacityScale float64

	Outages []scenarios.Outage // downstream outages, from the run's start
}

// Embedded is a running embedded stack.
type Embedded struct {
	URL      string // the stack's base URL, what the replay targets
	BanksURL string // the bank mocks' base URL (admin API and /metrics included)
	Bank     *bank.Server
	Stack    *stack.Server
}

// Start starts the bank mocks, then the stack in front of them. Outage
// windows count from the bank mocks' start, which precedes the replay's
// first arrival by the stack's start-up time (tens of milliseconds). Close
// stops both.
func Start(ctx context.Context, o Options) (*Embedded, error) {
	cfg, err := BankConfig(o)
	if err != nil {
		return nil, err
	}
	scfg, err := StackConfig(o)
	if err != nil {
		return nil, err
	}
	b, err := bank.NewServer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded bank mocks: %w", err)
	}
	scfg.BanksURL = b.URL
	s, err := stack.NewServer(ctx, scfg)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("embedded stack: %w", err)
	}
	return &Embedded{URL: s.URL, BanksURL: b.URL, Bank: b, Stack: s}, nil
}

// ForScenario derives the options of the embedded stack a run of sc starts
// against: the scenario's embedded section (stack profile, database, banks
// file) under what over sets (its non-empty StackProfile, DB and
// BanksFile, from the command line), the scenario's seed and outages, and
// the capacity shrunk by the run's rate scale. The database defaults to
// SQLite at dir/stack.db, kept beside the results so the audit can be redone
// after the run; dir is created for it.
func ForScenario(sc *scenarios.Scenario, over Options, dir string, rateScale float64) (Options, error) {
	o := Options{
		StackProfile:  cmp.Or(over.StackProfile, sc.Embedded.StackProfile),
		DB:            cmp.Or(over.DB, sc.Embedded.DB),
		BanksFile:     cmp.Or(over.BanksFile, sc.Embedded.Banks),
		Seed:          sc.Seed,
		CapacityScale: rateScale,
		Outages:       sc.Outages,
	}
	if o.StackProfile != "" {
		if _, err := stack.ParseProfile(o.StackProfile); err != nil {
			return Options{}, fmt.Errorf("%w: %w", scenarios.ErrInvalid, err)
		}
	}
	if o.DB == "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Options{}, fmt.Errorf("run folder: %w", err)
		}
		o.DB = filepath.Join(dir, "stack.db")
	}
	return o, nil
}

// BankConfig returns the configuration the embedded bank mocks start with:
// the banks file (or the default banks), every station's capacity scaled by
// CapacityScale, the outages injected. The simulator's model of the
// reference stack is derived from it, so the two cannot drift.
func BankConfig(o Options) (bank.Config, error) {
	cfg := bank.DefaultConfig()
	if o.BanksFile != "" {
		var err error
		if cfg, err = bank.LoadConfig(o.BanksFile); err != nil {
			return bank.Config{}, err
		}
	}
	cfg.Seed = o.Seed
	scale := capacityScale(o)
	for name, p := range cfg.Processors {
		p.StationConfig = scaleStation(p.StationConfig, scale)
		cfg.Processors[name] = p
	}
	cfg.IBAN.StationConfig = scaleStation(cfg.IBAN.StationConfig, scale)
	for i := range cfg.Banks {
		cfg.Banks[i].StationConfig = scaleStation(cfg.Banks[i].StationConfig, scale)
	}
	if err := injectOutages(&cfg, o.Outages); err != nil {
		return bank.Config{}, err
	}
	return cfg, nil
}

// StackConfig returns the configuration the embedded stack starts with,
// defaults applied, but for the banks URL: the profile, the
// database, the call timeout, and the admission limit, bulkheads and connection pool
// scaled by CapacityScale. The simulator's model of the reference stack is
// derived from it.
func StackConfig(o Options) (stack.Config, error) {
	profile := stack.Naive
	if o.StackProfile != "" {
		var err error
		if profile, err = stack.ParseProfile(o.StackProfile); err != nil {
			return stack.Config{}, fmt.Errorf("%w: %w", scenarios.ErrInvalid, err)
		}
	}
	scale := capacityScale(o)
	return stack.Config{
		Profile:     profile,
		DB:          o.DB,
		CallTimeout: callTimeout(profile),
		Seed:        uint64(o.Seed),
		MaxInFlight: scaled(256, scale),
		Bulkhead:    scaled(64, scale),
		NaivePool:   scaled(128, scale),
	}.WithDefaults(), nil
}

func capacityScale(o Options) float64 {
	if o.CapacityScale <= 0 {
		return 1
	}
	return o.CapacityScale
}

// Close stops the stack (waiting for its in-flight requests), then the banks.
func (e *Embedded) Close() error {
	err := e.Stack.Close()
	return errors.Join(err, e.Bank.Close())
}

// scaleStation multiplies a station's capacity, keeping at least one server.
func scaleStation(c bank.StationConfig, scale float64) bank.StationConfig {
	c.Servers = scaled(c.Servers, scale)
	if c.Queue > 0 {
		c.Queue = scaled(c.Queue, scale)
	}
	return c
}

func scaled(n int, scale float64) int {
	return max(1, int(math.Round(float64(n)*scale)))
}

// injectOutages adds an outage fault to each named station for its window.
func injectOutages(cfg *bank.Config, outages []scenarios.Outage) error {
	for _, o := range outages {
		f := bank.FaultSpec{Type: "outage", Probability: 1, From: o.Start, To: o.Start + o.Duration}
		switch {
		case o.Station == "iban":
			cfg.IBAN.Faults = append(cfg.IBAN.Faults, f)
		case cfg.Processors[o.Station].Servers > 0:
			p := cfg.Processors[o.Station]
			p.Faults = append(p.Faults, f)
			cfg.Processors[o.Station] = p
		default:
			found := false
			for i := range cfg.Banks {
				if cfg.Banks[i].ABI == o.Station || cfg.Banks[i].Name == o.Station {
					cfg.Banks[i].Faults = append(cfg.Banks[i].Faults, f)
					found = true
				}
			}
			if !found {
				return fmt.Errorf("%w: outage at line %d: no station %q in the banks file", scenarios.ErrInvalid, o.Line, o.Station)
			}
		}
	}
	return nil
}

// callTimeout is how long the embedded stack waits for one downstream call.
// The naive stack's is long, as in 2020, yet its sequential fan-out to three
// processors (3 x 3s) still ends before the app's own
// timeout (10s in the stock scenarios): users then get the stack's error
// ("Si è verificato un errore temporaneo...") with the upstream that caused
// it, as they did on launch day, rather than an app-side timeout. The
// hardened stack keeps its short default.
func callTimeout(p stack.Profile) time.Duration {
	if p == stack.Naive {
		return 3 * time.Second // the naive stack calls the three processors one after another: 3 x 3s < 10s
	}
	return 0
}
