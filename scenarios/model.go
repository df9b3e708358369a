// Package scenarios is stampede's scenario model: what traffic to send (an
// arrival-rate profile and weighted user journeys), how users behave (think
// time, retries, abandonment, polling), what synthetic or fed data they carry,
// and what the run is judged by (SLO and gates). It reads scenario files
// (YAML) and validates them with file:line errors, and ships the stock
// scenarios. It does no I/O beyond reading files.
//
// scenarios owns the scenario file format (decoded with internal/yamlconf),
// the arrival profile, the user's walk through a journey and the command
// line's overrides of a scenario (Apply). It imports reports (SLOs, gates,
// ratios) and scenarios/synth; it must not import replay, sim or mocks.
package scenarios

import (
	"time"

	"github.com/stampede-load/stampede/reports"
)

// Scenario is a validated, ready-to-run scenario. Build one with Load,
// LoadStock or Parse; the zero value is not usable.
type Scenario struct {
	Name        string
	Description string
	Source      string // where it came from: a file path, or "stock:NAME"
	Target      string // base URL of the system under test, or "embedded"
	Seed        int64  // seeds every random draw: identities, journey choice, think time
	Profile     *Profile
	Journeys    []*Journey // at least one; chosen per arrival by Weight
	Login       *Step      // optional: run once per user before its journey; its extractions feed later steps
	Data        []*Feeder  // optional data feeders shared by all journeys
	HTTP        HTTPOptions
	SLO         reports.SLO
	Gates       []reports.Gate
	Embedded    Embedded  // options for target: embedded
	Outages     []Outage  // optional: downstream outages injected during the run (embedded stack only)
	Epoch       time.Time // reference time of synthetic identities: card expiries fall 1-5 years after it
}

// Outage is a window during which a downstream station of the bank mock
// (a card processor or the IBAN service) is down. The scenario only says
// when; whoever starts the embedded stack injects it through the bank mock's
// admin API (PATCH /admin/stations/{name}). Against an external target it is
// informational.
type Outage struct {
	Station  string        // bank mock station: "iccrea", "nexi", "sia", "iban", or one named in the banks file
	Start    time.Duration // from the start of the run
	Duration time.Duration // how long the station stays down
	Line     int           // line in the scenario file, for messages
}

// Embedded holds the options of the in-process stack used when Target is
// "embedded".
type Embedded struct {
	StackProfile string // "naive" (the 2020 behaviour) or "hardened"
	DB           string // "" for embedded SQLite, or a postgres:// DSN
	Banks        string // path of a banks file; "" for the default banks

	// TimeScale and RateScale are the --time-scale and --rate-scale a run
	// on the embedded stack uses when the command line gives neither: a
	// day-long scenario then plays in minutes on a laptop. 0 means 1.
	TimeScale float64
	RateScale float64
	// Duration caps such a run, after scaling, when the command line gives
	// no --duration; 0 plays the whole profile.
	Duration time.Duration
}

// HTTPOptions tunes the client the replay engine uses.
type HTTPOptions struct {
	Timeout    time.Duration     // per-request timeout when a step sets none; default 10s
	Insecure   bool              // skip TLS verification (staging certificates)
	CACert     string            // PEM file of extra roots
	ClientCert string            // PEM client certificate, with ClientKey
	ClientKey  string            // PEM client key
	Version    string            // "auto" (HTTP/2 when the TLS server offers it, else HTTP/1.1), "1.1", or "2"
	Headers    map[string]string // sent with every request
}

// Rate is a rate in events per second. In files and flags it is written with
// a unit: "6000/s", "300/m", "90/h".
type Rate float64

// StageKind names the shape of one profile stage.
type StageKind string

// The stage shapes a profile is made of.
const (
	Ramp  StageKind = "ramp"  // linear from From to To over Duration
	Hold  StageKind = "hold"  // constant To for Duration
	Spike StageKind = "spike" // a burst at To for Duration; the next stage carries on from the level before it
	Sine  StageKind = "sine"  // From + Amplitude*sin(2πt/Period) for Duration
	Decay StageKind = "decay" // To + (From-To)*2^(-t/HalfLife) for Duration: exponential from From towards To (a long tail)
)

// Stage is one segment of an arrival profile.
type Stage struct {
	Kind      StageKind
	Duration  time.Duration
	From      Rate
	To        Rate
	Amplitude Rate          // sine only
	Period    time.Duration // sine only
	HalfLife  time.Duration // decay only: time to cover half the remaining distance to To; 0 means Duration/7
	Line      int           // line in the scenario file, for messages
}

// Profile is the arrival rate of journeys over time: stages played one after
// another. It implements vegeta's Pacer, so the arrivals it paces are exactly
// its integral.
type Profile struct {
	Stages []Stage
}

// Journey is a weighted sequence of steps one user walks through.
type Journey struct {
	Name   string
	Weight float64 // relative share of arrivals, > 0
	Steps  []*Step
	Line   int // line in the scenario file, for messages
}

// Header is one request header whose value is a template.
type Header struct {
	Name  string
	Value *Template
}

// Extraction takes a value out of a JSON response into a user variable.
type Extraction struct {
	Var  string // variable name, used in later templates as {{.Vars.NAME}}
	Path string // simple JSON path: "searchId", "data.cards[0].hpan"
	path jsonPath
}

// Step is one HTTP request of a journey (or the login). Headers holds the
// step's own headers over its journey's; the scenario's HTTP.Headers are not
// in it: the engine adds them for the names a step leaves unset. Parse adds
// "Content-Type: application/json" to a step with a body when neither the
// step, its journey nor HTTP.Headers set a Content-Type.
type Step struct {
	Name    string
	Method  string
	Path    *Template // path and query, joined to the target's base URL; starts with "/"
	Headers []Header
	Body    *Template // nil for no body
	Expect  []int     // statuses that count as success; empty means any 2xx
	Extract []Extraction
	Think   Think         // pause before this step (after the previous one ended)
	Poll    *Poll         // nil unless the step is repeated while a field holds a value
	Retry   *Retry        // nil unless the user retries this step after a failure
	Abandon float64       // probability that the user gives up the journey after this step fails for good
	Timeout time.Duration // 0 means HTTP.Timeout
	Line    int           // line in the scenario file, for messages
}

// Think is a user's pause, lognormal by median and 95th percentile. The zero
// value is no pause.
type Think struct {
	Median time.Duration
	P95    time.Duration
}

// Poll repeats a step while a response field holds a value, as an app polls
// an asynchronous search.
type Poll struct {
	Field    string        // simple JSON path into the response
	While    string        // repeat while the field equals this value
	Interval time.Duration // pause between rounds
	Max      int           // at most this many rounds in all
	field    jsonPath
}

// Retry is what a user does after a step failed: tap "try again" with some
// probability, after a backoff, up to a number of attempts.
type Retry struct {
	Probability float64 // chance of retrying after each failure, 0..1
	Backoff     Think   // pause before each retry
	MaxAttempts int     // attempts in all, including the first
	On          []int   // statuses that provoke a retry, 0 standing for a transport error; empty means any failure
}

// Feeder is a table of data rows (users, tokens, cards) read from a CSV or
// JSON-lines file and handed to users.
type Feeder struct {
	Name    string
	File    string // as resolved: relative paths are taken from the scenario file's folder
	Format  string // "csv" (a header row, then rows) or "jsonl" (one JSON object a line)
	Mode    string // "sequential", "random" or "unique" (each row to one user only)
	Columns []string
	Rows    []map[string]string // every row has every column; shared by users, read-only
}

// The feeder modes: how a user index maps to a row.
const (
	Sequential = "sequential" // row index mod the number of rows
	Random     = "random"     // a row drawn from the scenario seed and user index
	Unique     = "unique"     // row index; users past the last row fail with ErrFeederExhausted
)
