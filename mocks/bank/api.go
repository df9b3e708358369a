package bank

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// MaxBodyBytes is the largest request body the mock reads; a larger one
// gets 413.
const MaxBodyBytes = 64 << 10

// errorBody is every error answer's JSON.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// requestError is a request the mock refuses before it reaches a station:
// 400 (malformed) or 413 (too large).
type requestError struct {
	status int
	code   string
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, code: "BAD_REQUEST", msg: fmt.Sprintf(format, args...)}
}

// decodeJSON decodes one JSON object body into v. Unknown fields and
// anything after the object are refused, as the reference stack refuses
// them: a client sending what the API does not define is told so.
func decodeJSON(body []byte, v any) error {
	if len(body) == 0 {
		return badRequest("empty body: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed JSON: %v", err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return badRequest("the body must hold exactly one JSON object")
	}
	return nil
}

// verifyRequest asks a processor to verify a credit card.
type verifyRequest struct {
	PAN    string `json:"pan"`
	Expiry string `json:"expiry"` // MM/YY
	CVV    string `json:"cvv"`
	Holder string `json:"holder"`
}

// parseVerify decodes and checks a card verification body. A PAN with a
// bad Luhn digit is not malformed: the processor declines it.
func parseVerify(body []byte) (verifyRequest, error) {
	var req verifyRequest
	if err := decodeJSON(body, &req); err != nil {
		return req, err
	}
	if n := len(req.PAN); n < 12 || n > 19 || !isDigits(req.PAN, n) {
		return req, badRequest("pan: want 12 to 19 digits")
	}
	if _, err := synth.ExpiredAt(req.Expiry, time.Time{}); err != nil {
		return req, badRequest("expiry: %v", err)
	}
	if n := len(req.CVV); (n != 3 && n != 4) || !isDigits(req.CVV, n) {
		return req, badRequest("cvv: want 3 or 4 digits")
	}
	if req.Holder == "" || len(req.Holder) > 200 {
		return req, badRequest("holder: want a name of 1 to 200 bytes")
	}
	return req, nil
}

// searchRequest looks for a citizen's cards at one bank.
type searchRequest struct {
	FiscalCode string `json:"fiscalCode"`
	ABI        string `json:"abi"`
}

func (req searchRequest) check() error {
	if !validFiscalShape(req.FiscalCode) {
		return badRequest("fiscalCode: want 16 upper-case letters and digits")
	}
	if !isDigits(req.ABI, 5) {
		return badRequest("abi: want a 5-digit ABI code")
	}
	return nil
}

// parseSearch decodes a co-badge search body.
func parseSearch(body []byte) (searchRequest, error) {
	var req searchRequest
	if err := decodeJSON(body, &req); err != nil {
		return req, err
	}
	return req, req.check()
}

// parseBancomatQuery reads a PagoBancomat search's query string.
func parseBancomatQuery(q url.Values) (searchRequest, error) {
	req := searchRequest{FiscalCode: q.Get("fiscalCode"), ABI: q.Get("abi")}
	return req, req.check()
}

// ibanRequest asks the IBAN service whether an account is the citizen's.
type ibanRequest struct {
	IBAN       string `json:"iban"`
	FiscalCode string `json:"fiscalCode"`
}

// parseIBANCheck decodes an IBAN check body. A wrong IBAN is not malformed:
// the service answers KO.
func parseIBANCheck(body []byte) (ibanRequest, error) {
	var req ibanRequest
	if err := decodeJSON(body, &req); err != nil {
		return req, err
	}
	if req.IBAN == "" || len(req.IBAN) > 64 {
		return req, badRequest("iban: want an IBAN")
	}
	if !validFiscalShape(req.FiscalCode) {
		return req, badRequest("fiscalCode: want 16 upper-case letters and digits")
	}
	return req, nil
}

// answer is what a station answers once it has served a request.
type answer struct {
	status  int
	body    []byte
	outcome Outcome
}

func jsonAnswer(status int, v any, o Outcome) answer {
	body, err := json.Marshal(v)
	if err != nil {
		// Only the mock's own string-only types get here, which always
		// encode; should one not, answer a well-formed error all the same.
		return answer{status: http.StatusInternalServerError, outcome: OutcomeFault,
			body: []byte(`{"code":"INTERNAL_ERROR","message":"encoding the answer failed"}` + "\n")}
	}
	return answer{status: status, body: append(body, '\n'), outcome: o}
}

func errorAnswer(status int, code, msg string, o Outcome) answer {
	return jsonAnswer(status, errorBody{Code: code, Message: msg}, o)
}

var jsonContentType = []string{"application/json"}

func writeJSON(w http.ResponseWriter, status int, v any) {
	a := jsonAnswer(status, v, OutcomeOK)
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(a.body))}
	w.WriteHeader(status)
	_, _ = w.Write(a.body)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Code: code, Message: msg})
}

// routes registers the bank API on mux.
func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("/processors/{processor}/cards/verify", s.verifyCard)
	mux.HandleFunc("/processors/{processor}/bancomat/cards", s.searchBancomat)
	mux.HandleFunc("/processors/{processor}/cobadge/searches", s.startCobadge)
	mux.HandleFunc("/processors/{processor}/cobadge/searches/{id}", s.pollCobadge)
	mux.HandleFunc("/iban/validate", s.validateIBAN)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint: "+r.URL.Path)
	})
}

// allow checks the method, answering 405 when it is not the one wanted.
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("Allow", method)
	writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method+" is not allowed here; use "+method)
	return false
}

// processorFor finds the processor named in the path, answering 404 when
// there is none.
func (s *Server) processorFor(w http.ResponseWriter, r *http.Request, method string) (*processor, bool) {
	p := s.processors[r.PathValue("processor")]
	if p == nil {
		writeError(w, http.StatusNotFound, "UNKNOWN_PROCESSOR", "no processor "+strconv.Quote(r.PathValue("processor"))+"; want iccrea, nexi or sia")
		return nil, false
	}
	w.Header()["X-Station"] = p.st.header
	return p, allow(w, r, method)
}

// readJSONBody is readBody for the API, whose bodies are JSON: another
// Content-Type is 415 UNSUPPORTED_MEDIA_TYPE before the body is read.
func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, &requestError{status: http.StatusUnsupportedMediaType, code: "UNSUPPORTED_MEDIA_TYPE",
			msg: "Content-Type must be application/json"}
	}
	return readBody(w, r)
}

// readBody reads a request body of at most MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &requestError{status: http.StatusRequestEntityTooLarge, code: "BODY_TOO_LARGE",
			msg: fmt.Sprintf("body over %d bytes", MaxBodyBytes)}
	case err != nil:
		return nil, badRequest("reading body: %v", err)
	}
	return body, nil
}

// refuseRequest answers a request that never reached st.
func refuseRequest(w http.ResponseWriter, st *Station, err error) {
	st.count(OutcomeBadRequest)
	var re *requestError
	if !errors.As(err, &re) {
		re = &requestError{status: http.StatusBadRequest, code: "BAD_REQUEST", msg: err.Error()}
	}
	writeError(w, re.status, re.code, re.msg)
}

func (s *Server) verifyCard(w http.ResponseWriter, r *http.Request) {
	p, ok := s.processorFor(w, r, http.MethodPost)
	if !ok {
		return
	}
	body, err := readJSONBody(w, r)
	var req verifyRequest
	if err == nil {
		req, err = parseVerify(body)
	}
	if err != nil {
		refuseRequest(w, p.st, err)
		return
	}
	s.handle(w, r, p.st, func(context.Context) answer { return verifyAnswer(req, hpanSalt(s.seed), time.Now()) })
}

// verifyAnswer is a processor's verdict on a card at time now; salt hashes
// the card number.
func verifyAnswer(req verifyRequest, salt string, now time.Time) answer {
	if !synth.ValidPAN(req.PAN) {
		return errorAnswer(http.StatusUnprocessableEntity, "CARD_DECLINED", "the card number's check digit is wrong", OutcomeDeclined)
	}
	if expired, _ := synth.ExpiredAt(req.Expiry, now); expired {
		return errorAnswer(http.StatusUnprocessableEntity, "CARD_DECLINED", "the card expired", OutcomeDeclined)
	}
	return jsonAnswer(http.StatusOK, struct {
		HPAN    string `json:"hpan"`
		Circuit string `json:"circuit"`
		Last4   string `json:"last4"`
		Expiry  string `json:"expiry"`
	}{synth.HPAN(req.PAN, salt), circuitOf(req.PAN), req.PAN[len(req.PAN)-4:], req.Expiry}, OutcomeOK)
}

// cardList is the JSON of a search's cards.
type cardList struct {
	Status string `json:"status,omitempty"`
	Cards  []Card `json:"cards"`
}

func (s *Server) searchBancomat(w http.ResponseWriter, r *http.Request) {
	p, ok := s.processorFor(w, r, http.MethodGet)
	if !ok {
		return
	}
	req, err := parseBancomatQuery(r.URL.Query())
	if err != nil {
		refuseRequest(w, p.st, err)
		return
	}
	s.handle(w, r, p.st, func(context.Context) answer {
		cards := []Card{}
		if s.banks[req.ABI] != nil {
			cards = BancomatCards(s.seed, p.st.name, req.ABI, req.FiscalCode)
		}
		return jsonAnswer(http.StatusOK, cardList{Cards: cards}, OutcomeOK)
	})
}

func (s *Server) startCobadge(w http.ResponseWriter, r *http.Request) {
	p, ok := s.processorFor(w, r, http.MethodPost)
	if !ok {
		return
	}
	body, err := readJSONBody(w, r)
	var req searchRequest
	if err == nil {
		req, err = parseSearch(body)
	}
	if err != nil {
		refuseRequest(w, p.st, err)
		return
	}
	s.handle(w, r, p.st, func(context.Context) answer {
		id := searchID(s.seed, p.st.name, req.ABI, req.FiscalCode, time.Now())
		return jsonAnswer(http.StatusAccepted, struct {
			SearchID string `json:"searchId"`
		}{id}, OutcomeOK)
	})
}

func (s *Server) pollCobadge(w http.ResponseWriter, r *http.Request) {
	p, ok := s.processorFor(w, r, http.MethodGet)
	if !ok {
		return
	}
	id := r.PathValue("id")
	s.handle(w, r, p.st, func(context.Context) answer {
		abi, fc, created, ok := parseSearchID(s.seed, p.st.name, id)
		if !ok {
			return errorAnswer(http.StatusNotFound, "SEARCH_NOT_FOUND", "no co-badge search "+strconv.Quote(id)+" at "+p.st.name, OutcomeDeclined)
		}
		if time.Since(created) < time.Duration(p.pending.Load()) {
			return jsonAnswer(http.StatusOK, cardList{Status: "PENDING"}, OutcomeOK)
		}
		cards := []Card{}
		if s.banks[abi] != nil {
			cards = CobadgeCards(s.seed, p.st.name, abi, fc)
		}
		return jsonAnswer(http.StatusOK, cardList{Status: "COMPLETED", Cards: cards}, OutcomeOK)
	})
}

func (s *Server) validateIBAN(w http.ResponseWriter, r *http.Request) {
	w.Header()["X-Station"] = s.iban.header
	if !allow(w, r, http.MethodPost) {
		return
	}
	body, err := readJSONBody(w, r)
	var req ibanRequest
	if err == nil {
		req, err = parseIBANCheck(body)
	}
	if err != nil {
		refuseRequest(w, s.iban, err)
		return
	}
	s.handle(w, r, s.iban, func(ctx context.Context) answer { return s.checkIBAN(ctx, req) })
}

type ibanStatus struct {
	Status string `json:"status"`
}

// checkIBAN is the IBAN service's work, done while it holds its slot: check
// the IBAN, then ask its bank.
func (s *Server) checkIBAN(ctx context.Context, req ibanRequest) answer {
	if synth.ValidIBAN(req.IBAN) != nil {
		return jsonAnswer(http.StatusOK, ibanStatus{"KO"}, OutcomeDeclined)
	}
	abi := synth.ABIOfIBAN(req.IBAN)
	b := s.banks[abi]
	if b == nil {
		return errorAnswer(http.StatusNotImplemented, "UNKNOWN_PSP", "bank "+abi+" is not known to the IBAN service", OutcomeDeclined)
	}
	if !s.askBank(ctx, b) {
		return errorAnswer(http.StatusBadGateway, "BANK_TIMEOUT", "bank "+abi+" did not answer in time", OutcomeBankTimeout)
	}
	return jsonAnswer(http.StatusOK, ibanStatus{"OK"}, OutcomeOK)
}

// askBank passes one account check through bank's station, waiting at most
// the IBAN service's bank timeout. It reports whether the bank answered.
func (s *Server) askBank(ctx context.Context, b *Station) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(s.bankTimeout.Load()))
	defer cancel()
	var v visit
	err := b.arrive(ctx, &v)
	if err == nil {
		err = v.serve(ctx)
	}
	switch {
	case err == nil && v.effect.fail.kind == failNone:
		v.leave(OutcomeOK)
		return true
	case err == nil && v.effect.fail.kind == failHang, errors.Is(err, ErrOutage) && v.effect.reject.kind == failHang:
		<-ctx.Done()
		v.leave(outcomeOf(err, OutcomeFault))
	case err == nil:
		v.leave(OutcomeFault)
	default:
		v.leave(outcomeOf(err, OutcomeCanceled))
	}
	return false
}

// outcomeOf maps a station's refusal to its outcome, or def.
func outcomeOf(err error, def Outcome) Outcome {
	switch {
	case errors.Is(err, ErrRateLimited):
		return OutcomeRateLimited
	case errors.Is(err, ErrOutage):
		return OutcomeOutage
	case errors.Is(err, ErrQueueFull):
		return OutcomeQueueFull
	case errors.Is(err, ErrQueueTimeout):
		return OutcomeQueueTimeout
	}
	return def
}

// handle passes one request through st: wait for a slot, hold it for the
// service time, then answer (or fail as the drawn faults say) and free it.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, st *Station, answer func(context.Context) answer) {
	ctx := r.Context()
	var v visit
	err := st.arrive(ctx, &v)
	if err == nil {
		err = v.serve(ctx)
	}
	if err != nil {
		v.leave(s.refuse(w, r, &v, err))
		return
	}
	if f := v.effect.fail; f.kind != failNone {
		v.leave(s.failWith(w, r, f, OutcomeFault, "injected fault"))
		return
	}
	a := answer(ctx)
	if ctx.Err() != nil {
		v.leave(s.gone(w, r))
		return
	}
	if !writeAnswer(ctx, w, a, v.effect) {
		v.leave(OutcomeCanceled)
		return
	}
	v.leave(a.outcome)
}

// refuse answers a request the station did not serve.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, v *visit, err error) Outcome {
	switch {
	case errors.Is(err, ErrRateLimited):
		secs := int((v.retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
		writeError(w, http.StatusTooManyRequests, "RATE_LIMITED", "over "+v.st.name+"'s rate limit")
		return OutcomeRateLimited
	case errors.Is(err, ErrOutage):
		return s.failWith(w, r, v.effect.reject, OutcomeOutage, v.st.name+" is down")
	case errors.Is(err, ErrQueueFull):
		if v.onFull == ResetWhenFull {
			resetConnection(w)
		} else {
			writeError(w, http.StatusServiceUnavailable, "QUEUE_FULL", v.st.name+" is saturated: every slot busy and the queue full")
		}
		return OutcomeQueueFull
	case errors.Is(err, ErrQueueTimeout):
		writeError(w, http.StatusServiceUnavailable, "QUEUE_TIMEOUT", v.st.name+" queued the request longer than its max wait")
		return OutcomeQueueTimeout
	}
	return s.gone(w, r)
}

// failWith carries out a failure and returns outcome o.
func (s *Server) failWith(w http.ResponseWriter, r *http.Request, f failure, o Outcome, msg string) Outcome {
	switch f.kind {
	case failStatus:
		writeError(w, f.status, f.code, msg)
	case failReset:
		resetConnection(w)
	case failHang:
		if s.hooks.hang != nil {
			s.hooks.hang()
		}
		<-r.Context().Done()
		s.gone(w, r)
	}
	return o
}

// gone handles a request whose context ended: the client gave up (nobody
// is left to answer) or the server is shutting down (answer 503).
func (s *Server) gone(w http.ResponseWriter, r *http.Request) Outcome {
	if errors.Is(context.Cause(r.Context()), errServerClosing) {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusServiceUnavailable, "SHUTTING_DOWN", "the bank mock is shutting down")
	}
	return OutcomeCanceled
}

// writeAnswer writes a, shaped by the drawn faults: cut in half
// (malformed) or dribbled (slow body). It reports false if the context
// ended before the whole body was written.
func writeAnswer(ctx context.Context, w http.ResponseWriter, a answer, e effect) bool {
	body := a.body
	if e.malformed {
		body = body[:len(body)/2]
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(a.status)
	if e.dribble.chunk == 0 {
		_, err := w.Write(body)
		return err == nil
	}
	rc := http.NewResponseController(w)
	t := time.NewTimer(e.dribble.interval)
	defer t.Stop()
	for {
		n := min(e.dribble.chunk, len(body))
		if _, err := w.Write(body[:n]); err != nil {
			return false
		}
		body = body[n:]
		if len(body) == 0 {
			return true
		}
		if err := rc.Flush(); err != nil {
			return false
		}
		t.Reset(e.dribble.interval)
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
}

// resetConnection drops the client's connection with a TCP reset: with
// SO_LINGER 0, close sends RST instead of FIN.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2, or already answered): net/http's own way
		// to abort the response and drop the connection.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
