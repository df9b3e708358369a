package stack

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// benchProfile picks the profile of the benchmarks:
// go test -bench . -args -stack.profile=naive
var benchProfile = flag.String("stack.profile", "hardened", "resilience profile of the benchmarks")

// benchDB is the database of the benchmarks: "" for SQLite in a temporary
// directory, or a postgres:// DSN (a fresh schema is made in it).
var benchDB = flag.String("stack.db", "", `database of the benchmarks: "" for SQLite, or "postgres" to use STAMPEDE_TEST_POSTGRES`)

func benchConfig(b *testing.B) Config {
	cfg := Config{Profile: Profile(*benchProfile)}
	if *benchDB == "postgres" {
		cfg.DB = postgresDSN(b)
	}
	return cfg
}

// benchHandler serves one request straight into the handler, skipping the
// client and the network, to measure the stack's own work per call (the
// banks are still reached over loopback HTTP).
func benchHandler(b *testing.B, h http.Handler, method, path, token, body string) {
	b.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code >= 300 {
		b.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
	}
}

// BenchmarkHandlers measures the hot handlers one by one on SQLite with an
// in-process fake bank that answers at once.
func BenchmarkHandlers(b *testing.B) {
	e := newEnv(b, benchConfig(b))
	h := e.srv.srv.Handler
	id, tok := e.enrolled(0)
	hpan := e.addCard(id, tok)
	e.must(http.StatusOK, request{method: "PUT", path: "/api/v1/cashback/cards/" + hpan, token: tok})
	var next atomic.Uint64
	next.Store(1000)

	b.Run("login", func(b *testing.B) {
		b.ReportAllocs()
		body := `{"fiscalCode":"` + id.FiscalCode + `"}`
		for b.Loop() {
			benchHandler(b, h, "POST", "/api/v1/session", "", body)
		}
	})
	b.Run("enroll", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fresh := identity(next.Add(1))
			t, _ := e.srv.tokens.mint(fresh.FiscalCode)
			benchHandler(b, h, "PUT", "/api/v1/citizen", t, `{"acceptTerms":true}`)
		}
	})
	b.Run("banks", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			benchHandler(b, h, "GET", "/api/v1/banks", tok, "")
		}
	})
	b.Run("bancomat-search", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			benchHandler(b, h, "GET", "/api/v1/bancomat/cards?abi="+id.Bank.ABI, tok, "")
		}
	})
	b.Run("add-card", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fresh := identity(next.Add(1))
			t, _ := e.srv.tokens.mint(fresh.FiscalCode)
			body := fmt.Sprintf(`{"pan":%q,"expiry":%q,"cvv":%q,"holder":"X"}`, fresh.PAN, fresh.Expiry, fresh.CVV)
			benchHandler(b, h, "POST", "/api/v1/wallet/cards", t, body)
		}
	})
	b.Run("wallet", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			benchHandler(b, h, "GET", "/api/v1/wallet", tok, "")
		}
	})
	b.Run("activate-again", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			benchHandler(b, h, "PUT", "/api/v1/cashback/cards/"+hpan, tok, "")
		}
	})
}

// journeyRequests is the number of requests one journey makes.
const journeyRequests = 11

// journey walks user i through the launch-day journey: login, enroll, IBAN,
// bank list, PagoBancomat search, co-badge search and its polls, card add,
// wallet, activation. It returns the requests that did not get the answer
// the journey expects.
func journey(e *testEnv, id synth.Identity) (failed int) {
	call := func(want int, req request) map[string]any {
		r, err := e.send(req)
		if err != nil || r.status != want {
			failed++
			return nil
		}
		m := map[string]any{}
		if json.Unmarshal(r.body, &m) != nil {
			failed++
		}
		return m
	}
	m := call(http.StatusCreated, request{method: "POST", path: "/api/v1/session", body: map[string]string{"fiscalCode": id.FiscalCode}})
	tok, _ := m["token"].(string)
	call(http.StatusOK, request{method: "PUT", path: "/api/v1/citizen", token: tok, body: map[string]bool{"acceptTerms": true}})
	call(http.StatusOK, request{method: "PATCH", path: "/api/v1/citizen", token: tok, body: map[string]string{"iban": id.IBAN, "holder": "X"}})
	call(http.StatusOK, request{method: "GET", path: "/api/v1/banks", token: tok})
	call(http.StatusOK, request{method: "GET", path: "/api/v1/bancomat/cards?abi=" + id.Bank.ABI, token: tok})
	m = call(http.StatusAccepted, request{method: "POST", path: "/api/v1/cobadge/searches", token: tok, body: map[string]string{"abi": id.Bank.ABI}})
	sid, _ := m["searchId"].(string)
	call(http.StatusOK, request{method: "GET", path: "/api/v1/cobadge/searches/" + sid, token: tok}) // PENDING
	call(http.StatusOK, request{method: "GET", path: "/api/v1/cobadge/searches/" + sid, token: tok}) // COMPLETED
	call(http.StatusCreated, request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: cardBody(id)})
	call(http.StatusOK, request{method: "GET", path: "/api/v1/wallet", token: tok})
	call(http.StatusOK, request{method: "PUT", path: "/api/v1/cashback/cards/" + e.hpan(id), token: tok})
	return failed
}

// BenchmarkJourneyMix drives whole journeys over real loopback HTTP from
// concurrent users (closed loop, saturating the stack) on SQLite with an
// in-process fake bank that answers at once, and reports the request rate:
//
//	go test -run '^$' -bench JourneyMix -benchtime 20000x ./mocks/stack/
func BenchmarkJourneyMix(b *testing.B) {
	e := newEnv(b, benchConfig(b))
	runJourneyMix(b, e, launchDay)
}

// BenchmarkJourneyMixBankMocks is BenchmarkJourneyMix against the real bank
// mocks (../bank) with zero service times.
func BenchmarkJourneyMixBankMocks(b *testing.B) {
	e, _ := realEnv(b, benchConfig(b))
	runJourneyMix(b, e, time.Now())
}

// runJourneyMix runs b.N journeys from 64 concurrent users, with identities
// whose cards are valid at ref.
func runJourneyMix(b *testing.B, e *testEnv, ref time.Time) {
	e.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	const users = 64
	var next atomic.Uint64
	var failed atomic.Int64
	jobs := make(chan uint64)
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range users {
		wg.Go(func() {
			for i := range jobs {
				failed.Add(int64(journey(e, synth.NewIdentity(testSeed, i, ref))))
			}
		})
	}
	for b.Loop() {
		jobs <- next.Add(1)
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	requests := float64(next.Load() * journeyRequests)
	b.ReportMetric(requests/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(failed.Load()), "failed")
}
