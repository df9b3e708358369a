package stack

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stampede-load/stampede/scenarios/synth"
)

const (
	messageInvalidCard  = "I dati della carta non sono corretti"
	messageDeclined     = "La carta è stata rifiutata dal circuito"
	messageKeyReused    = "Questa richiesta è già stata usata per un'altra carta"
	messageCardNotFound = "La carta non è nel tuo portafoglio"
	messageTermsMissing = "Per attivare il Cashback devi accettare i termini e le condizioni"
	messageEnrolledElse = "La carta è già attiva per il Cashback di un altro utente"
	maxIdempotencyKey   = 255
)

type addCardRequest struct {
	PAN    string `json:"pan"`
	Expiry string `json:"expiry"`
	CVV    string `json:"cvv"`
	Holder string `json:"holder"`
}

type cardResponse struct {
	HPAN    string `json:"hpan"`
	Last4   string `json:"last4"`
	Circuit string `json:"circuit"`
	Expiry  string `json:"expiry"`
}

func cardJSON(c Card) cardResponse {
	return cardResponse{HPAN: c.HPAN, Last4: c.Last4, Circuit: c.Circuit, Expiry: c.Expiry}
}

func invalidCard(why string) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, code: "INVALID_CARD", message: messageInvalidCard + ": " + why}
}

// validateCard checks a card the way the app's form would, before any
// downstream sees it.
func validateCard(req addCardRequest, now time.Time) *apiError {
	if !synth.ValidPAN(req.PAN) {
		return invalidCard("numero non valido")
	}
	expired, err := synth.ExpiredAt(req.Expiry, now)
	if err != nil {
		return invalidCard("scadenza non nel formato MM/AA")
	}
	if expired {
		return invalidCard("carta scaduta")
	}
	if !allDigits(req.CVV) || len(req.CVV) < 3 || len(req.CVV) > 4 {
		return invalidCard("codice di sicurezza non valido")
	}
	if h := strings.TrimSpace(req.Holder); h == "" || utf8.RuneCountInString(h) > maxHolderLen {
		return invalidCard("intestatario mancante")
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validIdempotencyKey accepts 1 to 255 printable ASCII characters.
func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// addCard verifies a credit card at the card processor and puts it in the
// wallet. The PAN goes to the processor and nowhere else: the stack keeps
// its hash and last four digits. With an Idempotency-Key, a repeated request
// returns the card the first one stored without calling the processor.
func (s *Server) addCard(w http.ResponseWriter, r *http.Request, fc string) {
	var req addCardRequest
	if e := decodeBody(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	key, hasKey := "", len(r.Header.Values("Idempotency-Key")) > 0
	if hasKey {
		key = r.Header.Get("Idempotency-Key")
		if !validIdempotencyKey(key) {
			writeError(w, badRequest("INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be 1 to 255 printable ASCII characters"))
			return
		}
	}
	if e := validateCard(req, s.cfg.Now()); e != nil {
		writeError(w, e)
		return
	}
	hpan := synth.HPAN(req.PAN, s.hpanSalt)
	if hasKey {
		ctx, cancel := s.dbContext(r)
		stored, err := s.store.CardByIdempotencyKey(ctx, fc, key)
		cancel()
		switch {
		case err == nil:
			s.replayCard(w, stored, hpan)
			return
		case !errors.Is(err, ErrNotFound):
			s.storeFailure(w, r, err, "CARD_SAVE_FAILED", MessageCardSaveFailed)
			return
		}
	}
	var verified struct {
		Circuit string `json:"circuit"`
	}
	p := s.cfg.CardProcessor
	a, err := s.banks.call(r.Context(), p, http.MethodPost, "/processors/"+p+"/cards/verify",
		addCardRequest{PAN: req.PAN, Expiry: req.Expiry, CVV: req.CVV, Holder: strings.TrimSpace(req.Holder)},
		statuses(http.StatusOK, http.StatusUnprocessableEntity), &verified)
	if err != nil {
		ue := asUpstream(p, err)
		writeError(w, &apiError{status: ue.httpStatus(), code: "CARD_SAVE_FAILED", message: MessageCardSaveFailed,
			upstream: p, retryAfter: ue.retryAfter})
		return
	}
	if a.status == http.StatusUnprocessableEntity {
		writeError(w, &apiError{status: http.StatusUnprocessableEntity, code: "CARD_DECLINED", message: messageDeclined, upstream: p})
		return
	}
	card := Card{FiscalCode: fc, HPAN: hpan, Last4: req.PAN[len(req.PAN)-4:], Circuit: verified.Circuit,
		Expiry: req.Expiry, IdempotencyKey: key, CreatedAt: s.cfg.Now()}
	ctx, cancel := s.dbContext(r)
	defer cancel()
	stored, created, err := s.store.AddCard(ctx, card)
	if err != nil {
		s.storeFailure(w, r, err, "CARD_SAVE_FAILED", MessageCardSaveFailed)
		return
	}
	if !created && key != "" && stored.IdempotencyKey == key {
		s.replayCard(w, stored, hpan) // a concurrent request with the same key stored first
		return
	}
	writeJSON(w, http.StatusCreated, cardJSON(stored))
}

// saltResponse is the body of GET /api/v1/hpan-salt.
type saltResponse struct {
	Salt string `json:"salt"`
}

// publishSalt gives a signed-in client the salt hpans are computed with, as
// the operator publishes its salt to those who must address cards: with
// it, a client computes the hpan of a card it knows (synth.HPAN).
func (s *Server) publishSalt(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, saltResponse{Salt: s.hpanSalt})
}

// replayCard answers a repeated Idempotency-Key: the stored card again, or
// 409 when the key was used for another card.
func (s *Server) replayCard(w http.ResponseWriter, stored Card, hpan string) {
	if stored.HPAN != hpan {
		writeError(w, &apiError{status: http.StatusConflict, code: "IDEMPOTENCY_KEY_REUSED", message: messageKeyReused})
		return
	}
	w.Header().Set("Idempotent-Replayed", "true")
	writeJSON(w, http.StatusCreated, cardJSON(stored))
}

type walletCard struct {
	cardResponse
	ActivatedAt *time.Time `json:"activatedAt"`
}

type walletResponse struct {
	Cards []walletCard `json:"cards"`
}

func (s *Server) listWallet(w http.ResponseWriter, r *http.Request, fc string) {
	ctx, cancel := s.dbContext(r)
	defer cancel()
	cards, err := s.store.Wallet(ctx, fc)
	if err != nil {
		s.storeFailure(w, r, err, "WALLET_UNAVAILABLE", MessageWalletUnavailable)
		return
	}
	out := walletResponse{Cards: make([]walletCard, 0, len(cards))}
	for _, c := range cards {
		wc := walletCard{cardResponse: cardJSON(c.Card)}
		if !c.ActivatedAt.IsZero() {
			at := c.ActivatedAt
			wc.ActivatedAt = &at
		}
		out.Cards = append(out.Cards, wc)
	}
	writeJSON(w, http.StatusOK, out)
}

// validHPAN reports whether h is a SHA-256 in lower-case hex.
func validHPAN(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if (h[i] < '0' || h[i] > '9') && (h[i] < 'a' || h[i] > 'f') {
			return false
		}
	}
	return true
}

type activationResponse struct {
	HPAN        string    `json:"hpan"`
	ActivatedAt time.Time `json:"activatedAt"`
}

// activate makes a wallet card take part in cashback for the citizen.
func (s *Server) activate(w http.ResponseWriter, r *http.Request, fc string) {
	hpan := r.PathValue("hpan")
	if !validHPAN(hpan) {
		writeError(w, badRequest("INVALID_HPAN", "hpan must be 64 lower-case hexadecimal characters"))
		return
	}
	ctx, cancel := s.dbContext(r)
	defer cancel()
	a, err := s.store.Activate(ctx, fc, hpan, s.cfg.Now())
	switch {
	case errors.Is(err, ErrTermsNotAccepted):
		writeError(w, &apiError{status: http.StatusForbidden, code: "TERMS_NOT_ACCEPTED", message: messageTermsMissing})
	case errors.Is(err, ErrCardNotInWallet):
		writeError(w, &apiError{status: http.StatusNotFound, code: "CARD_NOT_IN_WALLET", message: messageCardNotFound})
	case errors.Is(err, ErrEnrolledElsewhere):
		writeError(w, &apiError{status: http.StatusConflict, code: "CARD_ENROLLED_ELSEWHERE", message: messageEnrolledElse})
	case err != nil:
		s.storeFailure(w, r, err, "TEMPORARY_ERROR", messageTemporary)
	default:
		writeJSON(w, http.StatusOK, activationResponse{HPAN: a.HPAN, ActivatedAt: a.ActivatedAt})
	}
}
