package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/olekukonko/tablewriter/tw"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/render"
	"github.com/stampede-load/stampede/reports/resultsfile"
)

// Paths of the writes the audit reconciles (API.md).
const (
	addCardPath  = "/api/v1/wallet/cards"
	activatePath = "/api/v1/cashback/cards/"
)

// Identity gives the fiscal code of a replay's user and the hpan of the card
// that user adds, from the user index recorded in each result.
type Identity func(user uint64) (fiscalCode, hpan string, err error)

// Reconciliation compares what clients were acknowledged with what the
// stack stored, per kind of write (cards added, activations).
type Reconciliation struct {
	Cards       Tally
	Activations Tally
}

// Tally is the reconciliation of one kind of write. Lost and Duplicated
// are always failures; a phantom (stored but never acknowledged) is
// acceptable only when the client's request failed without an answer it
// could trust (a timeout or a 5xx), since the write may then have landed.
type Tally struct {
	Acknowledged     int      // distinct writes the client saw succeed
	Stored           int      // distinct writes the stack holds
	Lost             []string // acknowledged but not stored: "fiscalCode/hpan"
	Duplicated       []string // stored more than once
	PhantomAfterFail int      // stored, never acknowledged, after a failed request: acceptable
	Phantom          []string // stored, never acknowledged, never even failed: unexplained
}

// OK reports whether nothing acknowledged was lost or duplicated and no
// write appeared from nowhere.
func (r *Reconciliation) OK() bool {
	return r.Cards.ok() && r.Activations.ok()
}

func (t Tally) ok() bool { return len(t.Lost) == 0 && len(t.Duplicated) == 0 && len(t.Phantom) == 0 }

// clientView is what a replay's results say of one kind of write.
type clientView struct {
	acked     map[string]bool // key → acknowledged
	attempted map[string]bool // key → a request failed without a trustworthy answer
}

func newClientView() clientView {
	return clientView{acked: map[string]bool{}, attempted: map[string]bool{}}
}

// ReconcileRun reads a replay's results file, fetches the stack's audit
// from base (the stack's URL) and reconciles them.
func ReconcileRun(ctx context.Context, base, resultsPath string, id Identity) (*Reconciliation, error) {
	cards, acts, err := readClientView(resultsPath, id)
	if err != nil {
		return nil, err
	}
	report, err := FetchAudit(ctx, base)
	if err != nil {
		return nil, err
	}
	return Reconcile(report, cards, acts), nil
}

// readClientView collects the acknowledged and failed writes of a results file.
func readClientView(path string, id Identity) (cards, acts clientView, err error) {
	cards, acts = newClientView(), newClientView()
	var idErr error // the first user whose identity failed; the rest is skipped
	_, err = resultsfile.ReadFile(path, reports.SinkFunc(func(r *reports.Result) {
		if idErr == nil {
			idErr = viewResult(r, id, &cards, &acts)
		}
	}))
	if idErr != nil {
		return cards, acts, idErr
	}
	return cards, acts, err
}

// viewResult records what one result told its client about a write.
func viewResult(r *reports.Result, id Identity, cards, acts *clientView) error {
	if r.Dropped || r.Sent.IsZero() {
		return nil // never sent: nothing can have been written
	}
	u, perr := url.Parse(r.URL)
	if perr != nil {
		return nil
	}
	var view *clientView
	var key string
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(u.Path, addCardPath):
		fc, hpan, ierr := id(r.User)
		if ierr != nil {
			return fmt.Errorf("user %d: %w", r.User, ierr)
		}
		view, key = cards, fc+"/"+hpan
	case r.Method == http.MethodPut && strings.Contains(u.Path, activatePath):
		fc, _, ierr := id(r.User)
		if ierr != nil {
			return fmt.Errorf("user %d: %w", r.User, ierr)
		}
		view, key = acts, fc+"/"+u.Path[strings.LastIndex(u.Path, "/")+1:]
	default:
		return nil
	}
	switch {
	case r.OK:
		view.acked[key] = true
	case r.Code == 0 || r.Code >= 500:
		view.attempted[key] = true
	}
	return nil
}

// FetchAudit reads GET base/admin/audit.
func FetchAudit(ctx context.Context, base string) (*AuditReport, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/admin/audit", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("audit: %s answered %s", req.URL, resp.Status)
	}
	var report AuditReport
	if err := json.NewDecoder(resp.Body).Decode(&report); err != nil {
		return nil, fmt.Errorf("audit: reading %s: %w", req.URL, err)
	}
	return &report, nil
}

// Reconcile compares the stack's stored writes with the client's view.
func Reconcile(report *AuditReport, cards, acts clientView) *Reconciliation {
	storedCards := map[string]int{}
	for _, c := range report.Cards {
		storedCards[c.FiscalCode+"/"+c.HPAN]++
	}
	storedActs := map[string]int{}
	for _, a := range report.Activations {
		storedActs[a.FiscalCode+"/"+a.HPAN]++
	}
	return &Reconciliation{Cards: tally(storedCards, cards), Activations: tally(storedActs, acts)}
}

func tally(stored map[string]int, client clientView) Tally {
	t := Tally{Acknowledged: len(client.acked), Stored: len(stored)}
	for key := range client.acked {
		if stored[key] == 0 {
			t.Lost = append(t.Lost, key)
		}
	}
	for key, n := range stored {
		switch {
		case n > 1:
			t.Duplicated = append(t.Duplicated, key)
		case client.acked[key]:
		case client.attempted[key]:
			t.PhantomAfterFail++
		default:
			t.Phantom = append(t.Phantom, key)
		}
	}
	return t
}

// WriteTable prints the reconciliation as a table and a verdict line.
func (r *Reconciliation) WriteTable(w io.Writer) error {
	l, rt := tw.AlignLeft, tw.AlignRight
	t := render.NewTable(w, l, rt, rt, rt, rt, rt, rt)
	t.Header("write", "acknowledged", "stored", "lost", "duplicated", "phantom after a failed request", "phantom unexplained")
	for _, row := range []struct {
		name string
		t    Tally
	}{{"cards added", r.Cards}, {"activations", r.Activations}} {
		if err := t.Append(row.name, row.t.Acknowledged, row.t.Stored, len(row.t.Lost), len(row.t.Duplicated),
			row.t.PhantomAfterFail, len(row.t.Phantom)); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	verdict := "audit: PASS: nothing acknowledged was lost or duplicated"
	if !r.OK() {
		verdict = "audit: FAIL:"
		for _, p := range []struct {
			what string
			keys []string
		}{{"lost card", r.Cards.Lost}, {"duplicated card", r.Cards.Duplicated}, {"unexplained card", r.Cards.Phantom},
			{"lost activation", r.Activations.Lost}, {"duplicated activation", r.Activations.Duplicated}, {"unexplained activation", r.Activations.Phantom}} {
			if len(p.keys) > 0 {
				verdict += fmt.Sprintf(" %d %s (e.g. %s);", len(p.keys), p.what, p.keys[0])
			}
		}
	}
	_, err := fmt.Fprintln(w, verdict)
	return err
}
