// Package stack is stampede's reference enrollment stack: the launch-day
// wallet and cashback backend in miniature, for users, CI and the
// simulator's validation to replay against when they have no stack of
// their own.
//
// It serves the journey's API (API.md) with bearer tokens from a test login,
// stores citizens, cards and activations in SQLite (embedded, the default)
// or PostgreSQL, verifies and searches cards at the bank mocks over HTTP
// (../bank/API.md), and behaves under load as one of two resilience
// profiles: Naive, the 2020 behaviour, or Hardened, the fixes. Every error
// answer is JSON with a code and the message the app would show, and names
// the downstream to blame in X-Upstream.
//
// NewServer starts one on a loopback port in the shape of httptest.Server;
// Serve runs one on an address until its context is cancelled.
//
// stack owns the reference stack and its audit (the reconciliation of what it
// stored with a run's results file); it imports reports and its codec and
// renderer, and scenarios/synth; it must not import replay, sim or
// mocks/bank (the bank mocks are reached over HTTP).
package stack

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// retryAfterShed is the Retry-After of an answer shed by the stack itself.
const retryAfterShed = time.Second

// Server is a running reference stack. Close it to stop serving, wait for
// in-flight requests and close the database.
type Server struct {
	// URL is the base URL of the API, such as "http://127.0.0.1:41234",
	// without a trailing slash.
	URL string

	cfg       Config
	store     Store
	banks     *banks
	tokens    tokens
	signer    signer
	hpanSalt  string    // what card numbers are hashed with (hpan), from the key
	admission semaphore // nil in the naive profile: no limit
	banksJSON []byte    // the bank list, encoded once
	tempDir   string    // removed at Close when the database is ephemeral

	srv      *http.Server
	served   chan struct{} // closed when srv.Serve has returned
	serveMu  sync.Mutex
	serveErr error
	cancel   context.CancelFunc // cancels every request's context

	closeOnce sync.Once
	closeErr  error
}

// NewServer starts a stack on a free loopback port (127.0.0.1:0) and returns
// once it accepts requests: the database is open and migrated. ctx bounds
// the start only. The caller must Close the Server.
func NewServer(ctx context.Context, cfg Config) (*Server, error) {
	return start(ctx, cfg, "127.0.0.1:0")
}

// Serve runs a stack listening on addr (host:port) until ctx is cancelled,
// then shuts it down gracefully (see Config.ShutdownGrace) and returns. It
// logs the URL it serves on to cfg.Logger. It returns an error if the stack
// cannot start or stops serving by itself; a cancelled ctx is a clean stop.
func Serve(ctx context.Context, cfg Config, addr string) error {
	s, err := start(ctx, cfg, addr)
	if err != nil {
		return err
	}
	s.cfg.Logger.Info("stack listening", "url", s.URL, "profile", string(s.cfg.Profile), "banks", s.cfg.BanksURL,
		"database", pick(isPostgres(s.cfg.DB), "postgres", "sqlite"))
	select {
	case <-ctx.Done():
	case <-s.served:
	}
	return s.Close()
}

// Errors of a stack that cannot start with what it was given, so a command
// line can name the flag at fault.
var (
	ErrListen   = errors.New("cannot listen on the address")
	ErrDatabase = errors.New("cannot open the database")
	ErrConfig   = errors.New("invalid stack configuration")
)

func start(ctx context.Context, cfg Config, addr string) (*Server, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("stack config: %w: %w", ErrConfig, errors.Join(errs...))
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, served: make(chan struct{})}
	dsn := cfg.DB
	if dsn == "" {
		dir, err := os.MkdirTemp("", "stampede-stack-*")
		if err != nil {
			return nil, fmt.Errorf("stack: temporary database directory: %w", err)
		}
		s.tempDir = dir
		dsn = filepath.Join(dir, "stack.db")
	}
	store, err := OpenStore(ctx, dsn, cfg.DBConns)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("stack: %w: %w", ErrDatabase, err), s.removeTemp())
	}
	s.store = store
	fail := func(err error) (*Server, error) {
		return nil, errors.Join(err, store.Close(), s.removeTemp())
	}
	key := cfg.Secret
	if len(key) == 0 {
		candidate := make([]byte, 32)
		_, _ = rand.Read(candidate) // never fails (crypto/rand)
		if key, err = store.TokenSecret(ctx, candidate); err != nil {
			return fail(fmt.Errorf("stack: %w", err))
		}
	}
	s.signer = signer{key: key}
	s.hpanSalt = s.signer.hpanSalt()
	s.tokens = tokens{signer: s.signer, now: cfg.Now, ttl: cfg.TokenTTL}
	if cfg.Profile == Hardened {
		s.admission = newSemaphore(cfg.MaxInFlight)
	}
	if s.banksJSON, err = encodeBanks(); err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fail(fmt.Errorf("stack: %w %s: %w", ErrListen, addr, err))
	}
	s.URL = baseURL(ln.Addr())
	s.banks = newBanks(cfg)
	base, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.serveMu.Lock()
			s.serveErr = fmt.Errorf("stack: serve: %w", err)
			s.serveMu.Unlock()
		}
	}()
	return s, nil
}

// Close stops accepting requests, waits up to ShutdownGrace for in-flight
// ones, then cancels those still running and waits for them once more,
// closes the database and removes an ephemeral one. It returns the first
// problem met; calling it again returns the same.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
		err := s.srv.Shutdown(ctx)
		cancel()
		if err != nil {
			// Abort downstream calls and database waits, give handlers
			// the time to answer, then drop the connections.
			s.cfg.Logger.Warn("shutdown grace over: cancelling in-flight requests", "grace", s.cfg.ShutdownGrace)
			s.cancel()
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
			_ = s.srv.Shutdown(ctx) // the listener is closed already: only ctx tells
			if ctx.Err() != nil {
				_ = s.srv.Close()
			}
			cancel()
		}
		s.cancel()
		<-s.served
		s.serveMu.Lock()
		errs = append(errs, s.serveErr)
		s.serveMu.Unlock()
		s.banks.close()
		errs = append(errs, s.store.Close(), s.removeTemp())
		s.closeErr = errors.Join(errs...)
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("stack: close: %w", s.closeErr)
		}
	})
	return s.closeErr
}

func (s *Server) removeTemp() error {
	if s.tempDir == "" {
		return nil
	}
	return os.RemoveAll(s.tempDir)
}

// baseURL is the URL clients reach a listener at: a wildcard address
// (":8080", "0.0.0.0:8080") is reached on loopback.
func baseURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	host := tcp.IP
	if host == nil || host.IsUnspecified() {
		host = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(host.String(), strconv.Itoa(tcp.Port))
}

// encodeBanks renders the bank list once: it is the same for every request.
func encodeBanks() ([]byte, error) {
	type bank struct {
		ABI  string `json:"abi"`
		Name string `json:"name"`
	}
	list := make([]bank, 0, len(synth.Banks))
	for _, b := range synth.Banks {
		list = append(list, bank{ABI: b.ABI, Name: b.Name})
	}
	b, err := json.Marshal(struct {
		Banks []bank `json:"banks"`
	}{list})
	if err != nil {
		return nil, fmt.Errorf("stack: encode banks: %w", err)
	}
	return b, nil
}

// methods maps HTTP methods to the handlers of one path.
type methods map[string]http.HandlerFunc

// authedFunc is a handler for a citizen identified by a valid token.
type authedFunc func(w http.ResponseWriter, r *http.Request, fiscalCode string)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	generic := "Si è verificato un errore temporaneo, riprova più tardi"
	mux.Handle("/api/v1/session", s.api(generic, methods{"POST": s.login}))
	mux.Handle("/api/v1/citizen", s.api(generic, methods{
		"GET": s.authed(s.getCitizen), "PUT": s.authed(s.enroll), "PATCH": s.authed(s.setIBAN)}))
	mux.Handle("/api/v1/banks", s.api(generic, methods{"GET": s.authed(s.listBanks)}))
	mux.Handle("/api/v1/bancomat/cards", s.api(MessageBancomatSearchFailed, methods{"GET": s.authed(s.searchBancomat)}))
	mux.Handle("/api/v1/cobadge/searches", s.api(generic, methods{"POST": s.authed(s.startCobadge)}))
	mux.Handle("/api/v1/cobadge/searches/{id}", s.api(generic, methods{"GET": s.authed(s.pollCobadge)}))
	mux.Handle("/api/v1/hpan-salt", s.api(generic, methods{"GET": s.authed(s.publishSalt)}))
	mux.Handle("/api/v1/wallet/cards", s.api(MessageCardSaveFailed, methods{"POST": s.authed(s.addCard)}))
	mux.Handle("/api/v1/wallet", s.api(MessageWalletUnavailable, methods{"GET": s.authed(s.listWallet)}))
	mux.Handle("/api/v1/cashback/cards/{hpan}", s.api(generic, methods{"PUT": s.authed(s.activate)}))
	mux.Handle("/healthz", dispatch(methods{"GET": s.health}))
	mux.Handle("/admin/audit", dispatch(methods{"GET": loopbackOnly(s.audit)}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{status: http.StatusNotFound, code: "NOT_FOUND", message: "no such resource"})
	})
	return mux
}

// api wraps the handlers of a journey path: in the hardened profile, the
// admission limit sheds requests over MaxInFlight at once with 503, the
// path's user-facing message, Retry-After and X-Upstream: stack.
func (s *Server) api(shedMessage string, m methods) http.Handler {
	h := dispatch(m)
	if s.admission == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.admission.tryAcquire() {
			writeError(w, &apiError{status: http.StatusServiceUnavailable, code: "OVERLOADED", message: shedMessage,
				upstream: upstreamStack, retryAfter: retryAfterShed})
			return
		}
		defer s.admission.release()
		h.ServeHTTP(w, r)
	})
}

// dispatch routes by method, answering 405 with Allow for the others.
func dispatch(m methods) http.Handler {
	allowed := make([]string, 0, len(m))
	for k := range m {
		allowed = append(allowed, k)
	}
	sort.Strings(allowed)
	allow := strings.Join(allowed, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := m[r.Method]
		if !ok {
			writeError(w, &apiError{status: http.StatusMethodNotAllowed, code: "METHOD_NOT_ALLOWED",
				message: r.Method + " is not allowed here", allow: allow})
			return
		}
		h(w, r)
	})
}

// authed checks the bearer token and passes the fiscal code it carries.
func (s *Server) authed(h authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fc, err := s.tokens.bearer(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="stampede"`)
			writeError(w, &apiError{status: http.StatusUnauthorized, code: "UNAUTHORIZED", message: err.Error()})
			return
		}
		h(w, r, fc)
	}
}

// loopbackOnly answers 403 to requests that do not come from this machine.
func loopbackOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		if err != nil || ip == nil || !ip.IsLoopback() {
			writeError(w, &apiError{status: http.StatusForbidden, code: "FORBIDDEN", message: "admin calls are loopback only"})
			return
		}
		h(w, r)
	}
}

type healthResponse struct {
	Status   string            `json:"status"`
	Profile  Profile           `json:"profile"`
	Breakers map[string]string `json:"breakers,omitempty"` // hardened: closed, open or half-open by station
}

// health answers 200 while the stack serves, with the state of each
// circuit breaker so an operator sees which downstream the stack has given
// up on for now.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	h := healthResponse{Status: "ok", Profile: s.cfg.Profile}
	for name, st := range s.banks.stations {
		if st.breaker != nil {
			if h.Breakers == nil {
				h.Breakers = map[string]string{}
			}
			h.Breakers[name] = st.breaker.current().String()
		}
	}
	writeJSON(w, http.StatusOK, h)
}

// storeFailure answers a database failure: 503 with code and message,
// X-Upstream: db. The error is logged; it never holds a card number.
func (s *Server) storeFailure(w http.ResponseWriter, r *http.Request, err error, code, message string) {
	s.cfg.Logger.Error("database operation failed", "path", r.URL.Path, "err", err)
	writeError(w, &apiError{status: http.StatusServiceUnavailable, code: code, message: message, upstream: upstreamDB})
}

// dbContext bounds one database operation by DBTimeout.
func (s *Server) dbContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.DBTimeout)
}
