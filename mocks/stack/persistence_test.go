package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPANNeverStoredOrLogged adds cards, fails some downstream and database
// calls so the stack logs, and then looks for the card numbers in what the
// database holds (every file of SQLite's; every row of PostgreSQL's tables,
// as text) and in the log.
func TestPANNeverStoredOrLogged(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		logs := &syncBuffer{}
		e := newEnv(t, Config{DB: dsn, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		var pans []string
		for i := range uint64(5) {
			id, tok := e.enrolled(i)
			e.addCard(id, tok)
			pans = append(pans, id.PAN)
		}
		id, tok := e.enrolled(10)
		pans = append(pans, id.PAN)
		e.bank.setFault("nexi", fault{status: 500, code: "INTERNAL"})
		e.must(http.StatusBadGateway, request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: cardBody(id)})
		e.bank.clearFaults()
		real := e.srv.store
		e.srv.store = failingStore{real}
		e.must(http.StatusServiceUnavailable, request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: cardBody(id)})
		e.srv.store = real
		if !strings.Contains(logs.String(), "database operation failed") {
			t.Fatalf("the failures were not logged; the check would prove nothing: %q", logs)
		}

		held := storedText(t, dsn)
		if n := e.stored(); n.cards != 5 || !strings.Contains(held, pans[0][len(pans[0])-4:]) {
			t.Fatalf("stored %+v; the database does not hold the cards, the check would prove nothing", n)
		}
		for name, text := range map[string]string{"the database": held, "the log": logs.String()} {
			for _, pan := range pans {
				if strings.Contains(text, pan) {
					t.Errorf("%s holds a PAN", name)
				}
			}
		}
	})
}

// storedText is everything the database at dsn holds, as text: the bytes
// of every SQLite file beside it (the database, its WAL and journal), or
// every row of every table of the PostgreSQL schema.
func storedText(t *testing.T, dsn string) string {
	t.Helper()
	var all strings.Builder
	if !strings.HasPrefix(dsn, "postgres://") {
		files, err := filepath.Glob(filepath.Join(filepath.Dir(dsn), "*"))
		if err != nil || len(files) == 0 {
			t.Fatalf("database files: %v %v", files, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all.Write(b)
		}
		return all.String()
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) == 0 {
		t.Fatalf("tables: %v %v", tables, err)
	}
	for _, table := range tables {
		rows, err := conn.Query(ctx, fmt.Sprintf("SELECT r::text FROM %s r", pgx.Identifier{table}.Sanitize()))
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		all.WriteString(strings.Join(texts, "\n"))
	}
	return all.String()
}

// failingStore is a database that is down.
type failingStore struct{ real Store }

var errDown = errors.New("database down")

func (failingStore) EnrollCitizen(context.Context, string, time.Time) (Citizen, error) {
	return Citizen{}, errDown
}
func (failingStore) Citizen(context.Context, string) (Citizen, error) { return Citizen{}, errDown }
func (failingStore) SetIBAN(context.Context, string, string, string, string) (Citizen, error) {
	return Citizen{}, errDown
}
func (failingStore) CardByIdempotencyKey(context.Context, string, string) (Card, error) {
	return Card{}, errDown
}
func (failingStore) AddCard(context.Context, Card) (Card, bool, error)    { return Card{}, false, errDown }
func (failingStore) Wallet(context.Context, string) ([]WalletCard, error) { return nil, errDown }
func (failingStore) TokenSecret(context.Context, []byte) ([]byte, error)  { return nil, errDown }
func (failingStore) Audit(context.Context, AuditVisitor) error            { return errDown }
func (f failingStore) Close() error                                       { return f.real.Close() }
func (failingStore) Activate(context.Context, string, string, time.Time) (Activation, error) {
	return Activation{}, errDown
}

// closedStore is a real store whose database was closed under it: every
// call reaches the closed connections; closing it again is a no-op.
type closedStore struct{ Store }

func (closedStore) Close() error { return nil }

// TestDatabaseDown takes the stack's real database away under it (its
// connections closed, as when the server goes down) on SQLite and on
// PostgreSQL: every endpoint that needs it answers 503 with the user-facing
// message, blaming the db upstream.
func TestDatabaseDown(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		e := newEnv(t, Config{DB: dsn})
		id, tok := e.enrolled(1)
		if err := e.srv.store.Close(); err != nil {
			t.Fatal(err)
		}
		e.srv.store = closedStore{e.srv.store}
		tests := []struct {
			name    string
			req     request
			code    string
			message string
		}{
			{"wallet", request{method: "GET", path: "/api/v1/wallet"}, "WALLET_UNAVAILABLE", MessageWalletUnavailable},
			{"card add", request{method: "POST", path: "/api/v1/wallet/cards", body: cardBody(id)}, "CARD_SAVE_FAILED", MessageCardSaveFailed},
			{"card add with a key", request{method: "POST", path: "/api/v1/wallet/cards", body: cardBody(id), header: map[string]string{"Idempotency-Key": "k"}}, "CARD_SAVE_FAILED", MessageCardSaveFailed},
			{"enroll", request{method: "PUT", path: "/api/v1/citizen", body: map[string]bool{"acceptTerms": true}}, "TEMPORARY_ERROR", messageTemporary},
			{"activate", request{method: "PUT", path: "/api/v1/cashback/cards/" + e.hpan(id)}, "TEMPORARY_ERROR", messageTemporary},
			{"audit", request{method: "GET", path: "/admin/audit"}, "AUDIT_FAILED", messageTemporary},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.req.token = tok
				r := e.do(tt.req)
				m := r.json(t)
				if r.status != http.StatusServiceUnavailable || m["code"] != tt.code || m["message"] != tt.message || r.header.Get("X-Upstream") != "db" {
					t.Fatalf("got %v %v", r, r.header)
				}
			})
		}
	})
}

// TestRestart stops a stack and starts another on the same database: the
// cards, activations and tokens of the first are all there.
func TestRestart(t *testing.T) {
	databases(t, func(t *testing.T, dsn string) {
		e := newEnv(t, Config{DB: dsn})
		id, tok := e.enrolled(1)
		hpan := e.addCard(id, tok)
		act := e.must(http.StatusOK, request{method: "PUT", path: "/api/v1/cashback/cards/" + hpan, token: tok})
		if err := e.srv.Close(); err != nil {
			t.Fatal(err)
		}

		srv, err := NewServer(context.Background(), Config{DB: dsn, BanksURL: e.bank.URL, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		e.srv = srv
		m := e.must(http.StatusOK, request{method: "GET", path: "/api/v1/wallet", token: tok}) // the old token
		cards := m["cards"].([]any)
		if len(cards) != 1 || cards[0].(map[string]any)["activatedAt"] != act["activatedAt"] {
			t.Fatalf("after the restart, wallet = %v", m)
		}
	})
}

func TestAuditEndpoint(t *testing.T) {
	e := newEnv(t, Config{})
	empty := e.must(http.StatusOK, request{method: "GET", path: "/admin/audit"})
	if b, _ := json.Marshal(empty); string(b) != `{"activations":[],"cards":[],"citizens":[],"hpanSalt":"`+e.srv.hpanSalt+`"}` {
		t.Fatalf("empty audit = %s", b)
	}
	id, tok := e.enrolled(1)
	e.must(http.StatusCreated, request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: cardBody(id), header: map[string]string{"Idempotency-Key": "k-1"}})
	e.must(http.StatusOK, request{method: "PUT", path: "/api/v1/cashback/cards/" + e.hpan(id), token: tok})
	other := identity(2)
	e.addCard(other, e.login(other.FiscalCode)) // a card without enrolling

	r := e.do(request{method: "GET", path: "/admin/audit"})
	var rep AuditReport
	if err := json.Unmarshal(r.body, &rep); err != nil {
		t.Fatalf("audit is not an AuditReport: %v: %s", err, r.body)
	}
	if rep.HPANSalt != e.srv.hpanSalt || len(rep.HPANSalt) != 32 {
		t.Fatalf("audit hpanSalt %q, the stack hashes with %q", rep.HPANSalt, e.srv.hpanSalt)
	}
	if len(rep.Citizens) != 1 || rep.Citizens[0].FiscalCode != id.FiscalCode || !rep.Citizens[0].TermsAcceptedAt.Equal(launchDay) {
		t.Fatalf("citizens = %+v", rep.Citizens)
	}
	if len(rep.Cards) != 2 || rep.Cards[0].HPAN != e.hpan(id) || rep.Cards[0].IdempotencyKey != "k-1" || rep.Cards[1].FiscalCode != other.FiscalCode {
		t.Fatalf("cards = %+v", rep.Cards)
	}
	if len(rep.Activations) != 1 || rep.Activations[0].HPAN != e.hpan(id) || rep.Activations[0].FiscalCode != id.FiscalCode {
		t.Fatalf("activations = %+v", rep.Activations)
	}

	t.Run("loopback only", func(t *testing.T) {
		req := httptest.NewRequest("GET", "/admin/audit", nil)
		req.RemoteAddr = "192.0.2.10:40000"
		w := httptest.NewRecorder()
		e.srv.srv.Handler.ServeHTTP(w, req)
		if w.Code != http.StatusForbidden {
			t.Fatalf("audit from another host: %d %s", w.Code, w.Body)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	good := Config{BanksURL: "http://127.0.0.1:1"}
	if errs := good.Validate(); len(errs) != 0 {
		t.Fatalf("valid config: %v", errs)
	}
	bad := Config{Profile: "paranoid", BanksURL: "ftp://x", CardProcessor: "amex", CallTimeout: -1, Bulkhead: -1,
		Breaker: BreakerPolicy{FailureRatio: 2}}
	if errs := bad.Validate(); len(errs) != 6 {
		t.Fatalf("got %d problems, want 6 (every one at once): %v", len(errs), errs)
	}
	if _, err := NewServer(context.Background(), bad); err == nil {
		t.Fatal("NewServer started with a bad config")
	}
}

// listenHandler is a slog handler that passes on the url attribute of the
// records it gets, so a test can wait for Serve to listen.
type listenHandler struct{ urls chan string }

func (h listenHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h listenHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h listenHandler) WithGroup(string) slog.Handler            { return h }
func (h listenHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "url" {
			h.urls <- a.Value.String()
		}
		return true
	})
	return nil
}

func TestServe(t *testing.T) {
	clock := newFakeClock()
	bank := newFakeBank(t, clock.Now)
	urls := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, Config{BanksURL: bank.URL, Logger: slog.New(listenHandler{urls})}, "127.0.0.1:0")
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("Serve returned before listening: %v", err)
	}
	resp, err := http.Get(url + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("still serving after Serve returned")
	}
}
