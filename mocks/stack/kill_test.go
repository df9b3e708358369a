package stack

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// The child process of TestKill9KeepsAcknowledgedWrites reads its setup
// from these variables.
const (
	killChildDB    = "STACK_TEST_CHILD_DB"
	killChildBanks = "STACK_TEST_CHILD_BANKS"
)

// TestKill9KeepsAcknowledgedWrites runs the stack in a child process (this
// test binary again), drives concurrent journeys at it, kills it with
// SIGKILL while writes are in flight, and checks that every card and
// activation the stack acknowledged is in the database, and that a stack
// restarted on it accepts the tokens the dead one minted; on SQLite and on
// PostgreSQL.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	if db := os.Getenv(killChildDB); db != "" {
		runKillChild(db, os.Getenv(killChildBanks))
		return
	}
	databases(t, testKill9)
}

// testKill9 is TestKill9KeepsAcknowledgedWrites on the database at db.
func testKill9(t *testing.T, db string) {
	clock := newFakeClock()
	bank := newFakeBank(t, clock.Now)

	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9KeepsAcknowledgedWrites$")
	cmd.Env = append(os.Environ(), killChildDB+"="+db, killChildBanks+"="+bank.URL)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	url := waitForURL(t, stdout)

	// Journeys run until the child dies; each records what was acknowledged.
	type acked struct {
		id        synth.Identity
		token     string
		hpan      string // as the add-card answer gave it
		card      bool
		activated bool
	}
	var (
		mu      sync.Mutex
		results []*acked
		cards   atomic.Int64
		enough  = make(chan struct{})
		once    sync.Once
		next    atomic.Uint64
		wg      sync.WaitGroup
		client  = &http.Client{Timeout: 30 * time.Second}
		e       = &testEnv{t: t, srv: &Server{URL: url}, http: client}
		workers = 16
	)
	var firstFailure atomic.Value
	failed := func(step string, r reply, err error) bool {
		if err == nil && r.status < 300 {
			return false
		}
		firstFailure.CompareAndSwap(nil, fmt.Sprintf("%s: %v %v", step, r, err))
		return true
	}
	now := time.Now() // the child runs on the real clock: cards must be valid now
	for range workers {
		wg.Go(func() {
			for {
				a := &acked{id: synth.NewIdentity(testSeed, next.Add(1), now)}
				r, err := e.send(request{method: "POST", path: "/api/v1/session", body: map[string]string{"fiscalCode": a.id.FiscalCode}})
				if failed("login", r, err) {
					return
				}
				var s sessionResponse
				_ = json.Unmarshal(r.body, &s)
				a.token = s.Token
				mu.Lock()
				results = append(results, a)
				mu.Unlock()
				r, err = e.send(request{method: "PUT", path: "/api/v1/citizen", token: a.token, body: map[string]bool{"acceptTerms": true}})
				if failed("enroll", r, err) {
					return
				}
				r, err = e.send(request{method: "POST", path: "/api/v1/wallet/cards", token: a.token, body: cardBody(a.id)})
				if failed("add card", r, err) {
					return
				}
				var added struct{ HPAN string }
				_ = json.Unmarshal(r.body, &added)
				mu.Lock()
				a.card, a.hpan = true, added.HPAN
				mu.Unlock()
				if cards.Add(1) == 200 {
					once.Do(func() { close(enough) })
				}
				r, err = e.send(request{method: "PUT", path: "/api/v1/cashback/cards/" + added.HPAN, token: a.token})
				if failed("activate", r, err) {
					return
				}
				mu.Lock()
				a.activated = true
				mu.Unlock()
			}
		})
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-enough:
	case <-stopped:
		t.Fatalf("the journeys stopped before the kill: %v", firstFailure.Load())
	}
	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	<-stopped
	_ = cmd.Wait()

	// A stack restarted on the database: its audit must hold every write
	// the dead one acknowledged, once.
	srv, err := NewServer(context.Background(), Config{DB: db, BanksURL: bank.URL, Now: clock.Now})
	if err != nil {
		t.Fatalf("restart after kill -9: %v", err)
	}
	defer srv.Close()
	report, err := FetchAudit(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cardsSeen, actsSeen := newClientView(), newClientView()
	for _, a := range results {
		// The restarted stack hashes with the salt it had: an hpan computed
		// with the salt of its audit is the one the first stack answered.
		key := a.id.FiscalCode + "/" + synth.HPAN(a.id.PAN, report.HPANSalt)
		if a.card && a.hpan != synth.HPAN(a.id.PAN, report.HPANSalt) {
			t.Fatalf("%s: hpan %s before the kill, %s after", a.id.FiscalCode, a.hpan, synth.HPAN(a.id.PAN, report.HPANSalt))
		}
		if a.card {
			cardsSeen.acked[key] = true
		}
		if a.activated {
			actsSeen.acked[key] = true
		}
	}
	rec := Reconcile(report, cardsSeen, actsSeen)
	for _, tally := range []struct {
		what string
		t    Tally
	}{{"card", rec.Cards}, {"activation", rec.Activations}} {
		if len(tally.t.Lost) > 0 || len(tally.t.Duplicated) > 0 {
			t.Errorf("after kill -9: %d acknowledged %ss lost (e.g. %v), %d duplicated", len(tally.t.Lost), tally.what, tally.t.Lost, len(tally.t.Duplicated))
		}
	}
	t.Logf("killed after %d acknowledged cards and %d activations; the audit of the restarted stack holds them all",
		rec.Cards.Acknowledged, rec.Activations.Acknowledged)

	// The restarted stack accepts the dead one's tokens.
	e.srv = srv
	e.must(http.StatusOK, request{method: "GET", path: "/api/v1/wallet", token: results[0].token})
}

// runKillChild serves a stack until the parent kills the process; it prints
// the stack's log, whose first record holds the URL, on stdout.
func runKillChild(db, banks string) {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	err := Serve(context.Background(), Config{DB: db, BanksURL: banks, Logger: logger}, "127.0.0.1:0")
	logger.Error("serve returned", "err", err)
	os.Exit(3)
}

// waitForURL reads the child's log until the record with its URL.
func waitForURL(t *testing.T, r interface{ Read([]byte) (int, error) }) string {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var rec struct{ URL string }
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.URL != "" {
			go func() { // keep draining so the child never blocks on stdout
				for sc.Scan() {
				}
			}()
			return rec.URL
		}
	}
	t.Fatalf("the child stack exited before listening: %v", sc.Err())
	return ""
}
