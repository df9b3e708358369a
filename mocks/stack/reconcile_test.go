package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/resultsfile"
	"github.com/stampede-load/stampede/scenarios/synth"
)

// testPAN is a card number for user in the reconciliation tests, whose
// stack hashes with the salt "s".
func testPAN(user uint64) string { return fmt.Sprintf("p%d", user) }

// h is user's hpan under the salt "s".
func h(user uint64) string { return synth.HPAN(testPAN(user), "s") }

func TestReconcile(t *testing.T) {
	// Users 1..6 add their card; users 1..3 also activate it.
	id := func(user uint64) (string, string, error) {
		return fmt.Sprintf("FC%d", user), testPAN(user), nil
	}
	sent := time.Date(2020, 12, 8, 8, 0, 0, 0, time.UTC)
	add := func(user uint64, ok bool, code int, errText string) reports.Result {
		return reports.Result{User: user, Method: "POST", URL: "http://127.0.0.1:1/api/v1/wallet/cards",
			Sent: sent, Intended: sent, OK: ok, Code: code, Error: errText, Attempt: 1}
	}
	activate := func(user uint64, ok bool, code int) reports.Result {
		return reports.Result{User: user, Method: "PUT", URL: "http://127.0.0.1:1/api/v1/cashback/cards/" + h(user),
			Sent: sent, Intended: sent, OK: ok, Code: code, Attempt: 1}
	}
	results := []reports.Result{
		add(1, true, 201, ""), add(2, true, 201, ""), add(3, true, 201, ""),
		add(4, false, 0, "context deadline exceeded"), // timed out, but stored: acceptable phantom
		add(5, true, 201, ""),                         // acknowledged, never stored: lost
		add(6, false, 422, ""),                        // refused, yet stored: unexplained phantom
		{User: 7, Dropped: true, Method: "POST", URL: "http://127.0.0.1:1/api/v1/wallet/cards", Intended: sent},
		activate(1, true, 200), activate(2, true, 200), activate(3, false, 503),
	}
	path := filepath.Join(t.TempDir(), "results.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := resultsfile.NewWriter(f)
	for i := range results {
		if err := w.Write(&results[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	cards, acts, _, err := readClientView(path, id)
	if err != nil {
		t.Fatal(err)
	}
	cards = cards.hashed("s")
	report := &AuditReport{
		HPANSalt: "s",
		Cards: []Card{{FiscalCode: "FC1", HPAN: h(1)}, {FiscalCode: "FC2", HPAN: h(2)}, {FiscalCode: "FC2", HPAN: h(2)},
			{FiscalCode: "FC3", HPAN: h(3)}, {FiscalCode: "FC4", HPAN: h(4)}, {FiscalCode: "FC6", HPAN: h(6)}},
		Activations: []Activation{{FiscalCode: "FC1", HPAN: h(1)}, {FiscalCode: "FC2", HPAN: h(2)}, {FiscalCode: "FC3", HPAN: h(3)}},
	}
	rec := Reconcile(report, cards, acts)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"cards acknowledged", rec.Cards.Acknowledged, 4},
		{"cards stored", rec.Cards.Stored, 5},
		{"card lost", rec.Cards.Lost, []string{"FC5/" + h(5)}},
		{"card duplicated", rec.Cards.Duplicated, []string{"FC2/" + h(2)}},
		{"card phantom after a timeout", rec.Cards.PhantomAfterFail, 1},
		{"card phantom unexplained", rec.Cards.Phantom, []string{"FC6/" + h(6)}},
		{"activations acknowledged", rec.Activations.Acknowledged, 2},
		{"activation phantom after a 503", rec.Activations.PhantomAfterFail, 1},
		{"activations lost", len(rec.Activations.Lost), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if fmt.Sprint(tt.got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	if rec.OK() {
		t.Fatal("a reconciliation with a lost card passed")
	}
	clean := Reconcile(&AuditReport{Cards: []Card{{FiscalCode: "FC1", HPAN: "h1"}}}, clientView{acked: map[string]bool{"FC1/h1": true}}, newClientView())
	if !clean.OK() || !slices.Equal(clean.Cards.Lost, nil) {
		t.Fatalf("clean reconciliation: %+v", clean)
	}
}

func TestFetchAuditRefusesWhatIsNotTheAudit(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	serve := func(h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	old := auditClient
	auditClient = &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 200 * time.Millisecond}}
	t.Cleanup(func() { auditClient = old })
	tests := []struct {
		name, base, want string
	}{
		{"malformed", "127.0.0.1:8080", "is not an http:// or https:// URL"},
		{"refused", "http://127.0.0.1:1", "connection refused"},
		{"never answers", serve(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}), "timeout awaiting response headers"},
		{"not found", serve(http.NotFound), "404 Not Found"},
		{"a web page", serve(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>24 lost</html>"))
		}), `"text/html", not JSON`},
		{"some other JSON", serve(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"ok"}`))
		}), "has no cards and activations"},
		{"an audit without the salt", serve(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"citizens":[],"cards":[],"activations":[]}`))
		}), "gives no hpanSalt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FetchAudit(context.Background(), tt.base)
			if !errors.Is(err, ErrNotAudit) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want ErrNotAudit and %q", err, tt.want)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		base := serve(func(w http.ResponseWriter, r *http.Request) {
			cancel() // the request has arrived: now stop the audit
			<-r.Context().Done()
		})
		auditClient = &http.Client{}
		if _, err := FetchAudit(ctx, base); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestReconcileIncompleteResults(t *testing.T) {
	id := func(user uint64) (string, string, error) {
		return fmt.Sprintf("FC%d", user), testPAN(user), nil
	}
	sent := time.Date(2020, 12, 8, 8, 0, 0, 0, time.UTC)
	var full bytes.Buffer
	w := resultsfile.NewWriter(&full)
	for user := uint64(1); user <= 3; user++ {
		r := reports.Result{User: user, Method: "POST", URL: "http://127.0.0.1:1/api/v1/wallet/cards", Sent: sent, Intended: sent, OK: true, Code: 201, Attempt: 1}
		if err := w.Write(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(full.String(), "\n")
	// The stack stored four cards; the results recorded three, the third
	// cut short by a kill.
	stack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"hpanSalt":"s","citizens":[],"cards":[{"fiscalCode":"FC1","hpan":%q},{"fiscalCode":"FC2","hpan":%q},{"fiscalCode":"FC3","hpan":%q},{"fiscalCode":"FC4","hpan":%q}],"activations":[]}`,
			h(1), h(2), h(3), h(4))
	}))
	defer stack.Close()
	tests := []struct {
		name       string
		results    string
		complete   bool
		incomplete string // fragment; "" for a complete run
		records    int64
		unrecorded int
		phantoms   int
	}{
		{"complete run", lines[0] + lines[1] + lines[2], true, "", 3, 0, 1},
		{"cut short", lines[0] + lines[1] + lines[2][:20], true, "cut short", 2, 2, 0},
		{"killed before its summary", lines[0] + lines[1] + lines[2], false, "no summary", 3, 1, 0},
		{"empty", "", true, "no results", 0, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "results.jsonl")
			if err := os.WriteFile(path, []byte(tt.results), 0o644); err != nil {
				t.Fatal(err)
			}
			rec, err := ReconcileRun(context.Background(), stack.URL, path, tt.complete, id)
			if err != nil {
				t.Fatal(err)
			}
			if (tt.incomplete == "") != (rec.Incomplete == "") || !strings.Contains(rec.Incomplete, tt.incomplete) {
				t.Errorf("incomplete %q, want %q", rec.Incomplete, tt.incomplete)
			}
			if rec.Records != tt.records || rec.Cards.Unrecorded != tt.unrecorded || len(rec.Cards.Phantom) != tt.phantoms || len(rec.Cards.Lost) != 0 {
				t.Errorf("records %d unrecorded %d phantoms %v lost %v; want %d, %d, %d, none",
					rec.Records, rec.Cards.Unrecorded, rec.Cards.Phantom, rec.Cards.Lost, tt.records, tt.unrecorded, tt.phantoms)
			}
			if rec.OK() != (tt.phantoms == 0) {
				t.Errorf("OK = %v with %d unexplained phantoms", rec.OK(), tt.phantoms)
			}
			var table strings.Builder
			if err := rec.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			if tt.incomplete != "" && !strings.Contains(table.String(), "results incomplete: ") {
				t.Errorf("the table does not say the results are incomplete:\n%s", table.String())
			}
		})
	}
}
