package bank

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// fastConfig is DefaultConfig with no service time anywhere and co-badge
// searches that complete at once: what tests of answers want.
func fastConfig() Config {
	c := DefaultConfig()
	for name, p := range c.Processors {
		p.Service = ConstantService(0)
		p.CobadgePending = 0
		c.Processors[name] = p
	}
	c.IBAN.Service = ConstantService(0)
	for i := range c.Banks {
		c.Banks[i].Service = ConstantService(0)
	}
	return c
}

func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := NewServer(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var testClient = &http.Client{Timeout: 10 * time.Second}

// call sends one request and returns the answer and its body.
func call(t testing.TB, method, url, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost || body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, b
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// errorCode decodes an error body's code, failing if it is not one.
func errorCode(t testing.TB, body []byte) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Code == "" || e.Message == "" {
		t.Fatalf("not an error body: %q (%v)", body, err)
	}
	return e.Code
}

func TestVerifyCard(t *testing.T) {
	cfg := fastConfig()
	s := startServer(t, cfg)
	id := synth.NewIdentity(42, 1, time.Now())
	card := func(mod func(*verifyRequest)) string {
		req := verifyRequest{PAN: id.PAN, Expiry: id.Expiry, CVV: id.CVV, Holder: id.Name + " " + id.Surname}
		if mod != nil {
			mod(&req)
		}
		return mustJSON(t, req)
	}
	badLuhn := id.PAN[:15] + string(rune('0'+(id.PAN[15]-'0'+1)%10))
	mastercard := synth.PAN(synth.Rand(1, 2), "52")
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string // error code, or the circuit for a 200
	}{
		{"valid card", "POST", "/processors/nexi/cards/verify", card(nil), 200, "VISA"},
		{"mastercard", "POST", "/processors/sia/cards/verify", card(func(r *verifyRequest) { r.PAN = mastercard }), 200, "MASTERCARD"},
		{"bad Luhn digit", "POST", "/processors/nexi/cards/verify", card(func(r *verifyRequest) { r.PAN = badLuhn }), 422, "CARD_DECLINED"},
		{"expired", "POST", "/processors/nexi/cards/verify", card(func(r *verifyRequest) { r.Expiry = "01/20" }), 422, "CARD_DECLINED"},
		{"expiry not MM/YY", "POST", "/processors/nexi/cards/verify", card(func(r *verifyRequest) { r.Expiry = "2030-01" }), 400, "BAD_REQUEST"},
		{"letters in the PAN", "POST", "/processors/nexi/cards/verify", card(func(r *verifyRequest) { r.PAN = "4111x11111111111" }), 400, "BAD_REQUEST"},
		{"no holder", "POST", "/processors/nexi/cards/verify", card(func(r *verifyRequest) { r.Holder = "" }), 400, "BAD_REQUEST"},
		{"malformed JSON", "POST", "/processors/nexi/cards/verify", `{"pan": "4111`, 400, "BAD_REQUEST"},
		{"wrong JSON type", "POST", "/processors/nexi/cards/verify", `{"pan": 4111111111111111}`, 400, "BAD_REQUEST"},
		{"empty body", "POST", "/processors/nexi/cards/verify", "", 400, "BAD_REQUEST"},
		{"unknown field", "POST", "/processors/nexi/cards/verify", `{"pan":"4111111111111111","expiry":"12/30","cvv":"123","holder":"A B","pin":"1234"}`, 400, "BAD_REQUEST"},
		{"two objects", "POST", "/processors/nexi/cards/verify", card(nil) + card(nil), 400, "BAD_REQUEST"},
		{"too large", "POST", "/processors/nexi/cards/verify", `{"holder":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, "BODY_TOO_LARGE"},
		{"wrong method", "GET", "/processors/nexi/cards/verify", "", 405, "METHOD_NOT_ALLOWED"},
		{"unknown processor", "POST", "/processors/visa/cards/verify", card(nil), 404, "UNKNOWN_PROCESSOR"},
		{"unknown endpoint", "GET", "/processors/nexi/loans", "", 404, "NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, tt.method, s.URL+tt.path, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.status != 200 {
				if code := errorCode(t, body); code != tt.code {
					t.Fatalf("code %s, want %s", code, tt.code)
				}
				return
			}
			var got struct{ HPAN, Circuit, Last4, Expiry string }
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			var sent verifyRequest
			_ = json.Unmarshal([]byte(tt.body), &sent)
			if got.HPAN == synth.HPAN(sent.PAN, "") || hpanSalt(cfg.Seed) == hpanSalt(cfg.Seed+1) {
				t.Fatalf("hpan %s is the unsalted hash of the PAN, or the salt ignores the seed", got.HPAN)
			}
			if got.HPAN != synth.HPAN(sent.PAN, hpanSalt(cfg.Seed)) || got.Circuit != tt.code || got.Last4 != sent.PAN[12:] || got.Expiry != sent.Expiry {
				t.Fatalf("answer %+v for %+v", got, sent)
			}
			if st := resp.Header.Get("X-Station"); st != strings.Split(tt.path, "/")[2] {
				t.Fatalf("X-Station %q", st)
			}
		})
	}
	if got := s.Station("nexi").Stats().Requests; got["ok"] != 1 || got["declined"] != 2 || got["bad_request"] != 9 { // the 7 malformed, the unknown field, the two objects
		t.Fatalf("nexi counted %v", got)
	}
}

// The API's bodies are JSON: another Content-Type, or none, is refused
// before the body is read, on every endpoint that takes one.
func TestRequestsNeedJSONContentType(t *testing.T) {
	s := startServer(t, fastConfig())
	for _, path := range []string{"/processors/nexi/cards/verify", "/processors/sia/cobadge/searches", "/iban/validate"} {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/jsonx"} {
			req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			resp, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(string(b), "UNSUPPORTED_MEDIA_TYPE") {
				t.Errorf("%s with Content-Type %q: %d %s", path, ct, resp.StatusCode, b)
			}
		}
	}
}

func TestBancomatCardsAreDeterministic(t *testing.T) {
	const seed = 99
	found, holders := 0, map[string]int{}
	for i := uint64(0); i < 3000; i++ {
		id := synth.NewIdentity(1, i, time.Now())
		var all []Card
		for _, p := range ProcessorNames() {
			cards := BancomatCards(seed, p, id.Bank.ABI, id.FiscalCode)
			if len(cards) > 0 {
				holders[p]++
			}
			all = append(all, cards...)
		}
		if len(all) > 0 {
			found++
		}
		for _, c := range all {
			if len(c.HPAN) != 64 || len(c.Last4) != 4 || c.ABI != id.Bank.ABI || c.Product != "PAGOBANCOMAT" {
				t.Fatalf("card %+v", c)
			}
			if _, err := synth.ExpiredAt(c.Expiry, time.Now()); err != nil {
				t.Fatalf("expiry: %v", err)
			}
		}
	}
	if share := float64(found) / 3000; share < 0.87 || share > 0.93 {
		t.Errorf("%.3f of citizens have a PagoBancomat card, want 0.9", share)
	}
	for _, p := range ProcessorNames() {
		if share := float64(holders[p]) / float64(found); share < 0.28 || share > 0.38 {
			t.Errorf("%s holds %.3f of the cards, want a third", p, share)
		}
	}
}

func TestBancomatSearch(t *testing.T) {
	cfg := fastConfig()
	s := startServer(t, cfg)
	for i := uint64(0); i < 20; i++ {
		id := synth.NewIdentity(7, i, time.Now())
		t.Run(id.FiscalCode, func(t *testing.T) {
			total := 0
			for _, p := range ProcessorNames() {
				q := url.Values{"abi": {id.Bank.ABI}, "fiscalCode": {id.FiscalCode}}
				u := s.URL + "/processors/" + p + "/bancomat/cards?" + q.Encode()
				resp, body := call(t, "GET", u, "")
				if resp.StatusCode != 200 {
					t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
				}
				var got cardList
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatal(err)
				}
				want := BancomatCards(cfg.Seed, p, id.Bank.ABI, id.FiscalCode)
				if mustJSON(t, got.Cards) != mustJSON(t, want) {
					t.Fatalf("%s answered %s, want %s", p, mustJSON(t, got.Cards), mustJSON(t, want))
				}
				if _, again := call(t, "GET", u, ""); !bytes.Equal(again, body) {
					t.Fatalf("%s answered differently the second time", p)
				}
				total += len(got.Cards)
			}
			if total > 2 {
				t.Fatalf("%d cards across processors, want at most 2", total)
			}
		})
	}
	t.Run("bad requests", func(t *testing.T) {
		for _, q := range []string{"abi=123&fiscalCode=RSSMRA85T10A562S", "abi=03069", "abi=03069&fiscalCode=rssmra85t10a562s"} {
			resp, body := call(t, "GET", s.URL+"/processors/sia/bancomat/cards?"+q, "")
			if resp.StatusCode != 400 || errorCode(t, body) != "BAD_REQUEST" {
				t.Fatalf("%s: %d %s", q, resp.StatusCode, body)
			}
		}
	})
	t.Run("bank not in the file", func(t *testing.T) {
		resp, body := call(t, "GET", s.URL+"/processors/sia/bancomat/cards?abi=99999&fiscalCode=RSSMRA85T10A562S", "")
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"cards":[]}` {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
}

func TestCobadgeSearch(t *testing.T) {
	cfg := fastConfig()
	s := startServer(t, cfg)
	// Find a citizen with co-badge cards, to see them come back.
	var id synth.Identity
	var home string
	for i := uint64(0); home == ""; i++ {
		id = synth.NewIdentity(3, i, time.Now())
		for _, p := range ProcessorNames() {
			if len(CobadgeCards(cfg.Seed, p, id.Bank.ABI, id.FiscalCode)) > 0 {
				home = p
			}
		}
	}
	start := func(p string) string {
		resp, body := call(t, "POST", s.URL+"/processors/"+p+"/cobadge/searches", mustJSON(t, searchRequest{id.FiscalCode, id.Bank.ABI}))
		if resp.StatusCode != 202 {
			t.Fatalf("start: %d %s", resp.StatusCode, body)
		}
		var got struct{ SearchID string }
		if err := json.Unmarshal(body, &got); err != nil || got.SearchID == "" {
			t.Fatalf("start: %s", body)
		}
		return got.SearchID
	}
	poll := func(p, id string) (int, cardList) {
		resp, body := call(t, "GET", s.URL+"/processors/"+p+"/cobadge/searches/"+id, "")
		var got cardList
		if resp.StatusCode == 200 {
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, got
	}

	t.Run("pending until its time", func(t *testing.T) {
		pc := s.processors[home]
		pc.pending.Store(int64(time.Hour))
		defer pc.pending.Store(0)
		if status, got := poll(home, start(home)); status != 200 || got.Status != "PENDING" || got.Cards != nil {
			t.Fatalf("%d %+v", status, got)
		}
	})
	t.Run("completed with the cards", func(t *testing.T) {
		for _, p := range ProcessorNames() {
			status, got := poll(p, start(p))
			want := CobadgeCards(cfg.Seed, p, id.Bank.ABI, id.FiscalCode)
			if status != 200 || got.Status != "COMPLETED" || mustJSON(t, got.Cards) != mustJSON(t, want) {
				t.Fatalf("%s: %d %+v, want %+v", p, status, got, want)
			}
			if p == home && (len(got.Cards) == 0 || got.Cards[0].Circuit == "" || got.Cards[0].Product != "COBADGE") {
				t.Fatalf("home processor %s answered %+v", p, got.Cards)
			}
		}
	})
	t.Run("unknown searches", func(t *testing.T) {
		good := start("nexi")
		for name, bad := range map[string]string{
			"garbage":              "nope",
			"another processor's":  good + "",
			"tampered":             good[:len(good)-1] + "0",
			"forged citizen":       strings.Replace(good, id.FiscalCode, "RSSMRA85T10A562S", 1),
			"extra dashes":         good + "-x",
			"empty-looking fields": "----",
		} {
			p := "nexi"
			if name == "another processor's" {
				p = "sia"
			}
			if name == "tampered" && strings.HasSuffix(good, "0") {
				bad = good[:len(good)-1] + "1"
			}
			resp, body := call(t, "GET", s.URL+"/processors/"+p+"/cobadge/searches/"+url.PathEscape(bad), "")
			if resp.StatusCode != 404 || errorCode(t, body) != "SEARCH_NOT_FOUND" {
				t.Errorf("%s: %d %s", name, resp.StatusCode, body)
			}
		}
	})
	t.Run("bad start", func(t *testing.T) {
		resp, body := call(t, "POST", s.URL+"/processors/nexi/cobadge/searches", `{"abi":"03069"}`)
		if resp.StatusCode != 400 || errorCode(t, body) != "BAD_REQUEST" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
}

func TestIBANValidation(t *testing.T) {
	cfg := fastConfig()
	cfg.IBAN.BankTimeout = 100 * time.Millisecond
	s := startServer(t, cfg)
	id := synth.NewIdentity(5, 5, time.Now())
	other := synth.IBAN(synth.Rand(1, 1), "99999")
	wrongDigits := id.IBAN[:2] + map[bool]string{true: "00", false: "01"}[id.IBAN[2:4] != "00"] + id.IBAN[4:]
	check := func(iban string) (int, []byte) {
		resp, body := call(t, "POST", s.URL+"/iban/validate", mustJSON(t, ibanRequest{IBAN: iban, FiscalCode: id.FiscalCode}))
		if resp.Header.Get("X-Station") != "iban" {
			t.Errorf("X-Station %q", resp.Header.Get("X-Station"))
		}
		return resp.StatusCode, body
	}
	tests := []struct {
		name   string
		iban   string
		setup  []FaultSpec // faults at the citizen's bank
		status int
		want   string // status field, or error code
	}{
		{"valid IBAN at a known bank", id.IBAN, nil, 200, "OK"},
		{"wrong check digits", wrongDigits, nil, 200, "KO"},
		{"not an IBAN", "hello", nil, 200, "KO"},
		{"bank not in the file", other, nil, 501, "UNKNOWN_PSP"},
		{"bank down", id.IBAN, []FaultSpec{{Type: "outage", Probability: 1}}, 502, "BANK_TIMEOUT"},
		{"bank errors", id.IBAN, []FaultSpec{{Type: "error", Probability: 1, Status: 500}}, 502, "BANK_TIMEOUT"},
		{"bank hangs past the timeout", id.IBAN, []FaultSpec{{Type: "hang", Probability: 1}}, 502, "BANK_TIMEOUT"},
	}
	bank := s.Station(id.Bank.ABI)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := bank.Config()
			sc.Faults = tt.setup
			if err := bank.SetConfig(sc); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			status, body := check(tt.iban)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if status == 200 {
				var got ibanStatus
				if err := json.Unmarshal(body, &got); err != nil || got.Status != tt.want {
					t.Fatalf("answer %s, want %s", body, tt.want)
				}
			} else if code := errorCode(t, body); code != tt.want {
				t.Fatalf("code %s, want %s", code, tt.want)
			}
			if tt.name == "bank hangs past the timeout" && time.Since(start) < cfg.IBAN.BankTimeout {
				t.Fatalf("answered after %v, before the bank timeout", time.Since(start))
			}
		})
	}
	t.Run("bad requests", func(t *testing.T) {
		for _, body := range []string{`{"iban":"` + id.IBAN + `"}`, `{"fiscalCode":"` + id.FiscalCode + `"}`, `[]`, `{"iban":1}`} {
			resp, b := call(t, "POST", s.URL+"/iban/validate", body)
			if resp.StatusCode != 400 || errorCode(t, b) != "BAD_REQUEST" {
				t.Fatalf("%s: %d %s", body, resp.StatusCode, b)
			}
		}
	})
	got := s.Station("iban").Stats().Requests
	if got["ok"] != 1 || got["declined"] != 3 || got["bank_timeout"] != 3 || got["bad_request"] != 4 {
		t.Fatalf("iban counted %v", got)
	}
	if got := bank.Stats().Requests; got["outage"] != 1 || got["fault"] != 2 {
		t.Fatalf("bank counted %v", got)
	}
}

// fuzzEndpoints are the API calls FuzzRequestDecoding aims at.
var fuzzEndpoints = []struct{ method, path string }{
	{"POST", "/processors/nexi/cards/verify"},
	{"GET", "/processors/iccrea/bancomat/cards"},
	{"POST", "/processors/sia/cobadge/searches"},
	{"GET", "/processors/sia/cobadge/searches/"},
	{"POST", "/iban/validate"},
	{"PUT", "/processors/nexi/cards/verify"},
}

// FuzzRequestDecoding sends arbitrary bodies, queries and ids to every
// endpoint: each answer must be a status of API.md with a JSON body, and
// nothing may panic.
func FuzzRequestDecoding(f *testing.F) {
	s, err := newServer(fastConfig())
	if err != nil {
		f.Fatal(err)
	}
	h := s.handler(true, true)
	id := synth.NewIdentity(1, 1, time.Now())
	f.Add(uint8(0), "", []byte(mustJSON(f, verifyRequest{PAN: id.PAN, Expiry: id.Expiry, CVV: id.CVV, Holder: "A B"})))
	f.Add(uint8(1), "abi="+id.Bank.ABI+"&fiscalCode="+id.FiscalCode, []byte(nil))
	f.Add(uint8(2), "", []byte(mustJSON(f, searchRequest{id.FiscalCode, id.Bank.ABI})))
	f.Add(uint8(3), "03069-RSSMRA85T10A562S-kj3h4-0123456789ab", []byte(nil))
	f.Add(uint8(4), "", []byte(mustJSON(f, ibanRequest{id.IBAN, id.FiscalCode})))
	f.Add(uint8(0), "", []byte(`{"pan":null,"expiry":"\u0000"}`))
	f.Add(uint8(4), "", []byte(`{"iban":"IT`+strings.Repeat("9", 40)+`"}`))
	allowed := map[int]bool{200: true, 202: true, 400: true, 404: true, 405: true, 413: true, 422: true, 501: true, 502: true}
	f.Fuzz(func(t *testing.T, which uint8, param string, body []byte) {
		ep := fuzzEndpoints[int(which)%len(fuzzEndpoints)]
		target := ep.path
		if ep.method == "GET" && strings.HasSuffix(target, "/") {
			target += url.PathEscape(param)
		} else if ep.method == "GET" {
			target += "?" + param
		}
		req, err := http.NewRequestWithContext(context.Background(), ep.method, "http://bank.test"+target, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if (rec.Code == 301 || rec.Code == 307 || rec.Code == 308) && rec.Header().Get("Location") != "" {
			return // net/http cleaning a path with "." or "//" in it
		}
		if !allowed[rec.Code] {
			t.Fatalf("%s %s answered %d", ep.method, target, rec.Code)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s answered %d with a body that is not JSON: %q", ep.method, target, rec.Code, rec.Body.String())
		}
	})
}

func TestParsersDirectly(t *testing.T) {
	tests := []struct {
		name string
		fn   func([]byte) error
		body string
		ok   bool
	}{
		{"verify", func(b []byte) error { _, err := parseVerify(b); return err }, `{"pan":"4111111111111111","expiry":"12/30","cvv":"123","holder":"A"}`, true},
		{"verify with bad Luhn is not malformed", func(b []byte) error { _, err := parseVerify(b); return err }, `{"pan":"4111111111111112","expiry":"12/30","cvv":"123","holder":"A"}`, true},
		{"verify with trailing data", func(b []byte) error { _, err := parseVerify(b); return err }, `{"pan":"4111111111111111","expiry":"12/30","cvv":"123","holder":"A"} {}`, false},
		{"verify with a 5-digit cvv", func(b []byte) error { _, err := parseVerify(b); return err }, `{"pan":"4111111111111111","expiry":"12/30","cvv":"12345","holder":"A"}`, false},
		{"search", func(b []byte) error { _, err := parseSearch(b); return err }, `{"fiscalCode":"RSSMRA85T10A562S","abi":"03069"}`, true},
		{"search with lower case", func(b []byte) error { _, err := parseSearch(b); return err }, `{"fiscalCode":"rssmra85t10a562s","abi":"03069"}`, false},
		{"iban", func(b []byte) error { _, err := parseIBANCheck(b); return err }, `{"iban":"IT60X0542811101000000123456","fiscalCode":"RSSMRA85T10A562S"}`, true},
		{"iban null", func(b []byte) error { _, err := parseIBANCheck(b); return err }, `null`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.fn([]byte(tt.body)); (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
