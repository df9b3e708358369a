package stack

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stampede-load/stampede/mocks/bank"
	"github.com/stampede-load/stampede/scenarios/synth"
)

// zeroLatencyBanks is the stock banks file with every station answering at
// once and co-badge searches completing at once: the bank mocks as a
// stand-in that never limits the stack.
func zeroLatencyBanks() bank.Config {
	cfg := bank.DefaultConfig()
	for name, p := range cfg.Processors {
		p.Service = bank.ConstantService(0)
		p.CobadgePending = 0
		cfg.Processors[name] = p
	}
	cfg.IBAN.Service = bank.ConstantService(0)
	for i := range cfg.Banks {
		cfg.Banks[i].Service = bank.ConstantService(0)
	}
	return cfg
}

// realEnv starts the real bank mocks (../bank) and a stack in front of them,
// both on the real clock.
func realEnv(t testing.TB, cfg Config) (*testEnv, bank.Config) {
	t.Helper()
	bcfg := zeroLatencyBanks()
	b, err := bank.NewServer(context.Background(), bcfg)
	if err != nil {
		t.Fatalf("bank.NewServer: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	cfg.BanksURL = b.URL
	if cfg.DB == "" {
		cfg.DB = t.TempDir() + "/stack.db"
	}
	srv, err := NewServer(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &testEnv{t: t, srv: srv, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}, bcfg
}

// TestAgainstBankMocks walks the journey against the real bank mocks in both
// profiles and checks the searches find exactly the cards the mocks hold.
func TestAgainstBankMocks(t *testing.T) {
	for _, profile := range []Profile{Naive, Hardened} {
		t.Run(string(profile), func(t *testing.T) {
			e, bcfg := realEnv(t, Config{Profile: profile})
			for i := range uint64(5) {
				id := synth.NewIdentity(testSeed, i, time.Now()) // the mocks check expiry on the real clock
				tok := e.login(id.FiscalCode)
				e.must(http.StatusOK, request{method: "PUT", path: "/api/v1/citizen", token: tok, body: map[string]bool{"acceptTerms": true}})
				m := e.must(http.StatusOK, request{method: "PATCH", path: "/api/v1/citizen", token: tok, body: map[string]string{"iban": id.IBAN, "holder": "X"}})
				if m["ibanStatus"] != ibanOK {
					t.Fatalf("user %d: ibanStatus %v", i, m["ibanStatus"])
				}

				var want []string
				for _, p := range processors {
					for _, c := range bank.BancomatCards(bcfg.Seed, p, id.Bank.ABI, id.FiscalCode) {
						want = append(want, p+"/"+c.HPAN)
					}
				}
				m = e.must(http.StatusOK, request{method: "GET", path: "/api/v1/bancomat/cards?abi=" + id.Bank.ABI, token: tok})
				if got := foundKeys(m); !slices.Equal(got, want) {
					t.Fatalf("user %d: bancomat cards %v, want %v", i, got, want)
				}

				want = want[:0]
				for _, p := range processors {
					for _, c := range bank.CobadgeCards(bcfg.Seed, p, id.Bank.ABI, id.FiscalCode) {
						want = append(want, p+"/"+c.HPAN)
					}
				}
				m = e.must(http.StatusAccepted, request{method: "POST", path: "/api/v1/cobadge/searches", token: tok, body: map[string]string{"abi": id.Bank.ABI}})
				poll := request{method: "GET", path: "/api/v1/cobadge/searches/" + m["searchId"].(string), token: tok}
				for round := 0; m["status"] != searchCompleted; round++ {
					if round == 100 {
						t.Fatalf("user %d: co-badge search still %v after 100 polls", i, m["status"])
					}
					m = e.must(http.StatusOK, poll)
				}
				if got := foundKeys(m); !slices.Equal(got, want) {
					t.Fatalf("user %d: co-badge cards %v, want %v", i, got, want)
				}

				hpan := e.addCard(id, tok)
				e.must(http.StatusOK, request{method: "PUT", path: "/api/v1/cashback/cards/" + hpan, token: tok})
				m = e.must(http.StatusOK, request{method: "GET", path: "/api/v1/wallet", token: tok})
				if c := m["cards"].([]any); len(c) != 1 || c[0].(map[string]any)["circuit"] != "VISA" {
					t.Fatalf("user %d: wallet %v", i, m)
				}
			}
		})
	}
}

// foundKeys lists a search answer's cards as processor/hpan.
func foundKeys(m map[string]any) []string {
	var keys []string
	for _, c := range m["cards"].([]any) {
		card := c.(map[string]any)
		keys = append(keys, card["processor"].(string)+"/"+card["hpan"].(string))
	}
	return keys
}
