package sim

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stampede-load/stampede/internal/yamlconf"
)

// ErrInvalidModel is wrapped by every problem with a model, so a command
// maps it to exit code 2.
var ErrInvalidModel = errors.New("invalid model")

// modelError is one problem with a model: file:line: what is wrong, or
// model NAME: what is wrong for one built in Go. It matches
// ErrInvalidModel.
type modelError struct{ msg string }

func (e *modelError) Error() string        { return e.msg }
func (e *modelError) Is(target error) bool { return target == ErrInvalidModel }

// Model is a model of an enrollment stack: the downstream stations it calls
// (card processors, the IBAN service, banks, its own database), how it calls
// them (Stack), and each journey step's route through them.
type Model struct {
	Name     string // e.g. "naive", the profile of the reference stack it models
	File     string // the model file it was read from, for messages; "" for one built in Go
	Stations []StationSpec
	Stack    Stack
	Routes   []Route
}

// Station kinds.
const (
	KindProcessor = "processor" // a card processor: verifies cards, searches PagoBancomat and co-badge cards
	KindIBAN      = "iban"      // the IBAN check service; holds its slot while it asks the account's bank
	KindBank      = "bank"      // a bank behind the IBAN service
	KindDB        = "db"        // the stack's database: one station for reads, one for writes
)

// StationSpec is one queueing station: Servers in parallel, a FIFO queue of
// at most Queue (0: none wait; -1: no bound), MaxWait in it (0: no bound).
type StationSpec struct {
	Name    string
	Kind    string
	Servers int
	Queue   int
	MaxWait time.Duration
	Service Service
	// Pending is how long a processor's co-badge search stays PENDING.
	Pending time.Duration
	// BankTimeout is how long the IBAN service waits for a bank before it
	// answers BANK_TIMEOUT (an answer the stack accepts).
	BankTimeout time.Duration
	// Weight is a bank's share of citizens.
	Weight float64
	Line   int // in the model file, for messages
}

// Stack is how the stack treats its downstreams: the reference stack's
// naive and hardened profiles are two settings of it.
type Stack struct {
	// Sequential fan-out calls the processors one after another and fails
	// at the first failure (naive); otherwise they are called at once and
	// the search fails only when every one failed (partial results).
	Sequential bool
	// Workers is how many API requests the stack works on at once, each
	// holding a worker from admission to its answer (the reference stack's
	// MaxInFlight); a request over it is shed at once with 503 OVERLOADED
	// via stack, the hardened stack's admission control. 0 for no limit:
	// the naive stack serves every request on its own goroutine.
	Workers int
	// Pool is a connection pool to the bank host shared by every
	// downstream, waited for without bound but the call timeout; 0 for
	// none.
	Pool int
	// Bulkhead limits concurrent calls to each downstream; a call over it
	// fails at once (503); 0 for none.
	Bulkhead int
	// Breaker, when set, is a circuit breaker per downstream.
	Breaker *Breaker
	// Retry is one retry of a call that timed out or was shed by the
	// station (503), after a pause drawn from [RetryBackoff/2, RetryBackoff].
	Retry        bool
	RetryBackoff time.Duration
	CallTimeout  time.Duration // one attempt of one downstream call
	DBTimeout    time.Duration // one database operation, its wait included
	// CardProcessor verifies credit cards.
	CardProcessor string
	// Overhead, when set, is the time the stack spends on each request of
	// its own (HTTP, JSON, authentication, scheduling) before its route,
	// on as many workers as there are requests: it holds the request's
	// admission slot, not a station.
	Overhead *Service
}

// Breaker is a circuit breaker: it opens when, over the last Window, at
// least MinCalls calls were made and at least FailureRatio failed; after
// OpenFor it lets one probe through.
type Breaker struct {
	Window       time.Duration
	MinCalls     int
	FailureRatio float64
	OpenFor      time.Duration
}

// OpKind is one thing a route does.
type OpKind string

// The operations of a route.
const (
	OpRead         OpKind = "read"         // a database read
	OpWrite        OpKind = "write"        // a database write
	OpCall         OpKind = "call"         // one call to a downstream: the stack's card processor when Stations is empty
	OpIBAN         OpKind = "iban"         // the IBAN check: the IBAN service, then the citizen's bank
	OpFanOut       OpKind = "fanout"       // a search at every processor of Stations, joined
	OpSearchStart  OpKind = "search-start" // an asynchronous co-badge search started at every processor
	OpSearchPoll   OpKind = "search-poll"  // a poll of the processors that took the search: pending while any is
	opKindsWritten        = "read, write, call, iban, fanout, search-start, search-poll"
)

// Op is one operation of a route.
type Op struct {
	Kind     OpKind
	Stations []string // the downstreams it calls, in call order
}

// Route is what the stack does for one journey step, and how it answers
// when that fails.
type Route struct {
	Step string // the scenario step it serves
	Ops  []Op
	// Code and Message answer a failed downstream (the status follows the
	// failure: 504 timed out, 503 shed, 502 otherwise; a failed fan-out
	// is 502); DBCode and DBMessage a failed database operation (503 via
	// db); ShedMessage a request shed by admission control.
	Code, Message     string
	DBCode, DBMessage string
	ShedMessage       string
	Line              int // in the model file, for messages
}

// Station returns the named station, or nil.
func (m *Model) Station(name string) *StationSpec {
	for i := range m.Stations {
		if m.Stations[i].Name == name {
			return &m.Stations[i]
		}
	}
	return nil
}

// Route returns the route of the named step, or nil.
func (m *Model) Route(step string) *Route {
	for i := range m.Routes {
		if m.Routes[i].Step == step {
			return &m.Routes[i]
		}
	}
	return nil
}

// Validate reports every problem with the model at once, each wrapping
// ErrInvalidModel.
func (m *Model) Validate() error {
	var errs []error
	line := 0 // of the station or route being checked
	bad := func(format string, args ...any) {
		where := "model " + m.Name + ": "
		if m.File != "" {
			where = m.File + ": "
			if line > 0 {
				where = fmt.Sprintf("%s:%d: ", m.File, line)
			}
		}
		errs = append(errs, &modelError{where + fmt.Sprintf(format, args...)})
	}
	seen := map[string]bool{}
	kinds := map[string]int{}
	for _, s := range m.Stations {
		line = s.Line
		if seen[s.Name] {
			bad("station %s is listed twice", s.Name)
		}
		seen[s.Name] = true
		kinds[s.Kind]++
		if !slices.Contains([]string{KindProcessor, KindIBAN, KindBank, KindDB}, s.Kind) {
			bad("station %s: kind %q is not processor, iban, bank or db", s.Name, s.Kind)
		}
		if s.Servers < 1 {
			bad("station %s: servers %d must be at least 1", s.Name, s.Servers)
		}
		if s.Queue < -1 || s.MaxWait < 0 {
			bad("station %s: queue %d and max wait %s must not be negative (queue -1: no bound)", s.Name, s.Queue, s.MaxWait)
		}
		if err := s.Service.Validate(); err != nil {
			bad("station %s: service: %v", s.Name, err)
		}
		if s.Kind == KindIBAN && s.BankTimeout <= 0 {
			bad("station %s: bank timeout %s must be positive", s.Name, s.BankTimeout)
		}
	}
	line = 0
	for _, db := range []string{"db-read", "db-write"} {
		if st := m.Station(db); st == nil || st.Kind != KindDB {
			bad("station %s (kind db) is missing", db)
		}
	}
	if kinds[KindIBAN] > 1 {
		bad("%d IBAN services: want at most one", kinds[KindIBAN])
	}
	if kinds[KindIBAN] == 1 && kinds[KindBank] == 0 {
		bad("the IBAN service has no bank behind it")
	}
	k := m.Stack
	if k.CallTimeout <= 0 || k.DBTimeout <= 0 {
		bad("stack: call timeout %s and database timeout %s must be positive", k.CallTimeout, k.DBTimeout)
	}
	if k.Workers < 0 || k.Pool < 0 || k.Bulkhead < 0 {
		bad("stack: workers, pool and bulkhead must not be negative")
	}
	if k.Retry && k.RetryBackoff <= 0 {
		bad("stack: retry backoff %s must be positive", k.RetryBackoff)
	}
	if b := k.Breaker; b != nil && (b.Window <= 0 || b.MinCalls < 1 || b.FailureRatio <= 0 || b.FailureRatio > 1 || b.OpenFor <= 0) {
		bad("stack: breaker needs a positive window and open time, min calls >= 1 and 0 < failure ratio <= 1")
	}
	if k.Overhead != nil {
		if err := k.Overhead.Validate(); err != nil {
			bad("stack: overhead: %v", err)
		}
	}
	if st := m.Station(k.CardProcessor); st == nil || st.Kind != KindProcessor {
		bad("stack: card processor %q is not a processor station", k.CardProcessor)
	}
	steps := map[string]bool{}
	for _, r := range m.Routes {
		line = r.Line
		if steps[r.Step] {
			bad("route %s is listed twice", r.Step)
		}
		steps[r.Step] = true
		for _, op := range r.Ops {
			want := ""
			switch op.Kind {
			case OpRead, OpWrite:
			case OpCall, OpFanOut, OpSearchStart, OpSearchPoll:
				want = KindProcessor
			case OpIBAN:
				want = KindIBAN
			default:
				bad("route %s: operation %q is not one of %s", r.Step, op.Kind, opKindsWritten)
				continue
			}
			if want == KindIBAN && len(op.Stations) != 1 {
				bad("route %s: iban names %d stations, want the one IBAN service", r.Step, len(op.Stations))
			}
			if (op.Kind == OpFanOut || op.Kind == OpSearchStart) && len(op.Stations) == 0 {
				bad("route %s: %s names no processor", r.Step, op.Kind)
			}
			for _, name := range op.Stations {
				st := m.Station(name)
				switch {
				case st == nil:
					bad("route %s: %s calls station %q, which the model does not have%s", r.Step, op.Kind, name, yamlconf.Suggest(name, m.stationNames()))
				case want != "" && st.Kind != want:
					bad("route %s: %s calls %s, a %s station; want a %s", r.Step, op.Kind, name, st.Kind, want)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (m *Model) stationNames() []string {
	var names []string
	for _, s := range m.Stations {
		names = append(names, s.Name)
	}
	return names
}

// Write prints the model as a model file: ParseModel reads back the same
// model, so `stampede sim model > model.yaml` is a starting point to edit.
func (m *Model) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# stampede model of an enrollment stack (see README: Simulating capacity)\nmodel: %q\nstations:\n", m.Name)
	for _, s := range m.Stations {
		fmt.Fprintf(&b, "  - {name: %q, kind: %s, servers: %d, queue: %d, max_wait: %s, service: %s",
			s.Name, s.Kind, s.Servers, s.Queue, s.MaxWait, s.Service.yaml())
		if s.Pending > 0 {
			fmt.Fprintf(&b, ", cobadge_pending: %s", s.Pending)
		}
		if s.BankTimeout > 0 {
			fmt.Fprintf(&b, ", bank_timeout: %s", s.BankTimeout)
		}
		if s.Weight > 0 {
			fmt.Fprintf(&b, ", weight: %s", strconv.FormatFloat(s.Weight, 'g', -1, 64))
		}
		b.WriteString("}\n")
	}
	k := m.Stack
	fanOut := "parallel"
	if k.Sequential {
		fanOut = "sequential"
	}
	fmt.Fprintf(&b, "stack:\n  fan_out: %s\n  workers: %d\n  pool: %d\n  bulkhead: %d\n  call_timeout: %s\n  db_timeout: %s\n  card_processor: %q\n",
		fanOut, k.Workers, k.Pool, k.Bulkhead, k.CallTimeout, k.DBTimeout, k.CardProcessor)
	if k.Overhead != nil {
		fmt.Fprintf(&b, "  overhead: %s\n", k.Overhead.yaml())
	}
	if k.Retry {
		fmt.Fprintf(&b, "  retry_backoff: %s\n", k.RetryBackoff)
	}
	if br := k.Breaker; br != nil {
		fmt.Fprintf(&b, "  breaker: {window: %s, min_calls: %d, failure_ratio: %s, open_for: %s}\n",
			br.Window, br.MinCalls, strconv.FormatFloat(br.FailureRatio, 'g', -1, 64), br.OpenFor)
	}
	b.WriteString("routes:\n")
	for _, r := range m.Routes {
		ops := make([]string, 0, len(r.Ops))
		for _, op := range r.Ops {
			s := string(op.Kind)
			if len(op.Stations) > 0 {
				s += "(" + strings.Join(op.Stations, ",") + ")"
			}
			ops = append(ops, strconv.Quote(s))
		}
		fmt.Fprintf(&b, "  - {step: %q, ops: [%s]", r.Step, strings.Join(ops, ", "))
		for _, f := range []struct{ key, v string }{{"code", r.Code}, {"message", r.Message}, {"db_code", r.DBCode},
			{"db_message", r.DBMessage}, {"shed_message", r.ShedMessage}} {
			if f.v != "" {
				fmt.Fprintf(&b, ", %s: %s", f.key, yamlString(f.v))
			}
		}
		b.WriteString("}\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// yaml writes the distribution as a model file has it.
func (s Service) yaml() string {
	switch s.Distribution {
	case Exponential:
		return fmt.Sprintf("{distribution: exponential, mean: %s}", s.Mean)
	case LogNormal:
		return fmt.Sprintf("{distribution: lognormal, median: %s, p99: %s}", s.Median, s.P99)
	case Uniform:
		return fmt.Sprintf("{distribution: uniform, min: %s, max: %s}", s.Min, s.Max)
	}
	return fmt.Sprintf("{distribution: %s, value: %s}", cmp.Or(s.Distribution, Constant), s.Value)
}

// yamlString quotes s for YAML: a double-quoted scalar with JSON's escapes,
// which YAML reads back as written.
func yamlString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

// String writes the distribution as it is configured.
func (s Service) String() string {
	switch s.Distribution {
	case Exponential:
		return fmt.Sprintf("exponential(mean %s)", s.Mean)
	case LogNormal:
		return fmt.Sprintf("lognormal(median %s, p99 %s)", s.Median, s.P99)
	case Uniform:
		return fmt.Sprintf("uniform(%s..%s)", s.Min, s.Max)
	}
	return fmt.Sprintf("constant(%s)", s.Value)
}
