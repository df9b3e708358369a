package bank

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// BenchmarkStationVisit is a request's passage through a station with a
// free slot and no service time: the queue logic's share of the hot path.
func BenchmarkStationVisit(b *testing.B) {
	st, err := newStation("bench", KindProcessor, StationConfig{Servers: 64, Queue: 64, Service: ConstantService(0)}, 1, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var v visit
		if err := st.arrive(ctx, &v); err != nil {
			b.Fatal(err)
		}
		_ = v.serve(ctx)
		v.leave(OutcomeOK)
	}
}

// benchHandler is the mock's whole HTTP handler with no service time.
func benchHandler(b *testing.B) http.Handler {
	s, err := newServer(fastConfig())
	if err != nil {
		b.Fatal(err)
	}
	return s.handler(true, true)
}

// BenchmarkBancomatSearch is the handler of the endpoint wrk drives: a
// PagoBancomat search, decoded, queued, answered.
func BenchmarkBancomatSearch(b *testing.B) {
	h := benchHandler(b)
	id := synth.NewIdentity(1, 3, time.Now())
	req := httptest.NewRequest("GET", "/processors/nexi/bancomat/cards?abi="+id.Bank.ABI+"&fiscalCode="+id.FiscalCode, nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}

// BenchmarkVerifyCard is the card verification handler, body included.
func BenchmarkVerifyCard(b *testing.B) {
	h := benchHandler(b)
	id := synth.NewIdentity(1, 4, time.Now())
	body := []byte(mustJSON(b, verifyRequest{PAN: id.PAN, Expiry: id.Expiry, CVV: id.CVV, Holder: "A B"}))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/processors/nexi/cards/verify", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}

// BenchmarkIBANCheck is the IBAN check: two stations, the service's and
// the bank's.
func BenchmarkIBANCheck(b *testing.B) {
	h := benchHandler(b)
	id := synth.NewIdentity(1, 5, time.Now())
	body := []byte(mustJSON(b, ibanRequest{IBAN: id.IBAN, FiscalCode: id.FiscalCode}))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/iban/validate", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}

func BenchmarkBancomatCards(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		BancomatCards(1, "nexi", "03069", "RSSMRA85T10A562S")
	}
}
