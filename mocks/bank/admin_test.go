package bank

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// adminView decodes one station as the admin API shows it.
func adminView(t *testing.T, body []byte) stationView {
	t.Helper()
	var v stationView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

func TestAdminReadStations(t *testing.T) {
	s := startServer(t, fastConfig())
	call(t, "POST", s.URL+"/processors/nexi/cards/verify", verifyBody(t))

	resp, body := call(t, "GET", s.AdminURL+"/admin/stations", "")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var all struct {
		Uptime   string
		Stations []stationView
	}
	if err := json.Unmarshal(body, &all); err != nil {
		t.Fatal(err)
	}
	if _, err := time.ParseDuration(all.Uptime); err != nil {
		t.Fatalf("uptime %q: %v", all.Uptime, err)
	}
	if len(all.Stations) != 4+len(DefaultConfig().Banks) {
		t.Fatalf("%d stations", len(all.Stations))
	}
	kinds := map[string]string{}
	for _, v := range all.Stations {
		kinds[v.Name] = v.Kind
	}
	if kinds["nexi"] != KindProcessor || kinds["iban"] != KindIBAN || kinds["03069"] != KindBank {
		t.Fatalf("kinds %v", kinds)
	}

	_, body = call(t, "GET", s.AdminURL+"/admin/stations/nexi", "")
	v := adminView(t, body)
	tests := []struct {
		name      string
		got, want any
	}{
		{"servers", v.Config["servers"], 64.0},
		{"service", v.Config["service"], map[string]any{"distribution": "constant", "value": "0s"}},
		{"co-badge pending", v.Config["cobadge_pending"], "0s"},
		{"empty faults shown", v.Config["faults"], []any{}},
		{"rate limit shown", v.Config["rate_limit"], map[string]any{"per_second": 0.0, "burst": 0.0}},
		{"requests counted", v.Stats.Requests["ok"], uint64(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if mustJSON(t, tt.got) != mustJSON(t, tt.want) {
				t.Fatalf("got %s, want %s", mustJSON(t, tt.got), mustJSON(t, tt.want))
			}
		})
	}

	_, body = call(t, "GET", s.AdminURL+"/admin/stations/03069", "")
	if b := adminView(t, body); b.Config["abi"] != "03069" || b.Config["name"] != "Intesa Sanpaolo" {
		t.Fatalf("bank view %+v", b.Config)
	}
	if resp, body := call(t, "GET", s.AdminURL+"/admin/stations/visa", ""); resp.StatusCode != 404 || errorCode(t, body) != "UNKNOWN_STATION" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp, body := call(t, "DELETE", s.AdminURL+"/admin/stations/nexi", ""); resp.StatusCode != 405 || errorCode(t, body) != "METHOD_NOT_ALLOWED" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestAdminPatchStation(t *testing.T) {
	s := startServer(t, fastConfig())
	patch := func(name, body string) (int, []byte) {
		resp, b := call(t, "PATCH", s.AdminURL+"/admin/stations/"+name, body)
		return resp.StatusCode, b
	}
	verify := func() int {
		resp, _ := call(t, "POST", s.URL+"/processors/nexi/cards/verify", verifyBody(t))
		return resp.StatusCode
	}

	t.Run("start and end an outage", func(t *testing.T) {
		status, body := patch("nexi", `{"servers": 8, "faults": [{"type": "outage"}]}`)
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		v := adminView(t, body)
		if v.Config["servers"] != 8.0 || len(v.Config["faults"].([]any)) != 1 {
			t.Fatalf("config after the patch: %v", v.Config)
		}
		if got := verify(); got != 503 {
			t.Fatalf("during the outage: %d", got)
		}
		if status, body := patch("nexi", "{\n\t\"faults\": []\n}"); status != 200 {
			t.Fatalf("tab-indented JSON: %d %s", status, body)
		}
		if got := verify(); got != 200 {
			t.Fatalf("after the outage: %d", got)
		}
		if sc := s.Station("nexi").Config(); sc.Servers != 8 {
			t.Fatalf("servers %d: keys left out of a patch must keep their values", sc.Servers)
		}
	})
	t.Run("what GET shows PATCH takes back", func(t *testing.T) {
		before := s.Station("sia").Config()
		_, body := call(t, "GET", s.AdminURL+"/admin/stations/sia", "")
		cfg := mustJSON(t, adminView(t, body).Config)
		if status, body := patch("sia", cfg); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		if after := s.Station("sia").Config(); mustJSON(t, after) != mustJSON(t, before) {
			t.Fatalf("config changed: %+v -> %+v", before, after)
		}
	})
	t.Run("kind-specific keys", func(t *testing.T) {
		if status, body := patch("iban", `{"bank_timeout": "750ms"}`); status != 200 || adminView(t, body).Config["bank_timeout"] != "750ms" {
			t.Fatalf("%d %s", status, body)
		}
		if status, body := patch("iccrea", `{"cobadge_pending": "1m"}`); status != 200 || adminView(t, body).Config["cobadge_pending"] != "1m" {
			t.Fatalf("%d %s", status, body)
		}
		if status, body := patch("03069", `{"servers": 2, "service": {"distribution": "exponential", "mean": "5ms"}}`); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		if sc := s.Station("03069").Config(); sc.Servers != 2 || sc.Service != ExponentialService(5*time.Millisecond) {
			t.Fatalf("bank config %+v", sc)
		}
	})
	t.Run("invalid patches change nothing", func(t *testing.T) {
		before := s.Station("nexi").Config()
		tests := []struct {
			name, station, body string
			status              int
			problems            []string
		}{
			{"bad values", "nexi", "{\"servers\": -1,\n \"max_wait\": \"soon\"}", 400, []string{
				`request body:2: nexi.max_wait: "soon" is not a duration like 500ms, 5m or 3h`,
				"request body:1: nexi.servers: must be between 1 and 1000000, got -1",
			}},
			{"unknown key", "nexi", `{"servrs": 3}`, 400, []string{"request body:1: nexi.servrs: unknown key"}},
			{"key of another kind", "nexi", `{"bank_timeout": "1s"}`, 400, []string{"request body:1: nexi.bank_timeout: unknown key"}},
			{"overlapping outages", "nexi", `{"faults": [{"type": "outage", "from": "1s"}, {"type": "outage", "from": "2s", "to": "3s"}]}`, 400,
				[]string{"request body:1: nexi.faults[1]: outage window 2s to 3s overlaps nexi.faults[0] (from 1s)"}},
			{"renaming a bank", "03069", `{"name": "Banca Nuova"}`, 400, []string{"request body:1: 03069.name: cannot be changed live"}},
			{"not an object", "nexi", `[1]`, 400, []string{"request body:1: nexi: want a mapping (key: value), got a list"}},
			{"not JSON", "nexi", `servers: 3`, 400, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, body := patch(tt.station, tt.body)
				if status != tt.status {
					t.Fatalf("%d %s", status, body)
				}
				var got struct {
					Code     string
					Problems []string
				}
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatal(err)
				}
				if tt.problems == nil {
					if got.Code != "BAD_REQUEST" {
						t.Fatalf("%s", body)
					}
					return
				}
				if got.Code != "INVALID_CONFIG" || len(got.Problems) != len(tt.problems) {
					t.Fatalf("%s", body)
				}
				for i, p := range tt.problems {
					if !strings.HasPrefix(got.Problems[i], p) {
						t.Errorf("problem %d: %q, want %q", i, got.Problems[i], p)
					}
				}
			})
		}
		if after := s.Station("nexi").Config(); mustJSON(t, after) != mustJSON(t, before) {
			t.Fatalf("a rejected patch changed nexi: %+v", after)
		}
	})
}

func TestAdminResetAndMetrics(t *testing.T) {
	s := startServer(t, fastConfig())
	for range 3 {
		call(t, "POST", s.URL+"/processors/nexi/cards/verify", verifyBody(t))
	}
	call(t, "POST", s.URL+"/processors/sia/cards/verify", verifyBody(t))

	_, metrics := call(t, "GET", s.AdminURL+"/metrics", "")
	for _, want := range []string{
		`stampede_bank_requests_total{kind="processor",outcome="ok",station="nexi"} 3`,
		`stampede_bank_requests_total{kind="processor",outcome="queue_full",station="nexi"} 0`,
		`stampede_bank_queue_full_total{kind="processor",station="nexi"} 0`,
		`stampede_bank_in_flight{kind="processor",station="nexi"} 0`,
		`stampede_bank_queue_length{kind="bank",station="03069"} 0`,
		`stampede_bank_servers{kind="processor",station="nexi"} 64`,
		`stampede_bank_request_duration_seconds_count{kind="processor",station="nexi"} 3`,
		`stampede_bank_request_duration_seconds_bucket{kind="processor",station="nexi",le="+Inf"} 3`,
		`stampede_bank_queue_wait_seconds_count{kind="processor",station="nexi"} 3`,
	} {
		if !strings.Contains(string(metrics), want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}

	resp, body := call(t, "POST", s.AdminURL+"/admin/reset?station=nexi", "")
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"reset":["nexi"]}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if got := s.Station("nexi").Stats().Requests["ok"]; got != 0 {
		t.Fatalf("nexi ok = %d after its reset", got)
	}
	if got := s.Station("sia").Stats().Requests["ok"]; got != 1 {
		t.Fatalf("sia ok = %d: resetting nexi touched it", got)
	}
	if resp, _ := call(t, "POST", s.AdminURL+"/admin/reset", ""); resp.StatusCode != 200 || s.Station("sia").Stats().Requests["ok"] != 0 {
		t.Fatalf("reset all: %d", resp.StatusCode)
	}
	if resp, body := call(t, "POST", s.AdminURL+"/admin/reset?station=visa", ""); resp.StatusCode != 404 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, "GET", s.AdminURL+"/admin/reset", ""); resp.StatusCode != 405 {
		t.Fatalf("GET reset: %d", resp.StatusCode)
	}
}

func TestSeparateAdminListener(t *testing.T) {
	s, err := Listen(fastConfig(), Options{AdminAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.URL == s.AdminURL {
		t.Fatal("asked for an admin listener of its own, got the API's")
	}
	tests := []struct {
		name   string
		url    string
		status int
	}{
		{"admin on the admin listener", s.AdminURL + "/admin/stations/nexi", 200},
		{"admin not on the API listener", s.URL + "/admin/stations/nexi", 404},
		{"API not on the admin listener", s.AdminURL + "/processors/nexi/bancomat/cards?abi=03069&fiscalCode=RSSMRA85T10A562S", 404},
		{"metrics on the admin listener", s.AdminURL + "/metrics", 200},
		{"metrics not on the API listener", s.URL + "/metrics", 404}, // the help: metrics stay with the admin API
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp, body := call(t, "GET", tt.url, ""); resp.StatusCode != tt.status {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
		})
	}
}

func TestServe(t *testing.T) {
	t.Run("serves until its context ends", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "banks.yaml")
		writeFile(t, path, "processors:\n  nexi: {servers: 2, service: {distribution: constant, value: 0s}}\n")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- Serve(ctx, ServeOptions{ConfigFile: path, Addr: "127.0.0.1:0", Out: pw})
			pw.Close()
		}()
		line, err := bufio.NewReader(pr).ReadString('\n')
		if err != nil {
			t.Fatalf("no startup line: %v (Serve: %v)", err, <-done)
		}
		go io.Copy(io.Discard, pr)
		fields := strings.Fields(line)
		url := strings.TrimSuffix(fields[4], ",")
		if !strings.HasPrefix(url, "http://127.0.0.1:") {
			t.Fatalf("startup line %q", line)
		}
		_, body := call(t, "GET", url+"/admin/stations/nexi", "")
		if v := adminView(t, body); v.Config["servers"] != 2.0 {
			t.Fatalf("the banks file was not used: %v", v.Config)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Serve returned %v after its context ended", err)
		}
	})
	t.Run("bad banks file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "banks.yaml")
		writeFile(t, path, "iban:\n  servers: -3\n")
		err := Serve(context.Background(), ServeOptions{ConfigFile: path, Addr: "127.0.0.1:0"})
		if !errors.Is(err, ErrInvalidConfig) || !strings.HasPrefix(err.Error(), path+":2: iban.servers") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("address in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		err = Serve(context.Background(), ServeOptions{Addr: ln.Addr().String()})
		if err == nil || errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("err = %v, want a listen error", err)
		}
	})
}

// FuzzAdminPatch sends arbitrary PATCH bodies to each kind of station:
// the answer is 200 with a valid station or 400/413 with a JSON error, and
// a rejected body changes nothing.
func FuzzAdminPatch(f *testing.F) {
	f.Add(uint8(0), []byte(`{"servers": 8, "faults": [{"type": "outage", "from": "1s"}]}`))
	f.Add(uint8(1), []byte(`{"bank_timeout": "2s", "service": {"distribution": "lognormal", "median": "1ms", "p99": "3ms"}}`))
	f.Add(uint8(2), []byte(`{"abi": "03069", "rate_limit": {"per_second": 5}}`))
	f.Add(uint8(0), []byte("{\n\t\"queue\": 0\n}"))
	f.Add(uint8(1), []byte(`null`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		s, err := newServer(fastConfig())
		if err != nil {
			t.Fatal(err)
		}
		name := [...]string{"nexi", "iban", "03069"}[int(which)%3]
		before := mustJSON(t, s.view(s.byName[name]).Config)
		req := httptest.NewRequest("PATCH", "/admin/stations/"+name, bytes.NewReader(body))
		rec := httptest.NewRecorder()
		s.handler(true, true).ServeHTTP(rec, req)
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%d with a body that is not JSON: %q", rec.Code, rec.Body.String())
		}
		switch rec.Code {
		case 200:
			if err := s.byName[name].Config().validateAlone(name); err != nil {
				t.Fatalf("accepted a config that does not validate: %v", err)
			}
		case 400, 413:
			if after := mustJSON(t, s.view(s.byName[name]).Config); after != before {
				t.Fatalf("a rejected patch changed %s: %s -> %s", name, before, after)
			}
		default:
			t.Fatalf("answered %d: %s", rec.Code, rec.Body.String())
		}
	})
}

// /metrics goes with the admin API: an API listener of its own (one open
// to other hosts) does not serve it.
func TestMetricsOnlyWithTheAdminAPI(t *testing.T) {
	s := startServer(t, fastConfig())
	for _, tt := range []struct {
		name       string
		api, admin bool
		want       int
	}{{"API alone", true, false, http.StatusNotFound}, {"admin alone", false, true, http.StatusOK}, {"shared", true, true, http.StatusOK}} {
		rec := httptest.NewRecorder()
		s.handler(tt.api, tt.admin).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != tt.want {
			t.Errorf("%s: /metrics answered %d, want %d", tt.name, rec.Code, tt.want)
		}
	}
}
