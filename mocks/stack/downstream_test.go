package stack

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// TestDownstreamFailures checks what the app sees when a bank misbehaves:
// status, code, the user-facing message, X-Upstream and Retry-After.
func TestDownstreamFailures(t *testing.T) {
	bancomat := func(id synth.Identity) request {
		return request{method: "GET", path: "/api/v1/bancomat/cards?abi=" + id.Bank.ABI}
	}
	addCard := func(id synth.Identity) request {
		return request{method: "POST", path: "/api/v1/wallet/cards", body: cardBody(id)}
	}
	setIBAN := func(id synth.Identity) request {
		return request{method: "PATCH", path: "/api/v1/citizen", body: map[string]string{"iban": id.IBAN, "holder": "X"}}
	}
	cobadge := func(id synth.Identity) request {
		return request{method: "POST", path: "/api/v1/cobadge/searches", body: map[string]string{"abi": id.Bank.ABI}}
	}
	queueFull := fault{status: 503, code: "QUEUE_FULL"}
	broken := fault{status: 500, code: "INTERNAL"}

	tests := []struct {
		name       string
		cfg        Config
		faults     map[string]fault
		req        func(synth.Identity) request
		status     int
		code       string
		message    string
		upstream   string
		retryAfter string
		calls      map[string]int // bank calls by station, when it matters
	}{
		{"card add, processor full (naive)", Config{Profile: Naive}, map[string]fault{"nexi": queueFull}, addCard,
			503, "CARD_SAVE_FAILED", MessageCardSaveFailed, "nexi", "", map[string]int{"nexi": 1}},
		{"card add, processor full twice (hardened retries once)", Config{}, map[string]fault{"nexi": queueFull}, addCard,
			503, "CARD_SAVE_FAILED", MessageCardSaveFailed, "nexi", "", map[string]int{"nexi": 2}},
		{"card add, processor broken", Config{}, map[string]fault{"nexi": broken}, addCard,
			502, "CARD_SAVE_FAILED", MessageCardSaveFailed, "nexi", "", map[string]int{"nexi": 1}},
		{"card add, processor rate-limits", Config{}, map[string]fault{"nexi": {status: 429, code: "RATE_LIMITED", retryAfter: "7"}}, addCard,
			503, "CARD_SAVE_FAILED", MessageCardSaveFailed, "nexi", "7", map[string]int{"nexi": 1}},
		{"card add, processor times out", Config{CallTimeout: 20 * time.Millisecond}, map[string]fault{"nexi": {hang: true}}, addCard,
			504, "CARD_SAVE_FAILED", MessageCardSaveFailed, "nexi", "", nil},
		{"card add, processor declines", Config{}, map[string]fault{"nexi": {status: 422, code: "CARD_DECLINED"}}, addCard,
			422, "CARD_DECLINED", messageDeclined, "nexi", "", nil},
		{"card add at another processor", Config{CardProcessor: "sia"}, map[string]fault{"sia": broken}, addCard,
			502, "CARD_SAVE_FAILED", MessageCardSaveFailed, "sia", "", map[string]int{"sia": 1, "nexi": 0}},
		{"bancomat, every processor full (hardened)", Config{}, map[string]fault{"iccrea": queueFull, "nexi": queueFull, "sia": queueFull}, bancomat,
			502, "BANCOMAT_SEARCH_FAILED", MessageBancomatSearchFailed, "iccrea,nexi,sia", "1", nil},
		{"bancomat, first processor broken (naive stops there)", Config{Profile: Naive}, map[string]fault{"iccrea": broken}, bancomat,
			502, "BANCOMAT_SEARCH_FAILED", MessageBancomatSearchFailed, "iccrea", "", map[string]int{"iccrea": 1, "nexi": 0, "sia": 0}},
		{"bancomat, last processor broken (naive)", Config{Profile: Naive}, map[string]fault{"sia": broken}, bancomat,
			502, "BANCOMAT_SEARCH_FAILED", MessageBancomatSearchFailed, "sia", "", map[string]int{"iccrea": 1, "nexi": 1, "sia": 1}},
		{"IBAN service full", Config{Profile: Naive}, map[string]fault{"iban": queueFull}, setIBAN,
			503, "IBAN_CHECK_FAILED", messageIBANFailed, "iban", "", nil},
		{"IBAN service broken", Config{}, map[string]fault{"iban": broken}, setIBAN,
			502, "IBAN_CHECK_FAILED", messageIBANFailed, "iban", "", nil},
		{"IBAN service bad gateway (not a bank timeout)", Config{}, map[string]fault{"iban": {status: 502, code: "BAD_GATEWAY"}}, setIBAN,
			502, "IBAN_CHECK_FAILED", messageIBANFailed, "iban", "", nil},
		{"co-badge start, one processor broken (naive)", Config{Profile: Naive}, map[string]fault{"nexi": broken}, cobadge,
			502, "COBADGE_SEARCH_FAILED", messageCobadgeFailed, "nexi", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			id, tok := e.enrolled(1)
			for st, f := range tt.faults {
				e.bank.setFault(st, f)
			}
			before := e.stored()
			req := tt.req(id)
			req.token = tok
			r := e.do(req)
			m := r.json(t)
			if r.status != tt.status || m["code"] != tt.code || m["message"] != tt.message {
				t.Fatalf("got %v, want %d %s %q", r, tt.status, tt.code, tt.message)
			}
			if got := r.header.Get("X-Upstream"); got != tt.upstream {
				t.Errorf("X-Upstream = %q, want %q", got, tt.upstream)
			}
			if got := r.header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			for st, n := range tt.calls {
				if got := e.bank.count(st); got != n {
					t.Errorf("%s saw %d calls, want %d", st, got, n)
				}
			}
			if after := e.stored(); after != before {
				t.Errorf("a failed call was written: stored %+v, then %+v", before, after)
			}
		})
	}
}

func TestHardenedPartialResults(t *testing.T) {
	e := newEnv(t, Config{Profile: Hardened})
	id, tok := e.enrolled(1)
	e.bank.setFault("sia", fault{status: 500, code: "INTERNAL"})

	m := e.must(http.StatusOK, request{method: "GET", path: "/api/v1/bancomat/cards?abi=" + id.Bank.ABI, token: tok})
	if n := len(m["cards"].([]any)); n != 2 {
		t.Fatalf("%d cards, want the 2 of the processors that answered: %v", n, m)
	}
	want := `[map[outcome:OK processor:iccrea] map[outcome:OK processor:nexi] map[outcome:KO processor:sia]]`
	if got := fmt.Sprint(m["messages"]); got != want {
		t.Fatalf("messages = %s, want %s", got, want)
	}

	// A co-badge search started while sia was down polls the others only.
	m = e.must(http.StatusAccepted, request{method: "POST", path: "/api/v1/cobadge/searches", token: tok, body: map[string]string{"abi": id.Bank.ABI}})
	e.bank.clearFaults()
	poll := request{method: "GET", path: "/api/v1/cobadge/searches/" + m["searchId"].(string), token: tok}
	e.must(http.StatusOK, poll)
	m = e.must(http.StatusOK, poll)
	if m["status"] != searchCompleted || len(m["cards"].([]any)) != 2 || fmt.Sprint(m["messages"]) != want {
		t.Fatalf("poll = %v", m)
	}
	if e.bank.count("sia") != 2 { // the failed start and the bancomat search
		t.Fatalf("sia saw %d calls, want 2", e.bank.count("sia"))
	}
}

func TestIBANVerdicts(t *testing.T) {
	tests := []struct {
		name, abi, status string
	}{
		{"known bank", "03069", ibanOK},
		{"unknown bank", "99999", ibanUnknownPSP},
		{"bank timed out", "99998", ibanUnknownPSP},
	}
	e := newEnv(t, Config{})
	_, tok := e.enrolled(1)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iban := synth.IBAN(synth.Rand(testSeed, uint64(i)), tt.abi)
			m := e.must(http.StatusOK, request{method: "PATCH", path: "/api/v1/citizen", token: tok, body: map[string]string{"iban": iban, "holder": "X"}})
			if m["ibanStatus"] != tt.status {
				t.Fatalf("ibanStatus = %v, want %s", m["ibanStatus"], tt.status)
			}
			m = e.must(http.StatusOK, request{method: "GET", path: "/api/v1/citizen", token: tok})
			if m["iban"] != iban || m["ibanStatus"] != tt.status {
				t.Fatalf("stored citizen = %v", m)
			}
		})
	}
}
