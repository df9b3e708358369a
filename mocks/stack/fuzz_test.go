package stack

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
