package bank

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultAddr is where "stampede mocks serve" listens unless told otherwise.
const DefaultAddr = "127.0.0.1:8181"

// DefaultShutdownGrace is how long Serve lets requests in flight finish
// after its context ends, before it cuts them short.
const DefaultShutdownGrace = 5 * time.Second

// errServerClosing is the cause given to requests cut short by shutdown.
var errServerClosing = errors.New("bank mock shutting down")

// Server is a running bank mock: the processors, the IBAN service and the
// banks behind one HTTP API (see API.md), plus the admin API and
// Prometheus metrics. It has the shape of httptest.Server: NewServer
// listens on a loopback port and serves at once; Close stops it.
type Server struct {
	// URL is the bank API's base URL, e.g. http://127.0.0.1:41234.
	URL string
	// AdminURL is the base URL of /admin/ and /metrics: the same as URL
	// when one loopback listener serves both.
	AdminURL string

	seed        int64
	start       time.Time
	stations    []*Station // processors, iban, banks, in that order
	byName      map[string]*Station
	processors  map[string]*processor
	iban        *Station
	bankTimeout atomic.Int64 // nanoseconds
	banks       map[string]*Station
	bankInfo    map[string]BankConfig // identity of each bank, by ABI
	registry    *prometheus.Registry
	adminMu     sync.Mutex // serialises live changes
	hooks       testHooks

	base      context.Context // parent of every request's context
	cancel    context.CancelCauseFunc
	https     []*http.Server
	serving   sync.WaitGroup
	serveErr  chan error
	closeOnce sync.Once
	closeErr  error
}

// processor is a processor station and its co-badge pending time.
type processor struct {
	st      *Station
	pending atomic.Int64 // nanoseconds
}

// testHooks let tests await events inside handlers instead of sleeping.
type testHooks struct {
	hang func() // a request started hanging
}

// newServer builds the stations and metrics of cfg, without listening.
// Fault windows count from now.
func newServer(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		seed:       cfg.Seed,
		start:      time.Now(),
		byName:     map[string]*Station{},
		processors: map[string]*processor{},
		banks:      map[string]*Station{},
		bankInfo:   map[string]BankConfig{},
	}
	add := func(name, kind string, sc StationConfig) (*Station, error) {
		st, err := newStation(name, kind, sc, cfg.Seed, s.start)
		if err != nil {
			return nil, err
		}
		s.stations = append(s.stations, st)
		s.byName[name] = st
		return st, nil
	}
	for _, name := range processorNames {
		pc := cfg.Processors[name]
		st, err := add(name, KindProcessor, pc.StationConfig)
		if err != nil {
			return nil, err
		}
		p := &processor{st: st}
		p.pending.Store(int64(pc.CobadgePending))
		s.processors[name] = p
	}
	st, err := add("iban", KindIBAN, cfg.IBAN.StationConfig)
	if err != nil {
		return nil, err
	}
	s.iban = st
	s.bankTimeout.Store(int64(cfg.IBAN.BankTimeout))
	for _, b := range cfg.Banks {
		st, err := add(b.ABI, KindBank, b.StationConfig)
		if err != nil {
			return nil, err
		}
		s.banks[b.ABI] = st
		s.bankInfo[b.ABI] = BankConfig{ABI: b.ABI, Name: b.Name, Weight: b.Weight}
	}
	s.registry = prometheus.NewRegistry()
	if err := s.registry.Register(newCollector(s.stations)); err != nil {
		return nil, fmt.Errorf("bank mock metrics: %w", err)
	}
	s.base, s.cancel = context.WithCancelCause(context.Background())
	return s, nil
}

// handler serves the bank API when api is set, and the admin API and
// metrics when admin is set (a listener of their own serves them otherwise).
func (s *Server) handler(api, admin bool) http.Handler {
	mux := http.NewServeMux()
	if api {
		s.routes(mux)
	} else {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint: "+r.URL.Path)
		})
	}
	if admin {
		// With the admin API, never beside an API open to other hosts:
		// the help says /metrics stays on loopback unless --admin-addr moves it.
		mux.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
		s.adminRoutes(mux)
	}
	return mux
}

// Options says where a Server listens.
type Options struct {
	// Addr is the bank API's address; "" means 127.0.0.1:0 (a free
	// loopback port).
	Addr string
	// AdminAddr is the admin API's address. "" means the API's own
	// listener when that is on loopback, or else a free loopback port: the
	// admin API is reachable from other machines only when asked for.
	AdminAddr string
}

// NewServer starts a bank mock for cfg on a free loopback port and returns
// once it accepts requests, in the shape every mock server of the project
// shares (httptest's): a constructor, URL, and a Close that waits. ctx
// bounds the start only. The caller must Close the Server.
func NewServer(ctx context.Context, cfg Config) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bank mock: %w", err)
	}
	return Listen(cfg, Options{})
}

// Listen starts a bank mock for cfg on the addresses of opts and serves in
// the background until Close or Shutdown. Fault windows count from now.
func Listen(cfg Config, opts Options) (*Server, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	return listenServer(s, opts)
}

// listenServer starts serving s, built by newServer, on opts's addresses.
func listenServer(s *Server, opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.cancel(err)
		return nil, fmt.Errorf("bank mock: %w", err)
	}
	s.URL = "http://" + ln.Addr().String()
	shared := (opts.AdminAddr == "" && isLoopback(ln.Addr())) || (opts.AdminAddr != "" && opts.AdminAddr == opts.Addr)
	if shared {
		s.AdminURL = s.URL
		s.serve(ln, s.handler(true, true))
		return s, nil
	}
	adminAddr := opts.AdminAddr
	if adminAddr == "" {
		adminAddr = "127.0.0.1:0"
	}
	aln, err := net.Listen("tcp", adminAddr)
	if err != nil {
		_ = ln.Close()
		s.cancel(err)
		return nil, fmt.Errorf("bank mock admin: %w", err)
	}
	s.AdminURL = "http://" + aln.Addr().String()
	s.serve(ln, s.handler(true, false))
	s.serve(aln, s.handler(false, true))
	return s, nil
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// serve starts an HTTP server on ln in the background.
func (s *Server) serve(ln net.Listener, h http.Handler) {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return s.base },
	}
	s.https = append(s.https, hs)
	if s.serveErr == nil {
		s.serveErr = make(chan error, 2)
	}
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr <- err
		}
	}()
}

// Close stops the server at once: it stops listening, cuts short every
// request still queued, in service or hanging (they end with 503
// SHUTTING_DOWN or a closed connection), and returns when all have ended.
// It returns the error that stopped a listener from serving, if one did;
// cutting requests short is what Close is for, and no error.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Shutdown(ctx)
	select {
	case err := <-s.serveErr:
		return fmt.Errorf("bank mock: serve: %w", err)
	default:
		return nil
	}
}

// Shutdown stops listening and lets requests in flight finish until ctx
// ends; then it cuts the rest short as Close does, and waits for them. It
// returns ctx's error if requests had to be cut. Later calls do nothing.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		err := s.shutdownHTTP(ctx)
		s.cancel(errServerClosing)
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if s.shutdownHTTP(cctx) != nil {
				for _, hs := range s.https {
					_ = hs.Close()
				}
			}
			cancel()
		}
		s.serving.Wait()
		s.closeErr = err
	})
	return s.closeErr
}

// shutdownHTTP shuts the HTTP servers down together, returning ctx's error
// if requests were still running when it ended.
func (s *Server) shutdownHTTP(ctx context.Context) error {
	errs := make(chan error, len(s.https))
	for _, hs := range s.https {
		go func() { errs <- hs.Shutdown(ctx) }()
	}
	var first error
	for range s.https {
		if err := <-errs; err != nil && ctx.Err() != nil && first == nil {
			first = ctx.Err()
		}
	}
	return first
}

// Station returns the station called name (a processor's name, "iban", or
// a bank's ABI code), or nil. Changing its configuration takes effect at
// once, as through the admin API.
func (s *Server) Station(name string) *Station { return s.byName[name] }

// Stations returns every station: the processors, the IBAN service, then
// the banks in banks-file order.
func (s *Server) Stations() []*Station { return append([]*Station(nil), s.stations...) }

// Started returns when the server started: the origin of fault windows.
func (s *Server) Started() time.Time { return s.start }

// Registry returns the server's own Prometheus registry, to gather its
// metrics in-process or to serve them elsewhere.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// ServeOptions is what "stampede mocks serve" parses its flags into.
type ServeOptions struct {
	ConfigFile    string        // banks file; "" means DefaultConfig
	Addr          string        // bank API address; "" means DefaultAddr
	AdminAddr     string        // admin API address, as Options.AdminAddr
	ShutdownGrace time.Duration // 0 means DefaultShutdownGrace
	Out           io.Writer     // where the listening URLs are printed; nil discards
}

// Serve runs a bank mock until ctx ends, then shuts it down gracefully
// (see Shutdown) and returns nil. A bad banks file gives an error matching
// ErrInvalidConfig (exit code 2); failing to listen or serve, another error.
func Serve(ctx context.Context, opts ServeOptions) error {
	cfg := DefaultConfig()
	if opts.ConfigFile != "" {
		var err error
		if cfg, err = LoadConfig(opts.ConfigFile); err != nil {
			return err
		}
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	s, err := Listen(cfg, Options{Addr: opts.Addr, AdminAddr: opts.AdminAddr})
	if err != nil {
		return err
	}
	if opts.Out != nil {
		fmt.Fprintf(opts.Out, "bank mock: API on %s, admin and metrics on %s\n", s.URL, s.AdminURL)
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-s.serveErr:
	}
	sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownGrace)
	defer cancel()
	_ = s.Shutdown(sctx)
	if serveErr != nil {
		return fmt.Errorf("bank mock: %w", serveErr)
	}
	return nil
}
