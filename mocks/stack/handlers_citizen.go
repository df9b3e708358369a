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
	messageTemporary   = "Si è verificato un errore temporaneo, riprova più tardi"
	messageIBANFailed  = "Non è stato possibile verificare l'IBAN, riprova più tardi"
	messageNotEnrolled = "Non risulti iscritto al programma Cashback"
	maxHolderLen       = 140 // characters, not bytes: "Nicolò" is six
)

type sessionRequest struct {
	FiscalCode string `json:"fiscalCode"`
}

type sessionResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// login stands in for the national digital identity login: it mints a token
// for any well-formed fiscal code.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req sessionRequest
	if e := decodeBody(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if err := synth.ValidFiscalCode(req.FiscalCode); err != nil {
		writeError(w, badRequest("INVALID_FISCAL_CODE", err.Error()))
		return
	}
	token, exp := s.tokens.mint(req.FiscalCode)
	writeJSON(w, http.StatusCreated, sessionResponse{Token: token, ExpiresAt: exp})
}

type citizenResponse struct {
	FiscalCode      string    `json:"fiscalCode"`
	Enabled         bool      `json:"enabled"`
	TermsAcceptedAt time.Time `json:"termsAcceptedAt"`
	IBAN            string    `json:"iban,omitempty"`
	IBANStatus      string    `json:"ibanStatus,omitempty"`
}

func citizenJSON(c Citizen) citizenResponse {
	return citizenResponse{FiscalCode: c.FiscalCode, Enabled: true, TermsAcceptedAt: c.TermsAcceptedAt,
		IBAN: c.IBAN, IBANStatus: c.IBANStatus}
}

type enrollRequest struct {
	AcceptTerms bool `json:"acceptTerms"`
}

// enroll records that the citizen accepted the terms; repeating it keeps the
// first acceptance time.
func (s *Server) enroll(w http.ResponseWriter, r *http.Request, fc string) {
	var req enrollRequest
	if e := decodeBody(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if !req.AcceptTerms {
		writeError(w, badRequest("TERMS_REQUIRED", "acceptTerms must be true to enroll"))
		return
	}
	ctx, cancel := s.dbContext(r)
	defer cancel()
	c, err := s.store.EnrollCitizen(ctx, fc, s.cfg.Now())
	if err != nil {
		s.storeFailure(w, r, err, "TEMPORARY_ERROR", messageTemporary)
		return
	}
	writeJSON(w, http.StatusOK, citizenJSON(c))
}

func (s *Server) getCitizen(w http.ResponseWriter, r *http.Request, fc string) {
	ctx, cancel := s.dbContext(r)
	defer cancel()
	c, err := s.store.Citizen(ctx, fc)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, &apiError{status: http.StatusNotFound, code: "CITIZEN_NOT_FOUND", message: messageNotEnrolled})
	case err != nil:
		s.storeFailure(w, r, err, "TEMPORARY_ERROR", messageTemporary)
	default:
		writeJSON(w, http.StatusOK, citizenJSON(c))
	}
}

type ibanRequest struct {
	IBAN   string `json:"iban"`
	Holder string `json:"holder"`
}

type ibanResponse struct {
	IBAN       string `json:"iban"`
	IBANStatus string `json:"ibanStatus"`
}

// IBAN verdicts, as the bank IBAN service gives them.
const (
	ibanOK         = "OK"
	ibanKO         = "KO"
	ibanUnknownPSP = "UNKNOWN_PSP"
)

// setIBAN checks the IBAN locally, then with the bank IBAN service, and
// stores it with the service's verdict.
func (s *Server) setIBAN(w http.ResponseWriter, r *http.Request, fc string) {
	var req ibanRequest
	if e := decodeBody(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	iban := strings.ToUpper(strings.ReplaceAll(req.IBAN, " ", ""))
	if err := synth.ValidIBAN(iban); err != nil {
		writeError(w, badRequest("INVALID_IBAN", err.Error()))
		return
	}
	holder := strings.TrimSpace(req.Holder)
	if holder == "" || utf8.RuneCountInString(holder) > maxHolderLen {
		writeError(w, badRequest("INVALID_HOLDER", "holder must be 1 to 140 characters"))
		return
	}
	ctx, cancel := s.dbContext(r)
	_, err := s.store.Citizen(ctx, fc)
	cancel()
	if errors.Is(err, ErrNotFound) {
		writeError(w, &apiError{status: http.StatusNotFound, code: "CITIZEN_NOT_FOUND", message: messageNotEnrolled})
		return
	}
	if err != nil {
		s.storeFailure(w, r, err, "TEMPORARY_ERROR", messageTemporary)
		return
	}
	status, uerr := s.checkIBAN(r, iban, fc)
	if uerr != nil {
		writeError(w, &apiError{status: uerr.httpStatus(), code: "IBAN_CHECK_FAILED", message: messageIBANFailed,
			upstream: upstreamIBAN, retryAfter: uerr.retryAfter})
		return
	}
	ctx, cancel = s.dbContext(r)
	defer cancel()
	c, err := s.store.SetIBAN(ctx, fc, iban, holder, status)
	if err != nil {
		s.storeFailure(w, r, err, "TEMPORARY_ERROR", messageTemporary)
		return
	}
	writeJSON(w, http.StatusOK, ibanResponse{IBAN: c.IBAN, IBANStatus: c.IBANStatus})
}

// checkIBAN asks the bank IBAN service for its verdict: OK or KO, or
// UNKNOWN_PSP when the bank is unknown (501) or its own station timed out
// (502 BANK_TIMEOUT). Failing to get a verdict at all is an error.
func (s *Server) checkIBAN(r *http.Request, iban, fc string) (string, *upstreamError) {
	var out struct {
		Status string `json:"status"`
	}
	a, err := s.banks.call(r.Context(), upstreamIBAN, http.MethodPost, "/iban/validate",
		map[string]string{"iban": iban, "fiscalCode": fc},
		func(a answer) bool {
			return a.status == http.StatusOK || a.status == http.StatusNotImplemented ||
				a.status == http.StatusBadGateway && a.code == "BANK_TIMEOUT"
		}, &out)
	if err != nil {
		return "", asUpstream(upstreamIBAN, err)
	}
	switch {
	case a.status == http.StatusNotImplemented, a.status == http.StatusBadGateway:
		return ibanUnknownPSP, nil
	case a.status == http.StatusOK && (out.Status == ibanOK || out.Status == ibanKO):
		return out.Status, nil
	default:
		return "", &upstreamError{station: upstreamIBAN, kind: failBadAnswer, status: a.status, code: a.code}
	}
}

// asUpstream returns err as an *upstreamError, wrapping any other error (a
// request the stack could not even encode) as a bad answer of station.
func asUpstream(station string, err error) *upstreamError {
	var ue *upstreamError
	if errors.As(err, &ue) {
		return ue
	}
	return &upstreamError{station: station, kind: failBadAnswer, err: err}
}
