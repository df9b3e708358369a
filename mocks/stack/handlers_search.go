package stack

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
)

const (
	messageCobadgeFailed = "Non siamo riusciti a recuperare le tue carte co-badge"
	messageSearchUnknown = "Ricerca non trovata"
)

func (s *Server) listBanks(w http.ResponseWriter, _ *http.Request, _ string) {
	writeRaw(w, http.StatusOK, s.banksJSON)
}

// validABI reports whether abi is a 5-digit bank code.
func validABI(abi string) bool {
	if len(abi) != 5 {
		return false
	}
	for i := 0; i < 5; i++ {
		if abi[i] < '0' || abi[i] > '9' {
			return false
		}
	}
	return true
}

func invalidABI() *apiError {
	return badRequest("INVALID_ABI", "abi must be a 5-digit bank code")
}

// foundCard is a card a processor found for the citizen.
type foundCard struct {
	HPAN      string `json:"hpan"`
	Last4     string `json:"last4"`
	Expiry    string `json:"expiry"`
	ABI       string `json:"abi"`
	Circuit   string `json:"circuit,omitempty"`
	Processor string `json:"processor"`
}

type cardsAnswer struct {
	Cards []foundCard `json:"cards"`
}

type searchResponse struct {
	Status   string             `json:"status,omitempty"`
	Cards    []foundCard        `json:"cards"`
	Messages []processorMessage `json:"messages"`
}

// collect joins the cards of the parts that succeeded, tagging each with its
// processor.
func collect(parts []part[[]foundCard]) []foundCard {
	cards := []foundCard{}
	for _, p := range parts {
		for _, c := range p.value {
			c.Processor = p.processor
			cards = append(cards, c)
		}
	}
	return cards
}

// searchBancomat finds the citizen's PagoBancomat cards at a bank by asking
// every processor.
func (s *Server) searchBancomat(w http.ResponseWriter, r *http.Request, fc string) {
	abi := r.URL.Query().Get("abi")
	if !validABI(abi) {
		writeError(w, invalidABI())
		return
	}
	path := "/bancomat/cards?" + url.Values{"abi": {abi}, "fiscalCode": {fc}}.Encode()
	parts := fanOut(r.Context(), s.naive(), processors[:], func(ctx context.Context, p string) ([]foundCard, error) {
		var out cardsAnswer
		_, err := s.banks.call(ctx, p, http.MethodGet, "/processors/"+p+path, nil, statuses(http.StatusOK), &out)
		return out.Cards, err
	})
	if e := fanOutFailure(s.naive(), parts, "BANCOMAT_SEARCH_FAILED", MessageBancomatSearchFailed); e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, searchResponse{Cards: collect(parts), Messages: messages(processors[:], parts)})
}

func (s *Server) naive() bool { return s.cfg.Profile == Naive }

type cobadgeRequest struct {
	ABI string `json:"abi"`
}

// cobadgeSearch is what a co-badge search id carries: whose search it is and
// the processors' own search ids. The id is this, sealed with the stack's
// key, so the stack keeps no state between start and poll and one citizen
// cannot read another's search.
type cobadgeSearch struct {
	FiscalCode string            `json:"f"`
	IDs        map[string]string `json:"i"`
}

const purposeCobadge = "cobadge"

func (s *Server) sealSearch(cs cobadgeSearch) string {
	b, _ := json.Marshal(cs) // a struct of strings always encodes
	return s.signer.seal(purposeCobadge, base64.RawURLEncoding.EncodeToString(b))
}

func (s *Server) openSearch(id, fc string) (cobadgeSearch, bool) {
	payload, err := s.signer.open(purposeCobadge, id)
	if err != nil {
		return cobadgeSearch{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return cobadgeSearch{}, false
	}
	var cs cobadgeSearch
	if json.Unmarshal(b, &cs) != nil || cs.FiscalCode != fc || len(cs.IDs) == 0 {
		return cobadgeSearch{}, false
	}
	return cs, true
}

// startCobadge starts a co-badge search at every processor.
func (s *Server) startCobadge(w http.ResponseWriter, r *http.Request, fc string) {
	var req cobadgeRequest
	if e := decodeBody(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if !validABI(req.ABI) {
		writeError(w, invalidABI())
		return
	}
	in := map[string]string{"fiscalCode": fc, "abi": req.ABI}
	parts := fanOut(r.Context(), s.naive(), processors[:], func(ctx context.Context, p string) (string, error) {
		var out struct {
			SearchID string `json:"searchId"`
		}
		_, err := s.banks.call(ctx, p, http.MethodPost, "/processors/"+p+"/cobadge/searches", in,
			statuses(http.StatusAccepted, http.StatusOK, http.StatusCreated), &out)
		if err == nil && out.SearchID == "" {
			err = &upstreamError{station: p, kind: failBadAnswer, status: http.StatusAccepted, code: "NO_SEARCH_ID"}
		}
		return out.SearchID, err
	})
	if e := fanOutFailure(s.naive(), parts, "COBADGE_SEARCH_FAILED", messageCobadgeFailed); e != nil {
		writeError(w, e)
		return
	}
	cs := cobadgeSearch{FiscalCode: fc, IDs: map[string]string{}}
	for _, p := range parts {
		if p.err == nil {
			cs.IDs[p.processor] = p.value
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"searchId": s.sealSearch(cs)})
}

// pollAnswer is one processor's state of a co-badge search.
type pollAnswer struct {
	Status string      `json:"status"`
	Cards  []foundCard `json:"cards"`
}

const (
	searchPending   = "PENDING"
	searchCompleted = "COMPLETED"
)

// pollCobadge asks every processor that took the search how it is going:
// PENDING while any is still searching, else COMPLETED with the cards.
func (s *Server) pollCobadge(w http.ResponseWriter, r *http.Request, fc string) {
	cs, ok := s.openSearch(r.PathValue("id"), fc)
	if !ok {
		writeError(w, &apiError{status: http.StatusNotFound, code: "SEARCH_NOT_FOUND", message: messageSearchUnknown})
		return
	}
	var names []string
	for _, p := range processors {
		if _, ok := cs.IDs[p]; ok {
			names = append(names, p)
		}
	}
	parts := fanOut(r.Context(), s.naive(), names, func(ctx context.Context, p string) (pollAnswer, error) {
		var out pollAnswer
		a, err := s.banks.call(ctx, p, http.MethodGet, "/processors/"+p+"/cobadge/searches/"+url.PathEscape(cs.IDs[p]),
			nil, statuses(http.StatusOK, http.StatusNotFound), &out)
		if err == nil && (a.status == http.StatusNotFound || (out.Status != searchPending && out.Status != searchCompleted)) {
			// The processor lost the search (restarted?) or answers nonsense.
			err = &upstreamError{station: p, kind: failBadAnswer, status: a.status, code: a.code}
		}
		return out, err
	})
	if e := fanOutFailure(s.naive(), parts, "COBADGE_SEARCH_FAILED", messageCobadgeFailed); e != nil {
		writeError(w, e)
		return
	}
	if slices.ContainsFunc(parts, func(p part[pollAnswer]) bool { return p.err == nil && p.value.Status == searchPending }) {
		writeJSON(w, http.StatusOK, map[string]string{"status": searchPending})
		return
	}
	found := make([]part[[]foundCard], 0, len(parts))
	for _, p := range parts {
		found = append(found, part[[]foundCard]{processor: p.processor, value: p.value.Cards, err: p.err})
	}
	writeJSON(w, http.StatusOK, searchResponse{Status: searchCompleted, Cards: collect(found), Messages: messages(processors[:], parts)})
}
