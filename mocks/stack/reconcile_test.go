package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/resultsfile"
)

func TestReconcile(t *testing.T) {
	// Users 1..6 add their card; users 1..3 also activate it.
	id := func(user uint64) (string, string, error) {
		return fmt.Sprintf("FC%d", user), fmt.Sprintf("h%d", user), nil
	}
	sent := time.Date(2020, 12, 8, 8, 0, 0, 0, time.UTC)
	add := func(user uint64, ok bool, code int, errText string) reports.Result {
		return reports.Result{User: user, Method: "POST", URL: "http://127.0.0.1:1/api/v1/wallet/cards",
			Sent: sent, Intended: sent, OK: ok, Code: code, Error: errText, Attempt: 1}
	}
	activate := func(user uint64, ok bool, code int) reports.Result {
		return reports.Result{User: user, Method: "PUT", URL: fmt.Sprintf("http://127.0.0.1:1/api/v1/cashback/cards/h%d", user),
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

	cards, acts, err := readClientView(path, id)
	if err != nil {
		t.Fatal(err)
	}
	report := &AuditReport{
		Cards: []Card{{FiscalCode: "FC1", HPAN: "h1"}, {FiscalCode: "FC2", HPAN: "h2"}, {FiscalCode: "FC2", HPAN: "h2"},
			{FiscalCode: "FC3", HPAN: "h3"}, {FiscalCode: "FC4", HPAN: "h4"}, {FiscalCode: "FC6", HPAN: "h6"}},
		Activations: []Activation{{FiscalCode: "FC1", HPAN: "h1"}, {FiscalCode: "FC2", HPAN: "h2"}, {FiscalCode: "FC3", HPAN: "h3"}},
	}
	rec := Reconcile(report, cards, acts)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"cards acknowledged", rec.Cards.Acknowledged, 4},
		{"cards stored", rec.Cards.Stored, 5},
		{"card lost", rec.Cards.Lost, []string{"FC5/h5"}},
		{"card duplicated", rec.Cards.Duplicated, []string{"FC2/h2"}},
		{"card phantom after a timeout", rec.Cards.PhantomAfterFail, 1},
		{"card phantom unexplained", rec.Cards.Phantom, []string{"FC6/h6"}},
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
