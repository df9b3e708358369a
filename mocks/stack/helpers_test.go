package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stampede-load/stampede/scenarios/synth"
)

// launchDay is the fake clock's start: the morning of 8 December 2020.
var launchDay = time.Date(2020, 12, 8, 8, 0, 0, 0, time.UTC)

// testSeed seeds every synthetic identity of the tests.
const testSeed = 20201208

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: launchDay} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// identity is test user i.
func identity(i uint64) synth.Identity { return synth.NewIdentity(testSeed, i, launchDay) }

// testEnv is a stack on a fake bank with a fake clock.
type testEnv struct {
	t     testing.TB
	srv   *Server
	bank  *fakeBank
	clock *fakeClock
	http  *http.Client
}

// newEnv starts a fake bank and a stack configured by cfg (its BanksURL and
// Now are filled in) and stops both when the test ends.
func newEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	clock := newFakeClock()
	bank := newFakeBank(t, clock.Now)
	cfg.BanksURL = bank.URL
	cfg.Now = clock.Now
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = time.Millisecond
	}
	if cfg.DB == "" {
		cfg.DB = filepath.Join(t.TempDir(), "stack.db")
	}
	srv, err := NewServer(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	e := &testEnv{t: t, srv: srv, bank: bank, clock: clock,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	t.Cleanup(func() {
		bank.unhang()
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// reply is an answer of the stack.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// code is the error code of an error answer, "" for another answer.
func (r reply) code() string {
	var eb errorBody
	_ = json.Unmarshal(r.body, &eb)
	return eb.Code
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

// request is one call to the stack.
type request struct {
	method, path, token string
	body                any               // marshalled to JSON unless a string (sent as is)
	header              map[string]string // extra headers
}

func (e *testEnv) do(req request) reply {
	e.t.Helper()
	r, err := e.send(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	return r
}

// send does req; unlike do it may run outside the test's goroutine.
func (e *testEnv) send(req request) (reply, error) {
	var rd io.Reader
	if req.body != nil {
		if s, ok := req.body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, err := json.Marshal(req.body)
			if err != nil {
				return reply{}, err
			}
			rd = bytes.NewReader(b)
		}
	}
	hr, err := http.NewRequest(req.method, e.srv.URL+req.path, rd)
	if err != nil {
		return reply{}, err
	}
	if req.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.token)
	}
	for k, v := range req.header {
		hr.Header.Set(k, v)
	}
	resp, err := e.http.Do(hr)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// must does req and fails the test unless the status is want.
func (e *testEnv) must(want int, req request) map[string]any {
	e.t.Helper()
	r := e.do(req)
	if r.status != want {
		e.t.Fatalf("%s %s: got %v, want %d", req.method, req.path, r, want)
	}
	return r.json(e.t)
}

func (e *testEnv) login(fc string) string {
	e.t.Helper()
	m := e.must(http.StatusCreated, request{method: "POST", path: "/api/v1/session", body: map[string]string{"fiscalCode": fc}})
	return m["token"].(string)
}

// enrolled logs identity i in and accepts the terms.
func (e *testEnv) enrolled(i uint64) (synth.Identity, string) {
	e.t.Helper()
	id := identity(i)
	tok := e.login(id.FiscalCode)
	e.must(http.StatusOK, request{method: "PUT", path: "/api/v1/citizen", token: tok, body: map[string]bool{"acceptTerms": true}})
	return id, tok
}

func cardBody(id synth.Identity) map[string]string {
	return map[string]string{"pan": id.PAN, "expiry": id.Expiry, "cvv": id.CVV, "holder": id.Name + " " + id.Surname}
}

// hpan is the hpan the stack under test gives id's card.
func (e *testEnv) hpan(id synth.Identity) string { return synth.HPAN(id.PAN, e.srv.hpanSalt) }

// testSalt salts the hpans of tests that talk to a store, not a stack.
const testSalt = "test salt"

// testHPAN is an hpan for id's card in the store tests.
func testHPAN(id synth.Identity) string { return synth.HPAN(id.PAN, testSalt) }

func (e *testEnv) addCard(id synth.Identity, tok string) string {
	e.t.Helper()
	m := e.must(http.StatusCreated, request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: cardBody(id)})
	return m["hpan"].(string)
}

// rows counts what the stack stored, through its audit.
type rows struct{ citizens, cards, activations int }

func (e *testEnv) stored() rows {
	e.t.Helper()
	var n rows
	err := e.srv.store.Audit(context.Background(), AuditVisitor{
		Citizen:    func(Citizen) error { n.citizens++; return nil },
		Card:       func(Card) error { n.cards++; return nil },
		Activation: func(Activation) error { n.activations++; return nil },
	})
	if err != nil {
		e.t.Fatalf("audit: %v", err)
	}
	return n
}

// pgEnv is the variable holding a PostgreSQL DSN for the PostgreSQL tests.
const pgEnv = "STAMPEDE_TEST_POSTGRES"

// postgresDSN returns a DSN for a fresh schema of its own on the test
// PostgreSQL server, dropped when the test ends; it skips the test when
// STAMPEDE_TEST_POSTGRES is not set.
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(pgEnv)
	if dsn == "" {
		t.Skip("set STAMPEDE_TEST_POSTGRES=postgres://... to run against PostgreSQL")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", pgEnv, err)
	}
	schema := fmt.Sprintf("stack_test_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		_ = admin.Close(ctx)
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// databases lists the databases a test runs against: SQLite always,
// PostgreSQL when STAMPEDE_TEST_POSTGRES is set.
func databases(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, filepath.Join(t.TempDir(), "stack.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, postgresDSN(t))
	})
}
