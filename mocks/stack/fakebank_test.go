package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// fakeBank is a small stand-in for the bank mocks of ../bank/API.md: every
// station answers at once and the same way for the same input, unless a
// test sets a fault on it.
type fakeBank struct {
	*httptest.Server

	mu      sync.Mutex
	faults  map[string]fault // by station
	calls   map[string]int   // requests by station
	polls   map[string]int   // co-badge polls by search id
	pending int              // polls answered PENDING before COMPLETED
	now     func() time.Time // for card expiry

	release chan struct{} // closed to let hanging calls answer
	arrived chan string   // the station of each call that starts hanging
}

// fault makes a station misbehave: hang until released (then answer
// normally), or answer status with code.
type fault struct {
	hang       bool
	status     int
	code       string
	retryAfter string
	times      int // how many calls the fault applies to; 0 means all
}

func newFakeBank(t testing.TB, now func() time.Time) *fakeBank {
	fb := &fakeBank{
		faults:  map[string]fault{},
		calls:   map[string]int{},
		polls:   map[string]int{},
		pending: 1,
		now:     now,
		release: make(chan struct{}),
		arrived: make(chan string, 1024),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /processors/{p}/cards/verify", fb.station(fb.verify))
	mux.HandleFunc("GET /processors/{p}/bancomat/cards", fb.station(fb.bancomat))
	mux.HandleFunc("POST /processors/{p}/cobadge/searches", fb.station(fb.startSearch))
	mux.HandleFunc("GET /processors/{p}/cobadge/searches/{id}", fb.station(fb.pollSearch))
	mux.HandleFunc("POST /iban/validate", fb.station(fb.iban))
	fb.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		fb.unhang()
		fb.Server.Close()
	})
	return fb
}

func (fb *fakeBank) setFault(station string, f fault) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.faults[station] = f
}

func (fb *fakeBank) clearFaults() {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.faults = map[string]fault{}
}

// unhang lets every hanging call answer, now and from now on.
func (fb *fakeBank) unhang() {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	select {
	case <-fb.release:
	default:
		close(fb.release)
	}
}

func (fb *fakeBank) count(station string) int {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return fb.calls[station]
}

func (fb *fakeBank) totalCalls() int {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	n := 0
	for _, c := range fb.calls {
		n += c
	}
	return n
}

// station wraps a handler with call counting and the station's fault.
func (fb *fakeBank) station(h func(w http.ResponseWriter, r *http.Request, body map[string]string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("p")
		if name == "" {
			name = "iban"
		}
		w.Header().Set("X-Station", name)
		var body map[string]string
		if r.Method == http.MethodPost {
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				writeBankError(w, http.StatusBadRequest, "BAD_REQUEST")
				return
			}
		}
		fb.mu.Lock()
		fb.calls[name]++
		f, faulty := fb.faults[name]
		if faulty && f.times > 0 {
			f.times--
			if f.times == 0 {
				delete(fb.faults, name)
			} else {
				fb.faults[name] = f
			}
		}
		fb.mu.Unlock()
		if faulty && f.hang {
			fb.arrived <- name
			select {
			case <-fb.release:
			case <-r.Context().Done():
				return
			}
		} else if faulty {
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			writeBankError(w, f.status, f.code)
			return
		}
		h(w, r, body)
	}
}

func writeBankError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":%q,"message":"fake bank"}`, code)
}

func writeBankJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (fb *fakeBank) verify(w http.ResponseWriter, _ *http.Request, b map[string]string) {
	expired, err := synth.ExpiredAt(b["expiry"], fb.now())
	if !synth.ValidPAN(b["pan"]) || err != nil || expired {
		writeBankError(w, http.StatusUnprocessableEntity, "CARD_DECLINED")
		return
	}
	pan := b["pan"]
	circuit := map[byte]string{'4': "VISA", '5': "MASTERCARD"}[pan[0]]
	if circuit == "" {
		circuit = "MAESTRO"
	}
	writeBankJSON(w, http.StatusOK, map[string]string{"hpan": synth.HPAN(pan, "fake processor salt"), "circuit": circuit,
		"last4": pan[len(pan)-4:], "expiry": b["expiry"]})
}

// fakeHPAN is the hpan of the card processor p finds for a citizen at a bank.
func fakeHPAN(p, fc, abi string) string {
	sum := sha256.Sum256([]byte(p + "/" + fc + "/" + abi))
	return hex.EncodeToString(sum[:])
}

func (fb *fakeBank) bancomat(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	p, q := r.PathValue("p"), r.URL.Query()
	card := map[string]string{"hpan": fakeHPAN(p, q.Get("fiscalCode"), q.Get("abi")), "last4": "1234",
		"expiry": "12/29", "abi": q.Get("abi"), "product": "PAGOBANCOMAT"}
	writeBankJSON(w, http.StatusOK, map[string]any{"cards": []any{card}})
}

func (fb *fakeBank) startSearch(w http.ResponseWriter, r *http.Request, b map[string]string) {
	id := r.PathValue("p") + "." + b["fiscalCode"] + "." + b["abi"]
	writeBankJSON(w, http.StatusAccepted, map[string]string{"searchId": id})
}

func (fb *fakeBank) pollSearch(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	id := r.PathValue("id")
	parts := strings.Split(id, ".")
	if len(parts) != 3 || parts[0] != r.PathValue("p") {
		writeBankError(w, http.StatusNotFound, "SEARCH_NOT_FOUND")
		return
	}
	fb.mu.Lock()
	fb.polls[id]++
	n := fb.polls[id]
	fb.mu.Unlock()
	if n <= fb.pending {
		writeBankJSON(w, http.StatusOK, map[string]string{"status": "PENDING"})
		return
	}
	card := map[string]string{"hpan": fakeHPAN("cobadge-"+parts[0], parts[1], parts[2]), "last4": "5678",
		"expiry": "11/28", "abi": parts[2], "circuit": "MASTERCARD"}
	writeBankJSON(w, http.StatusOK, map[string]any{"status": "COMPLETED", "cards": []any{card}})
}

func (fb *fakeBank) iban(w http.ResponseWriter, _ *http.Request, b map[string]string) {
	switch {
	case synth.ValidIBAN(b["iban"]) != nil:
		writeBankJSON(w, http.StatusOK, map[string]string{"status": "KO"})
	case synth.ABIOfIBAN(b["iban"]) == "99999":
		writeBankError(w, http.StatusNotImplemented, "UNKNOWN_PSP")
	case synth.ABIOfIBAN(b["iban"]) == "99998":
		writeBankError(w, http.StatusBadGateway, "BANK_TIMEOUT")
	default:
		writeBankJSON(w, http.StatusOK, map[string]string{"status": "OK"})
	}
}
