package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter/tw"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/render"
	"github.com/stampede-load/stampede/reports/resultsfile"
	"github.com/stampede-load/stampede/scenarios/synth"
)

// Paths of the writes the audit reconciles (API.md).
const (
	addCardPath  = "/api/v1/wallet/cards"
	activatePath = "/api/v1/cashback/cards/"
)

// Identity gives the fiscal code of a replay's user and the number of the
// card that user adds, from the user index recorded in each result. The
// reconciliation hashes the number with the stack's salt, from its audit.
type Identity func(user uint64) (fiscalCode, pan string, err error)

// Reconciliation compares what clients were acknowledged with what the
// stack stored, per kind of write (cards added, activations).
type Reconciliation struct {
	Cards       Tally
	Activations Tally

	// Incomplete says why the results do not cover the whole run (a
	// results file cut short, a run killed before its summary), "" when
	// they do. The reconciliation then covers the complete records only:
	// a write stored without a record may belong to a result that was
	// never written, and is counted as Unrecorded instead of Phantom.
	Incomplete string
	Records    int64 // complete results read
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
	Unrecorded       int      // stored with no record, when the results are incomplete: not judged
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

// hashed turns the keys of a view of cards, "fiscalCode/PAN", into the
// stack's, "fiscalCode/hpan", hashing each number with salt.
func (v clientView) hashed(salt string) clientView {
	out := newClientView()
	rekey := func(from, to map[string]bool) {
		for k, b := range from {
			i := strings.LastIndexByte(k, '/')
			to[k[:i+1]+synth.HPAN(k[i+1:], salt)] = b
		}
	}
	rekey(v.acked, out.acked)
	rekey(v.attempted, out.attempted)
	return out
}

// ReconcileRun reads a replay's results file, fetches the stack's audit
// from base (the stack's URL) and reconciles them. complete says whether
// the run ended and wrote its summary; a run killed before, or a results
// file cut short, is reconciled over its complete records (see
// Reconciliation.Incomplete).
func ReconcileRun(ctx context.Context, base, resultsPath string, complete bool, id Identity) (*Reconciliation, error) {
	cards, acts, info, err := readClientView(resultsPath, id)
	if err != nil {
		return nil, err
	}
	report, err := FetchAudit(ctx, base)
	if err != nil {
		return nil, err
	}
	cards = cards.hashed(report.HPANSalt)
	var incomplete []string
	if !complete {
		incomplete = append(incomplete, "the run has no summary (killed before it ended)")
	}
	if info.Truncated {
		incomplete = append(incomplete, "the results file is cut short")
	}
	if info.Results == 0 {
		incomplete = append(incomplete, "the results file holds no results")
	}
	rec := reconcile(report, cards, acts, len(incomplete) > 0)
	rec.Incomplete, rec.Records = strings.Join(incomplete, "; "), info.Results
	return rec, nil
}

// readClientView collects the acknowledged and failed writes of a results
// file. Cards are keyed by fiscal code and card number until hashed with
// the stack's salt (clientView.hashed).
func readClientView(path string, id Identity) (cards, acts clientView, info resultsfile.Info, err error) {
	cards, acts = newClientView(), newClientView()
	var idErr error // the first user whose identity failed; the rest is skipped
	info, err = resultsfile.ReadFile(path, reports.SinkFunc(func(r *reports.Result) {
		if idErr == nil {
			idErr = viewResult(r, id, &cards, &acts)
		}
	}))
	if idErr != nil {
		return cards, acts, info, idErr
	}
	return cards, acts, info, err
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
		fc, pan, ierr := id(r.User)
		if ierr != nil {
			return fmt.Errorf("user %d: %w", r.User, ierr)
		}
		view, key = cards, fc+"/"+pan
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

// ErrNotAudit is wrapped by FetchAudit's errors when base is not the
// reference stack's audit endpoint: malformed, unreachable, not answering
// in time, or answering with something other than an audit report. The
// CLI reports it as bad input naming --target.
var ErrNotAudit = errors.New("not the reference stack's audit endpoint")

// auditClient fetches audit reports: a stack that stops answering must
// not hang the audit. The report of a launch day is tens of megabytes, so
// the whole fetch may take minutes; the headers may not.
var auditClient = &http.Client{
	Timeout:   5 * time.Minute,
	Transport: &http.Transport{ResponseHeaderTimeout: 30 * time.Second, DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext},
}

// FetchAudit reads GET base/admin/audit.
func FetchAudit(ctx context.Context, base string) (*AuditReport, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not an http:// or https:// URL", ErrNotAudit, reports.Printable(clipText(base, 80)))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/admin/audit", nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotAudit, err)
	}
	resp, err := auditClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("audit: %w: %w", ErrNotAudit, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("audit: %w: %s answered %s", ErrNotAudit, req.URL, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, fmt.Errorf("audit: %w: %s answered %q, not JSON", ErrNotAudit, req.URL, reports.Printable(clipText(ct, 60)))
	}
	var doc struct {
		HPANSalt    string           `json:"hpanSalt"`
		Citizens    *json.RawMessage `json:"citizens"`
		Cards       *[]Card          `json:"cards"`
		Activations *[]Activation    `json:"activations"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("audit: reading %s: %w", req.URL, err)
	}
	if doc.Cards == nil || doc.Activations == nil {
		return nil, fmt.Errorf("audit: %w: %s has no cards and activations", ErrNotAudit, req.URL)
	}
	if doc.HPANSalt == "" {
		return nil, fmt.Errorf("audit: %w: %s gives no hpanSalt to hash card numbers with", ErrNotAudit, req.URL)
	}
	return &AuditReport{HPANSalt: doc.HPANSalt, Cards: *doc.Cards, Activations: *doc.Activations}, nil
}

// clipText cuts s to at most n bytes for a message.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Reconcile compares the stack's stored writes with the client's view.
func Reconcile(report *AuditReport, cards, acts clientView) *Reconciliation {
	return reconcile(report, cards, acts, false)
}

// reconcile is Reconcile; with incomplete results, stored writes with no
// record at all are Unrecorded rather than Phantom.
func reconcile(report *AuditReport, cards, acts clientView, incomplete bool) *Reconciliation {
	storedCards := map[string]int{}
	for _, c := range report.Cards {
		storedCards[c.FiscalCode+"/"+c.HPAN]++
	}
	storedActs := map[string]int{}
	for _, a := range report.Activations {
		storedActs[a.FiscalCode+"/"+a.HPAN]++
	}
	return &Reconciliation{Cards: tally(storedCards, cards, incomplete), Activations: tally(storedActs, acts, incomplete)}
}

func tally(stored map[string]int, client clientView, incomplete bool) Tally {
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
		case incomplete:
			t.Unrecorded++
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
	if r.Incomplete != "" {
		if _, err := fmt.Fprintf(w, "results incomplete: %s; reconciled over the %d complete records, and %d cards and %d activations stored without a record are not judged\n",
			r.Incomplete, r.Records, r.Cards.Unrecorded, r.Activations.Unrecorded); err != nil {
			return err
		}
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
