package bank

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stampede-load/stampede/internal/yamlconf"
	"github.com/stampede-load/stampede/scenarios/synth"
)

// ErrInvalidConfig is matched (errors.Is) by every error that comes from a
// bad banks file or a bad live change, so a command can map it to exit code 2.
var ErrInvalidConfig = errors.New("invalid bank mock config")

// ConfigError is one problem in a banks file or a Config, read as
// file:line: key: message (the parts that are unknown left out). A bad file
// or Config gives a *yamlconf.Error listing them all, which matches
// ErrInvalidConfig and unwraps to its problems, each matching it too.
type ConfigError = yamlconf.Problem

// Config is the whole banks file: the three card processors, the IBAN
// service, and the banks behind it, each a queueing Station. Build one with
// DefaultConfig, LoadConfig or ParseConfig; NewServer validates it.
type Config struct {
	// Seed derives every card the mock returns and seeds the stations'
	// random draws (service times, fault probabilities).
	Seed int64
	// Processors are the card processors by name: exactly iccrea, nexi, sia.
	Processors map[string]ProcessorConfig
	// IBAN is the account-holder check service in front of the banks.
	IBAN IBANConfig
	// Banks are the banks the IBAN service knows and the processors hold
	// cards for; an ABI not listed is unknown (501 UNKNOWN_PSP, no cards).
	Banks []BankConfig

	file    string            // where the config was read from, for messages
	origins map[string]origin // where each key's value was written, for messages
}

// origin is where a value in a Config came from: the key as written (which
// may be a defaults section) and its line.
type origin struct {
	key  string
	line int
}

// StationConfig is one queueing station: a bank or processor with Servers
// slots working in parallel and a bounded FIFO queue in front of them.
type StationConfig struct {
	// Servers is how many requests are served at once; at least 1.
	Servers int
	// Queue is how many requests may wait for a slot; 0 means none wait.
	Queue int
	// OnFull is what a request meets when all slots are busy and the queue
	// is full: RejectWhenFull (the zero value) or ResetWhenFull.
	OnFull OnFull
	// MaxWait is the longest a request waits for a slot before it is refused
	// with 503 QUEUE_TIMEOUT; 0 means it waits until its client gives up.
	MaxWait time.Duration
	// Service is how long a slot is held per request.
	Service ServiceTime
	// RateLimit refuses requests over a rate with 429; zero means no limit.
	RateLimit RateLimit
	// Faults are the failures injected into this station's requests.
	Faults []FaultSpec
}

// OnFull names what a station does with a request that finds its queue full.
type OnFull string

// The behaviours of a full station.
const (
	RejectWhenFull OnFull = "reject" // answer 503 {"code":"QUEUE_FULL"} at once
	ResetWhenFull  OnFull = "reset"  // reset the connection (RST, SO_LINGER 0)
)

// Distribution names the shape of a service-time distribution.
type Distribution string

// The service-time distributions a station can draw from.
const (
	ConstantTime    Distribution = "constant"    // always Value
	ExponentialTime Distribution = "exponential" // memoryless, mean Mean
	LogNormalTime   Distribution = "lognormal"   // by Median and P99: the usual shape of real latencies
	UniformTime     Distribution = "uniform"     // evenly between Min and Max
)

// ServiceTime is a service-time distribution. Only the fields of its
// Distribution are set; build one with ConstantService, ExponentialService,
// LogNormalService or UniformService.
type ServiceTime struct {
	Distribution Distribution
	Value        time.Duration // constant
	Mean         time.Duration // exponential
	Median       time.Duration // lognormal
	P99          time.Duration // lognormal: the 99th percentile, above Median
	Min          time.Duration // uniform
	Max          time.Duration // uniform
}

// ConstantService returns a service time that is always d.
func ConstantService(d time.Duration) ServiceTime {
	return ServiceTime{Distribution: ConstantTime, Value: d}
}

// ExponentialService returns exponentially distributed service times with the
// given mean (an M/M/c station when arrivals are Poisson).
func ExponentialService(mean time.Duration) ServiceTime {
	return ServiceTime{Distribution: ExponentialTime, Mean: mean}
}

// LogNormalService returns lognormal service times with the given median and
// 99th percentile.
func LogNormalService(median, p99 time.Duration) ServiceTime {
	return ServiceTime{Distribution: LogNormalTime, Median: median, P99: p99}
}

// UniformService returns service times spread evenly over [min, max].
func UniformService(min, max time.Duration) ServiceTime {
	return ServiceTime{Distribution: UniformTime, Min: min, Max: max}
}

// RateLimit is a token bucket in front of a station: PerSecond requests per
// second on average, with bursts of up to Burst. A refused request gets 429
// with Retry-After. The zero value is no limit.
type RateLimit struct {
	PerSecond float64 // requests per second; 0 means no limit
	Burst     int     // bucket size in requests; 0 means one second's worth
}

// ProcessorConfig is a card processor (ICCREA, NEXI, SIA): a station that
// verifies credit cards and searches PagoBancomat and co-badge cards.
type ProcessorConfig struct {
	StationConfig
	// CobadgePending is how long a co-badge search stays PENDING after it
	// was started.
	CobadgePending time.Duration
}

// IBANConfig is the IBAN account-holder check service. Each check holds one
// of its slots while it asks the IBAN's bank (a station of its own).
type IBANConfig struct {
	StationConfig
	// BankTimeout is how long the service waits for a bank (its queue and
	// its service time) before answering 502 BANK_TIMEOUT.
	BankTimeout time.Duration
}

// BankConfig is one bank: its identity and the station that answers the
// IBAN service's checks for its accounts.
type BankConfig struct {
	ABI    string  // 5-digit bank code
	Name   string  // display name
	Weight float64 // relative share of card holders; informational
	StationConfig
}

// processorNames are the processors a Config must have, in fan-out order.
var processorNames = [...]string{"iccrea", "nexi", "sia"}

// ProcessorNames returns the names of the card processors the mock hosts,
// in the order a stack fans out to them: iccrea, nexi, sia.
func ProcessorNames() []string { return slices.Clone(processorNames[:]) }

// defaultProcessor is what every processor starts from. Card verification at
// a processor has a median of 80 ms and a p99 of 400 ms (mean about 100 ms),
// so 64 slots serve about 630 requests per second.
func defaultProcessor() ProcessorConfig {
	return ProcessorConfig{
		StationConfig: StationConfig{
			Servers: 64,
			Queue:   512,
			OnFull:  RejectWhenFull,
			MaxWait: 5 * time.Second,
			Service: LogNormalService(80*time.Millisecond, 400*time.Millisecond),
		},
		CobadgePending: 3 * time.Second,
	}
}

// defaultIBAN is the IBAN service: 20 ms median of its own, plus the bank's
// 30 ms, makes the whole check about 50 ms at the median.
func defaultIBAN() IBANConfig {
	return IBANConfig{
		StationConfig: StationConfig{
			Servers: 32,
			Queue:   256,
			OnFull:  RejectWhenFull,
			MaxWait: 5 * time.Second,
			Service: LogNormalService(20*time.Millisecond, 100*time.Millisecond),
		},
		BankTimeout: 3 * time.Second,
	}
}

// defaultBankStation is what every bank starts from: a small station with a
// 30 ms median (p99 200 ms) per account check.
func defaultBankStation() StationConfig {
	return StationConfig{
		Servers: 4,
		Queue:   64,
		OnFull:  RejectWhenFull,
		MaxWait: 2 * time.Second,
		Service: LogNormalService(30*time.Millisecond, 200*time.Millisecond),
	}
}

// defaultSeed is the launch day.
const defaultSeed = 20201208

// DefaultConfig returns the stock banks file: the three processors alike
// (64 slots, lognormal 80 ms median / 400 ms p99, queue 512, max wait 5 s,
// co-badge searches pending 3 s), the IBAN service (32 slots, 20 ms median /
// 100 ms p99, bank timeout 3 s), and the banks of synth.Banks, each with
// 4 slots (30 ms median / 200 ms p99, queue 64, max wait 2 s) or two slots
// per unit of weight for the large ones. No faults, no rate limits.
func DefaultConfig() Config {
	c := Config{Seed: defaultSeed, Processors: map[string]ProcessorConfig{}, IBAN: defaultIBAN()}
	for _, name := range processorNames {
		c.Processors[name] = defaultProcessor()
	}
	for _, b := range synth.Banks {
		st := defaultBankStation()
		st.Servers = max(st.Servers, int(math.Round(2*b.Weight)))
		c.Banks = append(c.Banks, BankConfig{ABI: b.ABI, Name: b.Name, Weight: b.Weight, StationConfig: st})
	}
	return c
}

// clone returns a copy whose Faults do not alias st's.
func (st StationConfig) clone() StationConfig {
	st.Faults = slices.Clone(st.Faults)
	return st
}

// problems collects the problems of a banks file or a Config with the keys
// they are about, located where the key was written.
type problems struct {
	d       *yamlconf.Decoder
	origins map[string]origin
}

// newProblems collects the problems of file ("" for a Config built in Go),
// whose keys were written where origins says.
func newProblems(file string, origins map[string]origin) *problems {
	return &problems{d: yamlconf.New(file, fileKind), origins: origins}
}

// add records msg about the key at path, located where that key (or its
// nearest enclosing key) was written. A bad value in a defaults section is
// inherited by many stations: the decoder reports it once, where it was
// written.
func (p *problems) add(path, format string, args ...any) {
	key, line := path, 0
	for k, rest := path, ""; k != ""; {
		if o, ok := p.origins[k]; ok {
			key, line = o.key+rest, o.line
			break
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k, rest = k[:i], k[i:]+rest
	}
	p.d.AddAt(line, key, format, args...)
}

// err returns the problems as one error matching ErrInvalidConfig, or nil.
func (p *problems) err() error { return p.d.Err(ErrInvalidConfig) }

// Validate reports every problem in c at once, joined; each matches
// ErrInvalidConfig and reads file:line: key: message when c came from a file.
func (c Config) Validate() error {
	p := newProblems(c.file, c.origins)
	c.validate(p)
	return p.err()
}

func (c Config) validate(p *problems) {
	for _, name := range processorNames {
		pc, ok := c.Processors[name]
		if !ok {
			p.add("processors", "processor %s is missing", name)
			continue
		}
		pc.validate(p, "processors."+name)
	}
	for name := range c.Processors {
		if !slices.Contains(processorNames[:], name) {
			p.add("processors."+name, "unknown processor (want %s)", strings.Join(processorNames[:], ", "))
		}
	}
	c.IBAN.validate(p, "iban")
	seen := map[string]int{}
	for i, b := range c.Banks {
		path := fmt.Sprintf("banks[%d]", i)
		b.validate(p, path)
		if j, dup := seen[b.ABI]; dup {
			p.add(path+".abi", "ABI %s is listed twice (also banks[%d])", b.ABI, j)
		}
		seen[b.ABI] = i
	}
}

func (pc ProcessorConfig) validate(p *problems, path string) {
	pc.StationConfig.validate(p, path, true)
	if pc.CobadgePending < 0 {
		p.add(path+".cobadge_pending", "must not be negative, got %s", formatDuration(pc.CobadgePending))
	}
}

func (ic IBANConfig) validate(p *problems, path string) {
	ic.StationConfig.validate(p, path, true)
	if ic.BankTimeout <= 0 {
		p.add(path+".bank_timeout", "must be positive, got %s", formatDuration(ic.BankTimeout))
	}
}

func (b BankConfig) validate(p *problems, path string) {
	if !isDigits(b.ABI, 5) {
		p.add(path+".abi", "%q is not a 5-digit ABI code", b.ABI)
	}
	if strings.TrimSpace(b.Name) == "" {
		p.add(path+".name", "is required")
	}
	if b.Weight < 0 || math.IsNaN(b.Weight) || math.IsInf(b.Weight, 0) {
		p.add(path+".weight", "must be a non-negative number, got %v", b.Weight)
	}
	b.StationConfig.validate(p, path, false)
}

// maxServers and maxQueue keep a typo from allocating the machine away.
const (
	maxServers = 1_000_000
	maxQueue   = 10_000_000
)

// validate checks one station. overHTTP says whether the station answers
// over HTTP itself; a bank does not (the IBAN service answers for it), so
// faults that only shape an HTTP answer do not apply to it.
func (st StationConfig) validate(p *problems, path string, overHTTP bool) {
	if st.Servers < 1 || st.Servers > maxServers {
		p.add(path+".servers", "must be between 1 and %d, got %d", maxServers, st.Servers)
	}
	if st.Queue < 0 || st.Queue > maxQueue {
		p.add(path+".queue", "must be between 0 and %d, got %d", maxQueue, st.Queue)
	}
	switch st.OnFull {
	case "", RejectWhenFull, ResetWhenFull:
	default:
		p.add(path+".on_full", "%q is not reject or reset", st.OnFull)
	}
	if st.MaxWait < 0 {
		p.add(path+".max_wait", "must not be negative, got %s", formatDuration(st.MaxWait))
	}
	st.Service.validate(p, path+".service")
	rl := st.RateLimit
	if rl.PerSecond < 0 || math.IsNaN(rl.PerSecond) || math.IsInf(rl.PerSecond, 0) {
		p.add(path+".rate_limit.per_second", "must be a non-negative number, got %v", rl.PerSecond)
	}
	if rl.Burst < 0 {
		p.add(path+".rate_limit.burst", "must not be negative, got %d", rl.Burst)
	}
	if rl.Burst > 0 && rl.PerSecond == 0 {
		p.add(path+".rate_limit.burst", "needs per_second")
	}
	validateFaults(p, path+".faults", st.Faults, overHTTP)
}

func (s ServiceTime) validate(p *problems, path string) {
	type param struct {
		key string
		v   time.Duration
	}
	params := []param{{"value", s.Value}, {"mean", s.Mean}, {"median", s.Median}, {"p99", s.P99}, {"min", s.Min}, {"max", s.Max}}
	var used []string
	switch s.Distribution {
	case ConstantTime:
		used = []string{"value"}
		if s.Value < 0 {
			p.add(path+".value", "must not be negative, got %s", formatDuration(s.Value))
		}
	case ExponentialTime:
		used = []string{"mean"}
		if s.Mean <= 0 {
			p.add(path+".mean", "must be positive, got %s", formatDuration(s.Mean))
		}
	case LogNormalTime:
		used = []string{"median", "p99"}
		switch {
		case s.Median <= 0:
			p.add(path+".median", "must be positive, got %s", formatDuration(s.Median))
		case s.P99 <= s.Median:
			p.add(path+".p99", "%s must be above the median %s (use constant for a fixed time)", formatDuration(s.P99), formatDuration(s.Median))
		}
	case UniformTime:
		used = []string{"min", "max"}
		if s.Min < 0 {
			p.add(path+".min", "must not be negative, got %s", formatDuration(s.Min))
		}
		if s.Max < s.Min {
			p.add(path+".max", "%s is below min %s", formatDuration(s.Max), formatDuration(s.Min))
		}
	case "":
		p.add(path+".distribution", "is required (constant, exponential, lognormal or uniform)")
		return
	default:
		p.add(path+".distribution", "%q is not constant, exponential, lognormal or uniform", s.Distribution)
		return
	}
	for _, x := range params {
		if x.v != 0 && !slices.Contains(used, x.key) {
			p.add(path+"."+x.key, "does not apply to %s (it takes %s)", s.Distribution, strings.Join(used, " and "))
		}
	}
}

// isDigits reports whether s is exactly n ASCII digits.
func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
