package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/scenarios/synth"
)

func TestJourney(t *testing.T) {
	for _, profile := range []Profile{Naive, Hardened} {
		t.Run(string(profile), func(t *testing.T) {
			databases(t, func(t *testing.T, dsn string) {
				e := newEnv(t, Config{Profile: profile, DB: dsn})
				id, tok := e.enrolled(1)

				m := e.must(http.StatusOK, request{method: "GET", path: "/api/v1/citizen", token: tok})
				if m["fiscalCode"] != id.FiscalCode || m["enabled"] != true || m["termsAcceptedAt"] != "2020-12-08T08:00:00Z" {
					t.Fatalf("citizen = %v", m)
				}
				m = e.must(http.StatusOK, request{method: "PATCH", path: "/api/v1/citizen", token: tok,
					body: map[string]string{"iban": id.IBAN, "holder": id.Name + " " + id.Surname}})
				if m["iban"] != id.IBAN || m["ibanStatus"] != ibanOK {
					t.Fatalf("set IBAN = %v", m)
				}
				m = e.must(http.StatusOK, request{method: "GET", path: "/api/v1/banks", token: tok})
				if banks := m["banks"].([]any); len(banks) != len(synth.Banks) || banks[0].(map[string]any)["abi"] != synth.Banks[0].ABI {
					t.Fatalf("banks = %v", m)
				}

				m = e.must(http.StatusOK, request{method: "GET", path: "/api/v1/bancomat/cards?abi=" + id.Bank.ABI, token: tok})
				cards := m["cards"].([]any)
				if len(cards) != 3 {
					t.Fatalf("bancomat search found %d cards, want one per processor: %v", len(cards), m)
				}
				for i, p := range processors {
					c := cards[i].(map[string]any)
					if c["processor"] != p || c["hpan"] != fakeHPAN(p, id.FiscalCode, id.Bank.ABI) || c["abi"] != id.Bank.ABI {
						t.Errorf("card %d = %v", i, c)
					}
				}
				wantMessages := `[map[outcome:OK processor:iccrea] map[outcome:OK processor:nexi] map[outcome:OK processor:sia]]`
				if got := fmt.Sprint(m["messages"]); got != wantMessages {
					t.Errorf("messages = %s, want %s", got, wantMessages)
				}

				m = e.must(http.StatusAccepted, request{method: "POST", path: "/api/v1/cobadge/searches", token: tok, body: map[string]string{"abi": id.Bank.ABI}})
				poll := request{method: "GET", path: "/api/v1/cobadge/searches/" + m["searchId"].(string), token: tok}
				if m = e.must(http.StatusOK, poll); m["status"] != searchPending {
					t.Fatalf("first poll = %v, want PENDING", m)
				}
				if m = e.must(http.StatusOK, poll); m["status"] != searchCompleted || len(m["cards"].([]any)) != 3 {
					t.Fatalf("second poll = %v, want COMPLETED with 3 cards", m)
				}

				hpan := e.addCard(id, tok)
				if hpan != e.hpan(id) {
					t.Fatalf("added card hpan %s, want %s", hpan, e.hpan(id))
				}
				m = e.must(http.StatusOK, request{method: "GET", path: "/api/v1/wallet", token: tok})
				w := m["cards"].([]any)
				if len(w) != 1 || w[0].(map[string]any)["last4"] != id.PAN[12:] || w[0].(map[string]any)["circuit"] != "VISA" || w[0].(map[string]any)["activatedAt"] != nil {
					t.Fatalf("wallet = %v", m)
				}

				activate := request{method: "PUT", path: "/api/v1/cashback/cards/" + hpan, token: tok}
				first := e.must(http.StatusOK, activate)
				e.clock.Advance(time.Minute)
				if again := e.must(http.StatusOK, activate); again["activatedAt"] != first["activatedAt"] {
					t.Fatalf("repeated activation = %v, want the first one %v", again, first)
				}
				m = e.must(http.StatusOK, request{method: "GET", path: "/api/v1/wallet", token: tok})
				if got := m["cards"].([]any)[0].(map[string]any)["activatedAt"]; got != first["activatedAt"] {
					t.Fatalf("wallet activatedAt = %v, want %v", got, first["activatedAt"])
				}
				e.must(http.StatusOK, request{method: "GET", path: "/healthz"})
			})
		})
	}
}

// An hpan is keyed: the SHA-256 of the card number and a salt derived from
// the stack's secret. Without the salt, an hpan and the last four digits
// no longer give the PAN back by hashing candidate numbers; a client that
// must compute an hpan asks the stack for the salt.
func TestHPANIsKeyed(t *testing.T) {
	dir := t.TempDir()
	secrets := [][]byte{[]byte("first stack's secret"), []byte("second stack's secret")}
	var hpans []string
	for i, secret := range secrets {
		e := newEnv(t, Config{Secret: secret, DB: filepath.Join(dir, fmt.Sprintf("stack%d.db", i))})
		id, tok := e.enrolled(1)
		hpan := e.addCard(id, tok)
		unkeyed := sha256.Sum256([]byte(id.PAN))
		if hpan == hex.EncodeToString(unkeyed[:]) {
			t.Fatalf("stack %d: hpan %s is the SHA-256 of the PAN alone", i, hpan)
		}
		if r := e.do(request{method: "GET", path: "/api/v1/hpan-salt"}); r.status != http.StatusUnauthorized {
			t.Fatalf("salt without a token: %s, want 401", r)
		}
		salt, _ := e.must(http.StatusOK, request{method: "GET", path: "/api/v1/hpan-salt", token: tok})["salt"].(string)
		if len(salt) != 32 || hpan != synth.HPAN(id.PAN, salt) {
			t.Fatalf("stack %d: hpan %s is not the hash of the PAN with the published salt %q", i, hpan, salt)
		}
		wallet := e.must(http.StatusOK, request{method: "GET", path: "/api/v1/wallet", token: tok})["cards"].([]any)
		if len(wallet) != 1 || wallet[0].(map[string]any)["hpan"] != hpan {
			t.Fatalf("stack %d: wallet %v does not list hpan %s", i, wallet, hpan)
		}
		e.must(http.StatusOK, request{method: "PUT", path: "/api/v1/cashback/cards/" + hpan, token: tok})
		hpans = append(hpans, hpan)
	}
	if hpans[0] == hpans[1] {
		t.Fatalf("two stacks with different secrets give the same hpan %s", hpans[0])
	}
	// The same secret gives the same salt, so hpans survive a restart on
	// another database (and, with the key kept in the database, on the
	// same one: TestKill9KeepsAcknowledgedWrites).
	e := newEnv(t, Config{Secret: secrets[0]})
	id, tok := e.enrolled(1)
	if again := e.addCard(id, tok); again != hpans[0] {
		t.Fatalf("the same secret gives hpan %s, then %s", hpans[0], again)
	}
}

func TestActivationRules(t *testing.T) {
	e := newEnv(t, Config{})
	owner, ownerTok := e.enrolled(1)
	hpan := e.addCard(owner, ownerTok)
	e.must(http.StatusOK, request{method: "PUT", path: "/api/v1/cashback/cards/" + hpan, token: ownerTok})

	other, otherTok := e.enrolled(2)
	// The other citizen holds the same card (a shared account): it may sit
	// in both wallets but be active for one citizen only.
	other.PAN, other.Expiry, other.CVV = owner.PAN, owner.Expiry, owner.CVV
	e.addCard(other, otherTok)

	stranger := identity(3)
	strangerTok := e.login(stranger.FiscalCode)
	e.addCard(stranger, strangerTok) // a wallet without enrolling

	tests := []struct {
		name     string
		token    string
		hpan     string
		status   int
		code     string
		contains string
	}{
		{"terms not accepted", strangerTok, e.hpan(stranger), http.StatusForbidden, "TERMS_NOT_ACCEPTED", "termini"},
		{"card not in wallet", ownerTok, e.hpan(identity(4)), http.StatusNotFound, "CARD_NOT_IN_WALLET", ""},
		{"active for another citizen", otherTok, hpan, http.StatusConflict, "CARD_ENROLLED_ELSEWHERE", ""},
		{"repeat by the owner", ownerTok, hpan, http.StatusOK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.stored()
			r := e.do(request{method: "PUT", path: "/api/v1/cashback/cards/" + tt.hpan, token: tt.token})
			if r.status != tt.status || r.code() != tt.code || !strings.Contains(string(r.body), tt.contains) {
				t.Fatalf("got %v, want %d %s", r, tt.status, tt.code)
			}
			if r.header.Get("X-Upstream") != "" {
				t.Errorf("X-Upstream %q on an answer no downstream caused", r.header.Get("X-Upstream"))
			}
			if after := e.stored(); after != before {
				t.Errorf("stored %+v, then %+v", before, after)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, Config{TokenTTL: time.Hour})
	id := identity(1)
	good := e.login(id.FiscalCode)
	foreign, _ := tokens{signer: signer{key: []byte("another key")}, now: e.clock.Now, ttl: time.Hour}.mint(id.FiscalCode)
	parts := strings.Split(good, ".")
	tampered := strings.Join([]string{parts[0], identity(2).FiscalCode, parts[2], parts[3]}, ".")
	unsigned := strings.Join(parts[:3], ".")

	tests := []struct {
		name   string
		header string
		status int
	}{
		{"valid", "Bearer " + good, http.StatusOK},
		{"lower-case scheme", "bearer " + good, http.StatusOK},
		{"missing", "", http.StatusUnauthorized},
		{"basic scheme", "Basic " + good, http.StatusUnauthorized},
		{"empty token", "Bearer ", http.StatusUnauthorized},
		{"garbage", "Bearer not-a-token", http.StatusUnauthorized},
		{"unsigned", "Bearer " + unsigned, http.StatusUnauthorized},
		{"fiscal code swapped", "Bearer " + tampered, http.StatusUnauthorized},
		{"signed with another key", "Bearer " + foreign, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(request{method: "GET", path: "/api/v1/wallet", header: map[string]string{"Authorization": tt.header}})
			if r.status != tt.status {
				t.Fatalf("got %v, want %d", r, tt.status)
			}
			if tt.status == http.StatusUnauthorized && (r.code() != "UNAUTHORIZED" || r.header.Get("WWW-Authenticate") == "") {
				t.Fatalf("401 without code or challenge: %v %v", r, r.header)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		e.clock.Advance(time.Hour - time.Second)
		e.must(http.StatusOK, request{method: "GET", path: "/api/v1/wallet", token: good})
		e.clock.Advance(time.Second)
		if r := e.do(request{method: "GET", path: "/api/v1/wallet", token: good}); r.status != http.StatusUnauthorized {
			t.Fatalf("expired token: got %v", r)
		}
	})
	t.Run("login", func(t *testing.T) {
		m := e.must(http.StatusCreated, request{method: "POST", path: "/api/v1/session", body: map[string]string{"fiscalCode": id.FiscalCode}})
		exp, err := time.Parse(time.RFC3339, m["expiresAt"].(string))
		if err != nil || !exp.Equal(e.clock.Now().Add(time.Hour)) {
			t.Fatalf("expiresAt = %v (%v), want an hour from now", m["expiresAt"], err)
		}
	})
}

// chunked hides a body's length so it is sent chunked, past Content-Length
// checks.
type chunked struct{ s string }

func TestBadInput(t *testing.T) {
	e := newEnv(t, Config{})
	id, tok := e.enrolled(1)
	newcomer := e.login(identity(2).FiscalCode)

	card := func(edit func(map[string]string)) map[string]string {
		b := cardBody(id)
		edit(b)
		return b
	}
	badLuhn := id.PAN[:15] + string('0'+(id.PAN[15]-'0'+1)%10)
	badIBAN := id.IBAN[:2] + fmt.Sprintf("%02d", (int(id.IBAN[2]-'0')*10+int(id.IBAN[3]-'0')+1)%100) + id.IBAN[4:]
	huge := strings.Repeat("A", maxBodyBytes+1)
	forged := "eyJmIjoiWCJ9.AAAA"

	tests := []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"PAN with a bad Luhn digit", request{method: "POST", path: "/api/v1/wallet/cards", body: card(func(b map[string]string) { b["pan"] = badLuhn })}, 422, "INVALID_CARD"},
		{"PAN with letters", request{method: "POST", path: "/api/v1/wallet/cards", body: card(func(b map[string]string) { b["pan"] = "4111x11111111111" })}, 422, "INVALID_CARD"},
		{"expired card", request{method: "POST", path: "/api/v1/wallet/cards", body: card(func(b map[string]string) { b["expiry"] = "11/20" })}, 422, "INVALID_CARD"},
		{"malformed expiry", request{method: "POST", path: "/api/v1/wallet/cards", body: card(func(b map[string]string) { b["expiry"] = "2030-12" })}, 422, "INVALID_CARD"},
		{"bad security code", request{method: "POST", path: "/api/v1/wallet/cards", body: card(func(b map[string]string) { b["cvv"] = "12a" })}, 422, "INVALID_CARD"},
		{"no holder", request{method: "POST", path: "/api/v1/wallet/cards", body: card(func(b map[string]string) { b["holder"] = " " })}, 422, "INVALID_CARD"},
		{"bad idempotency key", request{method: "POST", path: "/api/v1/wallet/cards", body: cardBody(id), header: map[string]string{"Idempotency-Key": "has space"}}, 400, "INVALID_IDEMPOTENCY_KEY"},
		{"IBAN with bad check digits", request{method: "PATCH", path: "/api/v1/citizen", body: map[string]string{"iban": badIBAN, "holder": "X"}}, 400, "INVALID_IBAN"},
		{"IBAN too short", request{method: "PATCH", path: "/api/v1/citizen", body: map[string]string{"iban": "IT60X0542811101", "holder": "X"}}, 400, "INVALID_IBAN"},
		{"IBAN without holder", request{method: "PATCH", path: "/api/v1/citizen", body: map[string]string{"iban": id.IBAN, "holder": ""}}, 400, "INVALID_HOLDER"},
		{"malformed fiscal code", request{method: "POST", path: "/api/v1/session", body: map[string]string{"fiscalCode": "RSSMRA80A01H501"}}, 400, "INVALID_FISCAL_CODE"},
		{"fiscal code with a wrong check character", request{method: "POST", path: "/api/v1/session", body: map[string]string{"fiscalCode": id.FiscalCode[:15] + string('A'+(id.FiscalCode[15]-'A'+1)%26)}}, 400, "INVALID_FISCAL_CODE"},
		{"body over 64 KiB", request{method: "POST", path: "/api/v1/wallet/cards", body: card(func(b map[string]string) { b["holder"] = huge })}, 413, "PAYLOAD_TOO_LARGE"},
		{"chunked body over 64 KiB", request{method: "POST", path: "/api/v1/wallet/cards", body: chunked{`{"holder":"` + huge + `"}`}}, 413, "PAYLOAD_TOO_LARGE"},
		{"wrong content type", request{method: "POST", path: "/api/v1/wallet/cards", body: cardBody(id), header: map[string]string{"Content-Type": "text/plain"}}, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"form content type", request{method: "PUT", path: "/api/v1/citizen", body: `acceptTerms=true`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"malformed JSON", request{method: "POST", path: "/api/v1/wallet/cards", body: `{"pan": "4111`}, 400, "BAD_REQUEST"},
		{"empty body", request{method: "PUT", path: "/api/v1/citizen", body: ``}, 400, "BAD_REQUEST"},
		{"unknown field", request{method: "PUT", path: "/api/v1/citizen", body: `{"accept_terms": true}`}, 400, "BAD_REQUEST"},
		{"two JSON values", request{method: "PUT", path: "/api/v1/citizen", body: `{"acceptTerms": true} {}`}, 400, "BAD_REQUEST"},
		{"wrong JSON type", request{method: "POST", path: "/api/v1/wallet/cards", body: `{"pan": 4111111111111111}`}, 400, "BAD_REQUEST"},
		{"terms not accepted", request{method: "PUT", path: "/api/v1/citizen", token: newcomer, body: map[string]bool{"acceptTerms": false}}, 400, "TERMS_REQUIRED"},
		{"ABI too short", request{method: "GET", path: "/api/v1/bancomat/cards?abi=123"}, 400, "INVALID_ABI"},
		{"no ABI", request{method: "GET", path: "/api/v1/bancomat/cards"}, 400, "INVALID_ABI"},
		{"co-badge ABI with letters", request{method: "POST", path: "/api/v1/cobadge/searches", body: map[string]string{"abi": "abcde"}}, 400, "INVALID_ABI"},
		{"forged co-badge search id", request{method: "GET", path: "/api/v1/cobadge/searches/" + forged}, 404, "SEARCH_NOT_FOUND"},
		{"malformed hpan", request{method: "PUT", path: "/api/v1/cashback/cards/XYZ"}, 400, "INVALID_HPAN"},
		{"upper-case hpan", request{method: "PUT", path: "/api/v1/cashback/cards/" + strings.ToUpper(e.hpan(id))}, 400, "INVALID_HPAN"},
		{"IBAN of a citizen not enrolled", request{method: "PATCH", path: "/api/v1/citizen", token: newcomer, body: map[string]string{"iban": id.IBAN, "holder": "X"}}, 404, "CITIZEN_NOT_FOUND"},
		{"method not allowed", request{method: "DELETE", path: "/api/v1/wallet"}, 405, "METHOD_NOT_ALLOWED"},
		{"unknown path", request{method: "GET", path: "/api/v1/nothing"}, 404, "NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req.token == "" {
				req.token = tok
			}
			if c, ok := req.body.(chunked); ok {
				req.body = nil
				r := e.doChunked(req, c.s)
				if r.status != tt.status || r.code() != tt.code {
					t.Fatalf("got %v, want %d %s", r, tt.status, tt.code)
				}
				return
			}
			before, calls := e.stored(), e.bank.totalCalls()
			r := e.do(req)
			if r.status != tt.status || r.code() != tt.code {
				t.Fatalf("got %v, want %d %s", r, tt.status, tt.code)
			}
			if r.json(t)["message"] == "" {
				t.Errorf("no message in %v", r)
			}
			if after := e.stored(); after != before {
				t.Errorf("bad input was written: stored %+v, then %+v", before, after)
			}
			if n := e.bank.totalCalls(); n != calls {
				t.Errorf("bad input reached the banks: %d calls", n-calls)
			}
			if u := r.header.Get("X-Upstream"); u != "" {
				t.Errorf("X-Upstream %q on bad input", u)
			}
		})
	}
}

// doChunked sends body with no Content-Length.
func (e *testEnv) doChunked(req request, body string) reply {
	e.t.Helper()
	hr, err := http.NewRequest(req.method, e.srv.URL+req.path, io.NopCloser(strings.NewReader(body)))
	if err != nil {
		e.t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+req.token)
	resp, err := e.http.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, Config{})
	id, tok := e.enrolled(1)
	add := func(key string, body map[string]string) reply {
		return e.do(request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: body, header: map[string]string{"Idempotency-Key": key}})
	}

	first := add("key-1", cardBody(id))
	if first.status != http.StatusCreated || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first add: %v", first)
	}
	again := add("key-1", cardBody(id))
	if again.status != http.StatusCreated || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat with the same key: %v %v, want %v replayed", again, again.header, first)
	}
	if n := e.bank.count("nexi"); n != 1 {
		t.Fatalf("the processor saw %d verifications, want 1: a replay must not call it", n)
	}
	if r := add("key-1", cardBody(identity(2))); r.status != http.StatusConflict || r.code() != "IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("same key, another card: %v", r)
	}
	// Without a key, adding the card again stores nothing new.
	e.must(http.StatusCreated, request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: cardBody(id)})
	if n := e.stored(); n.cards != 1 {
		t.Fatalf("%d cards stored, want 1", n.cards)
	}
	// A key first used on a card already in the wallet names that card:
	// reusing it for another card is refused, repeating it replays.
	inWallet, otherCard := cardBody(identity(4)), cardBody(identity(5))
	e.must(http.StatusCreated, request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: inWallet})
	if r := add("key-2", inWallet); r.status != http.StatusCreated {
		t.Fatalf("a key on a card already in the wallet: %v", r)
	}
	if r := add("key-2", inWallet); r.status != http.StatusCreated || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the key again on the same card: %v %v", r, r.header)
	}
	if r := add("key-2", otherCard); r.status != http.StatusConflict || r.code() != "IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("the key of a card already in the wallet, on another card: %v", r)
	}
	if n := e.stored(); n.cards != 2 {
		t.Fatalf("%d cards stored, want 2", n.cards)
	}
	// Keys belong to a citizen: another citizen may use the same one.
	other, otherTok := e.enrolled(3)
	r := e.do(request{method: "POST", path: "/api/v1/wallet/cards", token: otherTok, body: cardBody(other), header: map[string]string{"Idempotency-Key": "key-1"}})
	if r.status != http.StatusCreated || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("another citizen's key-1: %v", r)
	}
}

// The holder limit counts characters: 140 accented letters (280 bytes) are
// a valid name, 141 are not.
func TestHolderLimitCountsCharacters(t *testing.T) {
	e := newEnv(t, Config{})
	id, tok := e.enrolled(1)
	for _, tt := range []struct {
		n    int
		card int
		iban int
	}{{140, http.StatusCreated, http.StatusOK}, {141, http.StatusUnprocessableEntity, http.StatusBadRequest}} {
		holder := strings.Repeat("è", tt.n)
		body := cardBody(id)
		body["holder"] = holder
		if r := e.do(request{method: "POST", path: "/api/v1/wallet/cards", token: tok, body: body}); r.status != tt.card {
			t.Errorf("card holder of %d characters: %v, want %d", tt.n, r, tt.card)
		}
		if r := e.do(request{method: "PATCH", path: "/api/v1/citizen", token: tok, body: map[string]string{"iban": id.IBAN, "holder": holder}}); r.status != tt.iban {
			t.Errorf("IBAN holder of %d characters: %v, want %d", tt.n, r, tt.iban)
		}
	}
}
