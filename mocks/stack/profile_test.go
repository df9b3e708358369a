package stack

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// These tests hang a bank station (it answers only when the test releases
// it) and compare the two profiles. They wait on events, never on sleeps:
// the fake bank reports each call that starts hanging on bank.arrived.

// async does req in the background; the reply arrives on the channel, with
// status 0 and the error in the body if the request failed.
func (e *testEnv) async(req request) <-chan reply {
	ch := make(chan reply, 1)
	go func() {
		r, err := e.send(req)
		if err != nil {
			r = reply{body: []byte(err.Error())}
		}
		ch <- r
	}()
	return ch
}

// arrival waits for the next call that starts hanging at the bank.
func (e *testEnv) arrival(t *testing.T) string {
	t.Helper()
	select {
	case st := <-e.bank.arrived:
		return st
	case <-time.After(30 * time.Second):
		t.Fatal("no call reached the hanging station")
		return ""
	}
}

// pending fails the test if a reply has arrived.
func pending(t *testing.T, ch <-chan reply, what string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s answered %v while the bank still hangs", what, r)
	default:
	}
}

func TestBancomatWithAHangingProcessor(t *testing.T) {
	t.Run("hardened answers with partial results", func(t *testing.T) {
		e := newEnv(t, Config{Profile: Hardened, CallTimeout: 50 * time.Millisecond})
		id, tok := e.enrolled(1)
		e.bank.setFault("iccrea", fault{hang: true})
		m := e.must(http.StatusOK, request{method: "GET", path: "/api/v1/bancomat/cards?abi=" + id.Bank.ABI, token: tok})
		want := `[map[outcome:TIMEOUT processor:iccrea] map[outcome:OK processor:nexi] map[outcome:OK processor:sia]]`
		if got := fmt.Sprint(m["messages"]); got != want || len(m["cards"].([]any)) != 2 {
			t.Fatalf("got %v, want the cards of nexi and sia and messages %s", m, want)
		}
	})
	t.Run("naive waits for every processor in turn", func(t *testing.T) {
		e := newEnv(t, Config{Profile: Naive, CallTimeout: time.Minute})
		id, tok := e.enrolled(1)
		e.bank.setFault("iccrea", fault{hang: true})
		ch := e.async(request{method: "GET", path: "/api/v1/bancomat/cards?abi=" + id.Bank.ABI, token: tok})
		if st := e.arrival(t); st != "iccrea" {
			t.Fatalf("hanging call at %s", st)
		}
		pending(t, ch, "the naive search")
		if n := e.bank.count("nexi") + e.bank.count("sia"); n != 0 {
			t.Fatalf("naive called the other processors (%d calls) before iccrea answered", n)
		}
		e.bank.unhang()
		r := <-ch
		if r.status != http.StatusOK || len(r.json(t)["cards"].([]any)) != 3 {
			t.Fatalf("after the release: %v", r)
		}
	})
}

func TestAdmissionLimit(t *testing.T) {
	t.Run("hardened sheds at once", func(t *testing.T) {
		e := newEnv(t, Config{Profile: Hardened, MaxInFlight: 1, CallTimeout: time.Minute})
		id, tok := e.enrolled(1)
		e.bank.setFault("nexi", fault{hang: true})
		held := e.async(request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: cardBody(id)})
		e.arrival(t)
		r := e.do(request{method: "GET", path: "/api/v1/wallet", token: tok})
		m := r.json(t)
		if r.status != http.StatusServiceUnavailable || m["code"] != "OVERLOADED" || m["message"] != MessageWalletUnavailable {
			t.Fatalf("over the limit: %v", r)
		}
		if r.header.Get("Retry-After") != "1" || r.header.Get("X-Upstream") != "stack" {
			t.Fatalf("shed answer headers: %v", r.header)
		}
		e.must(http.StatusOK, request{method: "GET", path: "/healthz"}) // not an API call: never shed
		e.bank.unhang()
		if r := <-held; r.status != http.StatusCreated {
			t.Fatalf("the held request: %v", r)
		}
		e.must(http.StatusOK, request{method: "GET", path: "/api/v1/wallet", token: tok})
	})
	t.Run("naive queues everything", func(t *testing.T) {
		e := newEnv(t, Config{Profile: Naive, MaxInFlight: 1})
		id, tok := e.enrolled(1)
		other, otherTok := e.enrolled(2)
		e.bank.setFault("nexi", fault{hang: true})
		first := e.async(request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: cardBody(id)})
		second := e.async(request{method: "POST", path: "/api/v1/wallet/cards", token: otherTok, body: cardBody(other)})
		e.arrival(t)
		e.arrival(t)
		pending(t, first, "the first card add")
		pending(t, second, "the second card add")
		e.must(http.StatusOK, request{method: "GET", path: "/api/v1/wallet", token: tok})
		e.bank.unhang()
		for _, ch := range []<-chan reply{first, second} {
			if r := <-ch; r.status != http.StatusCreated {
				t.Fatalf("after the release: %v", r)
			}
		}
	})
}

func TestBulkhead(t *testing.T) {
	e := newEnv(t, Config{Profile: Hardened, Bulkhead: 1, CallTimeout: time.Minute})
	id, tok := e.enrolled(1)
	other, otherTok := e.enrolled(2)
	e.bank.setFault("nexi", fault{hang: true})
	held := e.async(request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: cardBody(id)})
	e.arrival(t)

	r := e.do(request{method: "POST", path: "/api/v1/wallet/cards", token: otherTok, body: cardBody(other)})
	if r.status != http.StatusServiceUnavailable || r.code() != "CARD_SAVE_FAILED" || r.header.Get("X-Upstream") != "nexi" || r.header.Get("Retry-After") == "" {
		t.Fatalf("second call into a full bulkhead: %v %v", r, r.header)
	}
	// Other stations have bulkheads of their own: a search gets the cards
	// of iccrea and sia while nexi's bulkhead is full.
	m := e.must(http.StatusOK, request{method: "GET", path: "/api/v1/bancomat/cards?abi=" + id.Bank.ABI, token: tok})
	want := `[map[outcome:OK processor:iccrea] map[outcome:KO processor:nexi] map[outcome:OK processor:sia]]`
	if got := fmt.Sprint(m["messages"]); got != want {
		t.Fatalf("search with nexi's bulkhead full: messages %s, want %s", got, want)
	}
	e.bank.unhang()
	if r := <-held; r.status != http.StatusCreated {
		t.Fatalf("held call: %v", r)
	}
	if n := e.bank.count("nexi"); n != 1 {
		t.Fatalf("nexi saw %d calls, want only the held one", n)
	}
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	policy := BreakerPolicy{Window: 10 * time.Second, MinCalls: 4, FailureRatio: 0.5, OpenFor: 5 * time.Second}
	e := newEnv(t, Config{Profile: Hardened, Breaker: policy})
	id, tok := e.enrolled(1)
	add := request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: cardBody(id)}
	e.bank.setFault("nexi", fault{status: 500, code: "INTERNAL"})
	for i := range 4 {
		if r := e.do(add); r.status != http.StatusBadGateway {
			t.Fatalf("call %d with nexi broken: %v", i, r)
		}
	}
	r := e.do(add)
	if r.status != http.StatusServiceUnavailable || r.code() != "CARD_SAVE_FAILED" || r.header.Get("X-Upstream") != "nexi" {
		t.Fatalf("with the breaker open: %v", r)
	}
	health := e.must(http.StatusOK, request{method: "GET", path: "/healthz"})
	if got := fmt.Sprint(health["breakers"]); got != "map[iban:closed iccrea:closed nexi:open sia:closed]" {
		t.Fatalf("healthz breakers = %s", got)
	}
	if n := e.bank.count("nexi"); n != 4 {
		t.Fatalf("nexi saw %d calls, want 4: an open breaker must not call it", n)
	}
	e.bank.clearFaults()
	e.clock.Advance(policy.OpenFor - time.Millisecond)
	if r := e.do(add); r.status != http.StatusServiceUnavailable {
		t.Fatalf("still open before OpenFor: %v", r)
	}
	e.clock.Advance(time.Millisecond)
	e.must(http.StatusCreated, add) // the probe
	e.must(http.StatusCreated, add) // closed again
	if n := e.bank.count("nexi"); n != 6 {
		t.Fatalf("nexi saw %d calls, want 6", n)
	}
}

// TestCloseCancelsAfterGrace: a request stuck on a hanging bank does not
// keep Close waiting past the shutdown grace.
func TestCloseCancelsAfterGrace(t *testing.T) {
	e := newEnv(t, Config{Profile: Naive, CallTimeout: time.Hour, ShutdownGrace: 50 * time.Millisecond})
	id, tok := e.enrolled(1)
	e.bank.setFault("nexi", fault{hang: true})
	stuck := e.async(request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: cardBody(id)})
	e.arrival(t)
	if err := e.srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r := <-stuck; r.status == http.StatusCreated {
		t.Fatalf("the stuck request succeeded: %v", r)
	}
	s, err := OpenStore(context.Background(), e.srv.cfg.DB, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if w, err := s.Wallet(context.Background(), id.FiscalCode); err != nil || len(w) != 0 {
		t.Fatalf("wallet after the cancelled add: %v, %v", w, err)
	}
}
