package stack

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeBody: no body panics the decoder, and every rejection is a 4xx
// with a code.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"pan":"4111111111111111","expiry":"12/30","cvv":"123","holder":"MARIO ROSSI"}`,
		`{"acceptTerms":true}`, `{"iban":"IT60X0542811101000000123456","holder":"X"}`,
		`{"fiscalCode":"RSSMRA80A01H501U"}`, `{"abi":"03069"}`,
		``, `{`, `[]`, `null`, `{"pan":1}`, `{} {}`, `{"x":1}`, "\xff\xfe", `{"pan":"\u0000"}`,
	} {
		f.Add(seed)
	}
	targets := []func() any{
		func() any { return new(addCardRequest) },
		func() any { return new(enrollRequest) },
		func() any { return new(ibanRequest) },
		func() any { return new(sessionRequest) },
		func() any { return new(cobadgeRequest) },
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, target := range targets {
			r := httptest.NewRequest("POST", "/", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			if e := decodeBody(w, r, target()); e != nil && (e.status < 400 || e.status > 499 || e.code == "") {
				t.Fatalf("decoding %q: %v, want a 4xx with a code", body, e)
			}
		}
	})
}

// FuzzAddCard sends arbitrary bodies through the whole card-add handler:
// it never panics nor answers 5xx, and only a card the stack accepts is
// stored.
func FuzzAddCard(f *testing.F) {
	e := newEnv(f, Config{})
	id, tok := e.enrolled(1)
	f.Add(`{"pan":"` + id.PAN + `","expiry":"` + id.Expiry + `","cvv":"123","holder":"X"}`)
	f.Add(`{"pan":"4111111111111111","expiry":"01/20","cvv":"123","holder":"X"}`)
	f.Add(`{"pan":"","expiry":"","cvv":"","holder":""}`)
	f.Add(`{"pan":"4111111111111111","expiry":"13/30","cvv":"12345","holder":"X"}`)
	f.Add(`not json`)
	handler := e.srv.srv.Handler
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/api/v1/wallet/cards", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusCreated, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("body %q: status %d %s", body, w.Code, w.Body)
		}
	})
}

// FuzzBearer: an Authorization header is accepted only when it carries a
// token the stack minted, after the Bearer scheme (any case), and then it
// names that token's citizen: a token cannot be forged or altered.
func FuzzBearer(f *testing.F) {
	tk := tokens{signer: signer{key: []byte("fuzz-key")}, now: func() time.Time { return launchDay }, ttl: time.Hour}
	fc := identity(1).FiscalCode
	tok, _ := tk.mint(fc)
	for _, h := range []string{"Bearer " + tok, "bearer " + tok, "BEARER  " + tok + " ", "Basic " + tok, "Bearer", "Bearer ", "",
		"Bearer " + tok[:len(tok)-1], "Bearer " + tok + "x", "Bearer x.y.z", "Bearer \x00"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{h}
		got, err := tk.bearer(r)
		if err != nil {
			return
		}
		scheme, rest, _ := strings.Cut(h, " ")
		if got != fc || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) != tok {
			t.Fatalf("Authorization %q accepted as %q: only %q after Bearer names %q", h, got, tok, fc)
		}
	})
}

// The path and query validators agree with an independent definition.
var (
	hpanRule = regexp.MustCompile(`^[0-9a-f]{64}$`)
	abiRule  = regexp.MustCompile(`^[0-9]{5}$`)
	keyRule  = regexp.MustCompile(`^[!-~]{1,255}$`)
)

// FuzzHPANParam: validHPAN agrees with the rule, and the activation
// handler answers an hpan it refuses with 400 INVALID_HPAN, never 5xx.
func FuzzHPANParam(f *testing.F) {
	e := newEnv(f, Config{})
	_, tok := e.enrolled(1)
	for _, s := range []string{strings.Repeat("a", 64), strings.Repeat("A", 64), strings.Repeat("0", 63), strings.Repeat("f", 65), "", "../x", "%00"} {
		f.Add(s)
	}
	handler := e.srv.srv.Handler
	f.Fuzz(func(t *testing.T, hpan string) {
		if got, want := validHPAN(hpan), hpanRule.MatchString(hpan); got != want {
			t.Fatalf("validHPAN(%q) = %v, the rule says %v", hpan, got, want)
		}
		r, err := http.NewRequest("PUT", "http://stack.test/api/v1/cashback/cards/"+url.PathEscape(hpan), nil)
		if err != nil {
			return
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("hpan %q: %d %s", hpan, w.Code, w.Body.String())
		}
		if !hpanRule.MatchString(hpan) && w.Code == http.StatusOK {
			t.Fatalf("hpan %q activated", hpan)
		}
	})
}

// FuzzABIQuery: validABI agrees with the rule.
func FuzzABIQuery(f *testing.F) {
	for _, s := range []string{"03069", "3069", "030690", "0306a", "", "\u0663\u0660\u0666\u0669\u0660"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, abi string) {
		if got, want := validABI(abi), abiRule.MatchString(abi); got != want {
			t.Fatalf("validABI(%q) = %v, the rule says %v", abi, got, want)
		}
	})
}

// FuzzIdempotencyKey: validIdempotencyKey agrees with API.md's rule, 1 to
// 255 printable ASCII characters.
func FuzzIdempotencyKey(f *testing.F) {
	for _, s := range []string{"key-1", "has space", "", strings.Repeat("k", 255), strings.Repeat("k", 256), "caf\u00e9", "\x7f", "~!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if got, want := validIdempotencyKey(key), keyRule.MatchString(key); got != want {
			t.Fatalf("validIdempotencyKey(%q) = %v, the rule says %v", key, got, want)
		}
	})
}
