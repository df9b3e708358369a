package replay

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/resultsfile"
	"github.com/stampede-load/stampede/scenarios"
)

// quick builds a one-step scenario against url.
func quick(t *testing.T, url string, rate scenarios.Rate, d time.Duration) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Quick(scenarios.QuickOptions{URL: url, Rate: rate, Duration: d, Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// readResults reads a run's results file back.
func readResults(t *testing.T, out *Outcome) []reports.Result {
	t.Helper()
	var rs []reports.Result
	if _, err := resultsfile.ReadFile(out.Results, reports.SinkFunc(func(r *reports.Result) { rs = append(rs, *r) })); err != nil {
		t.Fatal(err)
	}
	return rs
}

func okServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRunPacesArrivalsExactly(t *testing.T) {
	srv := okServer(t)
	sc := quick(t, srv.URL+"/ping", 100, time.Second)
	out, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rs := readResults(t, out)
	want := int(sc.Profile.Arrivals(time.Second))
	if len(rs) != want {
		t.Fatalf("got %d results, want %d (the profile's integral)", len(rs), want)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Seq < rs[j].Seq })
	for i := 1; i < len(rs); i++ {
		gap := rs[i].Intended.Sub(rs[i-1].Intended)
		if gap < 9900*time.Microsecond || gap > 10100*time.Microsecond {
			t.Fatalf("arrivals %d and %d are %s apart, want 10ms: intended times must come from the profile", i-1, i, gap)
		}
		if !rs[i].OK || rs[i].Code != 200 || rs[i].URL != srv.URL+"/ping" {
			t.Fatalf("result %d: %+v", i, rs[i])
		}
	}
	if out.Summary.Requests != int64(want) {
		t.Errorf("summary counts %d requests, want %d", out.Summary.Requests, want)
	}
	if _, err := os.Stat(filepath.Join(out.Dir, SummaryFile)); err != nil {
		t.Errorf("no summary file: %v", err)
	}
}

// stallServer holds its first request for stall, and answers the rest at once.
func stallServer(t *testing.T, stall time.Duration) *httptest.Server {
	var first atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			select {
			case <-time.After(stall): // the stall being simulated
			case <-r.Context().Done():
			}
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// With one journey in flight, arrivals due during a stall cannot be sent;
// their latency must count from when they were due, so the stall shows in
// the percentiles instead of vanishing (vegeta's library starts the clock
// when a worker frees up and would report them fast).
func TestStallIsChargedFromIntendedTime(t *testing.T) {
	const stall = time.Second
	srv := stallServer(t, stall)
	sc := quick(t, srv.URL+"/", 20, 2*time.Second)
	out, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir(),
		MaxInflight: 1, MaxWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rs := readResults(t, out)
	if want := int(sc.Profile.Arrivals(2 * time.Second)); len(rs) != want {
		t.Fatalf("got %d results, want one per arrival (%d): none may be invisible", len(rs), want)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Seq < rs[j].Seq })
	stallEnd := rs[0].Intended.Add(stall)
	waited := 0
	for _, r := range rs[1:] {
		if r.Dropped {
			t.Fatalf("arrival %d dropped with a 10s max wait", r.Seq)
		}
		if r.Intended.Before(stallEnd) {
			waited++
			if min := stallEnd.Sub(r.Intended) - 5*time.Millisecond; r.Latency < min {
				t.Errorf("arrival %d due %s before the stall ended reports %s latency", r.Seq, stallEnd.Sub(r.Intended), r.Latency)
			}
			if r.SendLatency > r.Latency {
				t.Errorf("arrival %d: send latency %s exceeds latency %s", r.Seq, r.SendLatency, r.Latency)
			}
		}
	}
	if waited < 15 {
		t.Fatalf("only %d arrivals were due during the stall", waited)
	}
	if p99 := out.Summary.Latency.P99; p99 < 900 {
		t.Errorf("p99 = %.0fms, want the 1s stall to show", p99)
	}
}

func TestArrivalsPastMaxWaitAreDroppedAndCounted(t *testing.T) {
	srv := stallServer(t, time.Second)
	sc := quick(t, srv.URL+"/", 20, 2*time.Second)
	out, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir(),
		MaxInflight: 1, MaxWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rs := readResults(t, out)
	dropped := 0
	for _, r := range rs {
		if r.Dropped {
			dropped++
			if r.OK || r.Code != 0 || r.Latency != 200*time.Millisecond {
				t.Errorf("dropped result %+v", r)
			}
		}
	}
	want := int(sc.Profile.Arrivals(2 * time.Second))
	if len(rs) != want {
		t.Fatalf("got %d results, want %d: dropped arrivals must be recorded", len(rs), want)
	}
	if out.Summary.Arrivals != int64(want) {
		t.Fatalf("summary counts %d journeys arrived, want %d: a dropped arrival still arrived", out.Summary.Arrivals, want)
	}
	if dropped < 10 || int64(dropped) != out.Summary.Dropped {
		t.Fatalf("dropped %d (summary %d), want the ~15 arrivals stuck past 200ms behind the stall", dropped, out.Summary.Dropped)
	}
	perSecond := int64(0)
	for _, p := range out.Summary.Series {
		perSecond += p.Dropped
	}
	if perSecond != int64(dropped) {
		t.Fatalf("the per-second series counts %d drops, the results %d", perSecond, dropped)
	}
}

func TestInterruptStopsArrivalsAndLeavesFiles(t *testing.T) {
	srv := okServer(t)
	sc := quick(t, srv.URL+"/", 200, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	out, err := Run(ctx, Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Interrupted {
		t.Error("outcome not marked interrupted")
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("interrupted run took %s", took)
	}
	rs := readResults(t, out)
	if len(rs) == 0 || len(rs) > 12000 {
		t.Fatalf("%d results after an interrupt at 0.5s", len(rs))
	}
	if !out.Summary.Interrupted {
		t.Error("summary not marked interrupted")
	}
}

func TestUnreachableTargetIsBadInput(t *testing.T) {
	srv := okServer(t)
	url := srv.URL
	srv.Close()
	sc := quick(t, url+"/", 10, time.Second)
	_, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir()})
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), url) {
		t.Fatalf("err = %v, want bad input naming %s", err, url)
	}
}

// journeyServer is a tiny asynchronous-search API: a search starts pending
// and completes on its third poll; adding fails once per user before it
// succeeds.
type journeyServer struct {
	mu     sync.Mutex
	polls  map[string]int
	failed map[string]bool
}

func (s *journeyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Method == "POST" && r.URL.Path == "/searches":
		w.WriteHeader(202)
		io.WriteString(w, `{"searchId":"s-`+r.Header.Get("X-User")+`"}`)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/searches/s-"):
		s.polls[r.URL.Path]++
		if s.polls[r.URL.Path] < 3 {
			io.WriteString(w, `{"status":"PENDING"}`)
			return
		}
		io.WriteString(w, `{"status":"COMPLETED","cards":[{"hpan":"abc"}]}`)
	case r.Method == "POST" && r.URL.Path == "/cards":
		user := r.Header.Get("X-User")
		if !s.failed[user] {
			s.failed[user] = true
			w.Header().Set("X-Upstream", "nexi")
			w.WriteHeader(503)
			io.WriteString(w, `{"code":"CARD_SAVE_FAILED","message":"errore temporaneo"}`)
			return
		}
		w.WriteHeader(201)
	default:
		http.NotFound(w, r)
	}
}

func TestJourneyExtractsPollsAndRetries(t *testing.T) {
	srv := httptest.NewServer(&journeyServer{polls: map[string]int{}, failed: map[string]bool{}})
	t.Cleanup(srv.Close)
	src := `
name: journey-test
target: ` + srv.URL + `
seed: 7
profile:
  - hold: {rate: 10/s, duration: 1s}
journeys:
  - name: search-and-add
    weight: 1
    steps:
      - name: start-search
        method: POST
        path: /searches
        headers: {X-User: "{{.Index}}"}
        expect: [202]
        extract: {search: searchId}
      - name: poll-search
        method: GET
        path: /searches/{{.Vars.search}}
        poll: {field: status, while: PENDING, interval: 10ms, max: 5}
      - name: add-card
        method: POST
        path: /cards
        headers: {X-User: "{{.Index}}"}
        expect: [201]
        retry: {probability: 1, backoff: {median: 10ms, p95: 20ms}, max_attempts: 3}
`
	sc, err := scenarios.Parse("journey-test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rs := readResults(t, out)
	count := map[string]int{}
	for _, r := range rs {
		key := r.Step
		switch {
		case r.Step == "poll-search":
			if !strings.HasSuffix(r.URL, "/searches/s-"+strconv.FormatUint(r.User, 10)) {
				t.Errorf("poll URL %s does not carry the extracted search id of user %d", r.URL, r.User)
			}
			key += "#" + strconv.Itoa(r.Poll)
		case r.Step == "add-card" && r.Attempt == 1:
			if r.OK || r.Code != 503 || r.Upstream != "nexi" || r.ErrorCode != "CARD_SAVE_FAILED" {
				t.Errorf("first add: %+v", r)
			}
			key += "#first"
		case r.Step == "add-card":
			if !r.OK || r.Attempt != 2 || !r.Retry() {
				t.Errorf("retry: %+v", r)
			}
			key += "#retry"
		}
		count[key]++
	}
	arrivals := int(sc.Profile.Arrivals(time.Second))
	for _, k := range []string{"start-search", "poll-search#0", "poll-search#1", "poll-search#2", "add-card#first", "add-card#retry"} {
		if count[k] != arrivals {
			t.Errorf("%s: %d results, want %d (one per journey); all: %v", k, count[k], arrivals, count)
		}
	}
	if count["poll-search#3"] != 0 {
		t.Errorf("polled past COMPLETED: %v", count)
	}
}

func TestParseShard(t *testing.T) {
	tests := []struct {
		in   string
		want Shard
		bad  bool
	}{
		{"1/1", Shard{0, 1}, false},
		{"2/4", Shard{1, 4}, false},
		{"0/4", Shard{}, true},
		{"5/4", Shard{}, true},
		{"1/0", Shard{}, true},
		{"a/b", Shard{}, true},
		{"1/4x", Shard{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseShard(tt.in)
			if (err != nil) != tt.bad || got != tt.want {
				t.Fatalf("ParseShard(%q) = %v, %v", tt.in, got, err)
			}
			if err != nil && !errors.Is(err, ErrBadInput) {
				t.Fatalf("error %v is not bad input", err)
			}
		})
	}
}

func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"1/1", "2/4", "0/4", "5/4", "1/0", "a/b", "1/4x", "-1/2", "99999999999999999999/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShard(s)
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("ParseShard(%q): %v is not bad input", s, err)
			}
			return
		}
		if sh.N < 1 || sh.K < 0 || sh.K >= sh.N {
			t.Fatalf("ParseShard(%q) = %+v: out of range", s, sh)
		}
	})
}
