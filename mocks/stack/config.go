package stack

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Profile is a resilience profile: how the stack treats its downstreams when
// they, or the stack itself, are overloaded.
type Profile string

// The two resilience profiles.
const (
	// Naive is the 2020 behaviour: no admission limit, one connection pool to
	// the banks shared by every downstream with unbounded waiting, long
	// timeouts, fan-out to the processors one after another with no partial
	// results, no retries and no circuit breakers. Under the stampede it
	// degrades into timeouts and long queues.
	Naive Profile = "naive"
	// Hardened is the fixed stack: an admission limit that sheds excess
	// requests at once with 503 and Retry-After, a circuit breaker and a
	// bulkhead per downstream, short timeouts with one jittered retry, and
	// partial fan-out results.
	Hardened Profile = "hardened"
)

// Profiles lists the resilience profiles by name, for messages and for the
// scenario files that name one.
var Profiles = []string{string(Naive), string(Hardened)}

// ErrUnknownProfile is wrapped by ParseProfile's error: a name that is no
// profile, the user's to fix.
var ErrUnknownProfile = errors.New("unknown stack profile")

// ParseProfile reads a profile's name, naive or hardened: the one parser of
// the --profile and --stack-profile flags and of a scenario's
// embedded.stack_profile.
func ParseProfile(name string) (Profile, error) {
	switch p := Profile(name); p {
	case Naive, Hardened:
		return p, nil
	}
	return "", fmt.Errorf("%w %q: want naive or hardened", ErrUnknownProfile, name)
}

// Processors are the card processors the stack fans out to, in the order it
// calls them and reports them.
var processors = [...]string{"iccrea", "nexi", "sia"}

// Station names the stack reports in X-Upstream besides the processors.
const (
	upstreamIBAN  = "iban"  // the bank IBAN-check service
	upstreamDB    = "db"    // the stack's own database
	upstreamStack = "stack" // the stack's own admission limit
)

// BreakerPolicy tunes the per-downstream circuit breakers of the hardened
// profile. A breaker opens when, over the last Window, at least MinCalls calls
// were made and at least FailureRatio of them failed; it stays open for
// OpenFor, then lets one probe call through: success closes it, failure opens
// it again.
type BreakerPolicy struct {
	Window       time.Duration // rolling window of outcomes; 0 means 10s
	MinCalls     int           // calls in the window before the ratio counts; 0 means 20
	FailureRatio float64       // 0 < ratio <= 1; 0 means 0.5
	OpenFor      time.Duration // time open before a probe; 0 means 5s
}

// Config configures a reference stack. Only BanksURL is required: the rest
// have defaults, applied by NewServer and Serve, that depend on Profile. All
// fields are plain values so a CLI can fill them from flags.
type Config struct {
	// Profile is Naive or Hardened; "" means Hardened.
	Profile Profile
	// DB is where the stack stores citizens, cards and activations: "" for an
	// SQLite file in a fresh temporary directory removed at Close, a file
	// path for an SQLite database that outlives the process, or a
	// postgres:// (or postgresql://) DSN.
	DB string
	// BanksURL is the base URL of the bank mocks, such as
	// "http://127.0.0.1:8081" (see ../bank/API.md).
	BanksURL string
	// CardProcessor is the processor that verifies credit cards: "iccrea",
	// "nexi" or "sia"; "" means "nexi", the international-circuit processor
	// of launch day.
	CardProcessor string
	// Secret is the HMAC-SHA256 key for login tokens and co-badge search ids.
	// When empty, a random key is created once and kept in the database, so
	// tokens stay valid across a restart on the same database.
	Secret []byte
	// Now is the clock for token expiry, timestamps and circuit breakers;
	// nil means time.Now.
	Now func() time.Time
	// TokenTTL is how long a login token is valid; 0 means one hour.
	TokenTTL time.Duration
	// CallTimeout bounds one attempt of one downstream call; 0 means 30s in
	// the naive profile and 1s in the hardened one.
	CallTimeout time.Duration
	// DBTimeout bounds one database operation, including the wait for a
	// connection; 0 means 30s naive and 2s hardened.
	DBTimeout time.Duration
	// DBConns is the number of database connections: SQLite readers (there
	// is always exactly one SQLite writer) or the PostgreSQL pool size; 0
	// means 4 for SQLite and 16 for PostgreSQL.
	DBConns int
	// MaxInFlight is the hardened admission limit: API requests handled at
	// once before further ones get 503 with Retry-After; 0 means 256. The
	// naive profile has no limit.
	MaxInFlight int
	// Bulkhead is the hardened limit of concurrent calls to each downstream
	// station; a call over it fails at once. 0 means 64.
	Bulkhead int
	// NaivePool is the number of connections to the bank host in the naive
	// profile, shared by every downstream; calls beyond it wait for a free
	// connection, without bound but the call timeout. 0 means 128.
	NaivePool int
	// Breaker tunes the hardened circuit breakers.
	Breaker BreakerPolicy
	// RetryBackoff is the longest pause before the hardened profile's one
	// retry of a failed downstream call; the pause is drawn uniformly from
	// [RetryBackoff/2, RetryBackoff]. 0 means 50ms.
	RetryBackoff time.Duration
	// Seed seeds the retry jitter.
	Seed uint64
	// ShutdownGrace is how long Close and Serve wait for in-flight requests
	// before cancelling them; 0 means 10s.
	ShutdownGrace time.Duration
	// Logger receives startup, shutdown and internal-error records; nil
	// discards them. Card numbers are never logged.
	Logger *slog.Logger
}

// WithDefaults returns c with every zero field set to its default, as
// NewServer and Serve apply them (the simulator models a stack from it).
func (c Config) WithDefaults() Config { return c.withDefaults() }

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Profile == "" {
		c.Profile = Hardened
	}
	if c.CardProcessor == "" {
		c.CardProcessor = "nexi"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = time.Hour
	}
	naive := c.Profile == Naive
	if c.CallTimeout == 0 {
		c.CallTimeout = pick(naive, 30*time.Second, time.Second)
	}
	if c.DBTimeout == 0 {
		c.DBTimeout = pick(naive, 30*time.Second, 2*time.Second)
	}
	if c.DBConns == 0 {
		c.DBConns = pick(isPostgres(c.DB), 16, 4)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 256
	}
	if c.Bulkhead == 0 {
		c.Bulkhead = 64
	}
	if c.NaivePool == 0 {
		c.NaivePool = 128
	}
	if c.Breaker.Window == 0 {
		c.Breaker.Window = 10 * time.Second
	}
	if c.Breaker.MinCalls == 0 {
		c.Breaker.MinCalls = 20
	}
	if c.Breaker.FailureRatio == 0 {
		c.Breaker.FailureRatio = 0.5
	}
	if c.Breaker.OpenFor == 0 {
		c.Breaker.OpenFor = 5 * time.Second
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 50 * time.Millisecond
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func pick[T any](cond bool, ifTrue, ifFalse T) T {
	if cond {
		return ifTrue
	}
	return ifFalse
}

// Validate reports every problem with c at once; zero fields are accepted
// where a default exists.
func (c Config) Validate() []error {
	var errs []error
	if c.Profile != "" && c.Profile != Naive && c.Profile != Hardened {
		errs = append(errs, fmt.Errorf("profile %q: want %q or %q", c.Profile, Naive, Hardened))
	}
	if c.BanksURL == "" {
		errs = append(errs, errors.New("banks URL is required"))
	} else if u, err := url.Parse(c.BanksURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("banks URL %q: want http://host:port", c.BanksURL))
	}
	if c.CardProcessor != "" && !isProcessor(c.CardProcessor) {
		errs = append(errs, fmt.Errorf("card processor %q: want one of %s", c.CardProcessor, strings.Join(processors[:], ", ")))
	}
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"token TTL", c.TokenTTL}, {"call timeout", c.CallTimeout}, {"database timeout", c.DBTimeout},
		{"breaker window", c.Breaker.Window}, {"breaker open time", c.Breaker.OpenFor},
		{"retry backoff", c.RetryBackoff}, {"shutdown grace", c.ShutdownGrace},
	}
	for _, d := range durations {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", d.name, d.d))
		}
	}
	counts := []struct {
		name string
		n    int
	}{
		{"database connections", c.DBConns}, {"max in flight", c.MaxInFlight}, {"bulkhead", c.Bulkhead},
		{"naive pool", c.NaivePool}, {"breaker minimum calls", c.Breaker.MinCalls},
	}
	for _, n := range counts {
		if n.n < 0 {
			errs = append(errs, fmt.Errorf("%s %d is negative", n.name, n.n))
		}
	}
	if c.Breaker.FailureRatio < 0 || c.Breaker.FailureRatio > 1 {
		errs = append(errs, fmt.Errorf("breaker failure ratio %v: want 0 < ratio <= 1", c.Breaker.FailureRatio))
	}
	return errs
}

func isProcessor(name string) bool {
	for _, p := range processors {
		if p == name {
			return true
		}
	}
	return false
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}
