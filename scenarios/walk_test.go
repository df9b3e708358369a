package scenarios

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// walkScenario has a login, a polled step, a retried step and a last step;
// pauses are fixed (p95 at the median) so due times are exact.
const walkScenario = `name: w
profile:
  - hold: {rate: 1/s, duration: 10s}
login:
  path: /login
  think: {median: 9s, p95: 9s}
journeys:
  - name: j
    steps:
      - name: search
        path: /search
        think: {median: 2s, p95: 2s}
        poll: {field: status, while: PENDING, interval: 1s, max: 3}
      - name: add
        path: /add
        think: {median: 5s, p95: 5s}
        retry: {probability: 1, backoff: {median: 3s, p95: 3s}, max_attempts: 2, on: [503]}
        abandon: %s
      - name: list
        path: /list
        think: {median: 4s, p95: 4s}
`

// step is what a test expects Next to give, and what it then observes.
type walkStep struct {
	name             string
	due              time.Duration // from the start
	attempt, poll    int
	arrival, last    bool
	ok, pending      bool
	code             int
	took             time.Duration // the response's duration
	completes, final bool
}

func runWalk(t *testing.T, w *Walk, start time.Time, script []walkStep) {
	t.Helper()
	for i, want := range script {
		a, ok := w.Next()
		if !ok {
			t.Fatalf("request %d: walk over, want %s", i, want.name)
		}
		got := fmt.Sprintf("%s due +%s attempt %d poll %d arrival %v last %v new %v",
			a.Step.Name, a.Due.Sub(start), a.Attempt, a.Poll, a.Arrival, a.Last, a.NewStep())
		exp := fmt.Sprintf("%s due +%s attempt %d poll %d arrival %v last %v new %v",
			want.name, want.due, want.attempt, want.poll, want.arrival, want.last, want.attempt == 1 && want.poll == 0)
		if got != exp {
			t.Fatalf("request %d:\n got %s\nwant %s", i, got, exp)
		}
		if f := a.Final(want.pending); f != want.final {
			t.Errorf("request %d: Final(%v) = %v, want %v", i, want.pending, f, want.final)
		}
		if c := a.Completes(want.ok, want.pending); c != want.completes {
			t.Errorf("request %d: Completes = %v, want %v", i, c, want.completes)
		}
		w.Observe(Outcome{OK: want.ok, Code: want.code, Pending: want.pending, End: a.Due.Add(want.took)})
	}
	if a, ok := w.Next(); ok {
		t.Fatalf("walk goes on with %s attempt %d poll %d, want it over", a.Step.Name, a.Attempt, a.Poll)
	}
}

func TestWalkLoginPollsRetriesAndCompletes(t *testing.T) {
	s := mustParse(t, fmt.Sprintf(walkScenario, "0"))
	u, _ := s.NewUser(3)
	start := time.Date(2020, 12, 8, 7, 0, 0, 0, time.UTC)
	w := s.NewWalk(u, start)
	ms := time.Millisecond
	runWalk(t, w, start, []walkStep{
		// The login has no think time of its own: it is the arrival.
		{name: "login", due: 0, attempt: 1, arrival: true, ok: true, code: 200, took: 100 * ms, final: true},
		{name: "search", due: 2100 * ms, attempt: 1, ok: true, code: 200, pending: true, took: 100 * ms},
		{name: "search", due: 3200 * ms, attempt: 1, poll: 1, ok: true, code: 200, pending: true, took: 100 * ms},
		// The third round is the last whatever it says.
		{name: "search", due: 4300 * ms, attempt: 1, poll: 2, ok: true, code: 200, pending: true, took: 100 * ms, final: true},
		{name: "add", due: 9400 * ms, attempt: 1, ok: false, code: 503, took: 600 * ms, final: true},
		{name: "add", due: 13 * time.Second, attempt: 2, ok: true, code: 201, took: time.Second, final: true},
		{name: "list", due: 18 * time.Second, attempt: 1, last: true, ok: true, code: 200, took: 0, final: true, completes: true},
	})
}

func TestWalkPollEndsWhenNotPendingAndFailedPollIsRetriedAsAStep(t *testing.T) {
	s := mustParse(t, strings.Replace(fmt.Sprintf(walkScenario, "0"), "poll: {", "retry: {probability: 1, max_attempts: 2}\n        poll: {", 1))
	u, _ := s.NewUser(3)
	start := time.Unix(0, 0)
	w := s.NewWalk(u, start)
	runWalk(t, w, start, []walkStep{
		{name: "login", due: 0, attempt: 1, arrival: true, ok: true, final: true},
		{name: "search", due: 2 * time.Second, attempt: 1, ok: true, pending: true},
		{name: "search", due: 3 * time.Second, attempt: 1, poll: 1, ok: false, code: 502, final: true},
		// A failed poll round fails the step: the retry starts polling afresh.
		{name: "search", due: 3 * time.Second, attempt: 2, ok: true, pending: false, final: true},
		{name: "add", due: 8 * time.Second, attempt: 1, ok: true, final: true},
		{name: "list", due: 12 * time.Second, attempt: 1, last: true, ok: false, code: 500, final: true},
	})
}

func TestWalkAbandonsOrGoesOn(t *testing.T) {
	start := time.Unix(0, 0)
	t.Run("abandon", func(t *testing.T) {
		s := mustParse(t, fmt.Sprintf(walkScenario, "1"))
		u, _ := s.NewUser(1)
		w := s.NewWalk(u, start)
		runWalk(t, w, start, []walkStep{
			{name: "login", arrival: true, attempt: 1, ok: true, final: true},
			{name: "search", due: 2 * time.Second, attempt: 1, ok: true, final: true},
			// 500 is not one the user retries on: the step fails for good.
			{name: "add", due: 7 * time.Second, attempt: 1, code: 500, final: true},
		})
	})
	t.Run("retries exhausted then abandon", func(t *testing.T) {
		s := mustParse(t, fmt.Sprintf(walkScenario, "1"))
		u, _ := s.NewUser(1)
		w := s.NewWalk(u, start)
		runWalk(t, w, start, []walkStep{
			{name: "login", arrival: true, attempt: 1, ok: true, final: true},
			{name: "search", due: 2 * time.Second, attempt: 1, ok: true, final: true},
			{name: "add", due: 7 * time.Second, attempt: 1, code: 503, final: true},
			{name: "add", due: 10 * time.Second, attempt: 2, code: 503, final: true},
		})
	})
	t.Run("go on", func(t *testing.T) {
		s := mustParse(t, fmt.Sprintf(walkScenario, "0"))
		u, _ := s.NewUser(1)
		w := s.NewWalk(u, start)
		runWalk(t, w, start, []walkStep{
			{name: "login", arrival: true, attempt: 1, ok: true, final: true},
			{name: "search", due: 2 * time.Second, attempt: 1, ok: true, final: true},
			{name: "add", due: 7 * time.Second, attempt: 1, code: 500, final: true},
			{name: "list", due: 11 * time.Second, attempt: 1, last: true, ok: true, final: true, completes: true},
		})
	})
}

// TestWalkIsAFunctionOfSeedUserAndOutcomes walks the stock launch day for
// many users twice, failing every other request, and checks the two walks
// agree request for request; the journeys are drawn with their weights.
func TestWalkIsAFunctionOfSeedUserAndOutcomes(t *testing.T) {
	s, err := LoadStock("launch-day")
	if err != nil {
		t.Fatal(err)
	}
	trace := func(index uint64) string {
		u, _ := s.NewUser(index)
		w := s.NewWalk(u, time.Unix(0, 0))
		var b strings.Builder
		b.WriteString(w.Journey.Name)
		for i := 0; ; i++ {
			a, ok := w.Next()
			if !ok {
				return b.String()
			}
			if i > 100 {
				t.Fatalf("user %d: walk does not end", index)
			}
			fmt.Fprintf(&b, " %s/%d/%d@%d", a.Step.Name, a.Attempt, a.Poll, a.Due.UnixMilli())
			code := 200
			if i%2 == 1 {
				code = 503
			}
			w.Observe(Outcome{OK: code == 200, Code: code, Pending: a.Poll < 2, End: a.Due.Add(time.Duration(i) * time.Millisecond)})
		}
	}
	journeys := map[string]int{}
	for i := range uint64(2000) {
		a, b := trace(i), trace(i)
		if a != b {
			t.Fatalf("user %d walks differently twice:\n%s\n%s", i, a, b)
		}
		journeys[strings.Fields(a)[0]]++
	}
	if n := journeys["enroll-and-add-card"]; n < 1000 || n > 1200 {
		t.Errorf("enroll-and-add-card drawn %d times of 2000, want about 1100 (weight 55%%)", n)
	}
}

func TestStepVarsNamesWhatTemplatesRead(t *testing.T) {
	s, err := LoadStock("launch-day")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{"login": strings.Join(s.Login.Vars(), ",")}
	for _, st := range s.Journeys[0].Steps {
		got[st.Name] = strings.Join(st.Vars(), ",")
	}
	want := map[string]string{"login": "", "accept-terms": "token", "set-iban": "token", "list-banks": "token",
		"bancomat-search": "token", "cobadge-search": "token", "cobadge-poll": "searchId,token",
		"add-card": "token", "list-wallet": "token", "activate": "hpan,token"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s reads %q, want %q", k, got[k], w)
		}
	}
}
