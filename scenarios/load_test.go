package scenarios

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stampede-load/stampede/internal/textfile"
	"github.com/stampede-load/stampede/reports"
)

// scenarioWith returns minimal with its journeys replaced by steps.
func scenarioWith(steps ...string) string {
	return withLines(append([]string{
		"name: t",
		"profile:",
		"  - hold: {rate: 10/s, duration: 10s}",
		"journeys:",
		"  - name: j",
		"    steps:",
	}, steps...)...)
}

func TestParseReportsProblemsWithFileLineAndKey(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // "line: key: message fragment"
	}{
		{"malformed YAML", "name: x\nprofile: [\n", "2: yaml: did not find expected node content"},
		{"tab indentation", "name: x\n\tprofile: []\n", "2: yaml: found a tab character that violates indentation"},
		{"empty file", "", "1: the file is empty"},
		{"step name with an escape", scenarioWith(`      - {name: "s\e[2J", path: /}`), `7: journeys[0].steps[0].name: "s\x1b[2J" must not contain control characters`},
		{"journey name with a bell", strings.Replace(minimal, "  - name: j", `  - name: "j\a"`, 1), `5: journeys[0].name: "j\a" must not contain control characters`},
		{"weights add up to infinity", withLines(
			"name: t",
			"profile: [{hold: {rate: 1/s, duration: 1s}}]",
			"journeys:",
			"  - {name: a, weight: 1.7e308, steps: [{name: s, path: /}]}",
			"  - {name: b, weight: 1.7e308, steps: [{name: s, path: /}]}",
		), "4: journeys: the journeys' weights add up to more than a float64 holds"},
		{"name with a path", strings.Replace(minimal, "name: t", `name: "x/../../../tmp/elsewhere"`, 1), `1: name: "x/../../../tmp/elsewhere" must not contain a path separator`},
		{"name with dots", strings.Replace(minimal, "name: t", `name: "x..y"`, 1), `1: name: "x..y" must not contain ".."`},
		{"name with NUL", strings.Replace(minimal, "name: t", `name: "x\0y"`, 1), `1: name: "x\x00y" must not contain control characters`},
		{"name with an escape", strings.Replace(minimal, "name: t", `name: "x\e[2Jy"`, 1), `1: name: "x\x1b[2Jy" must not contain control characters`},
		{"name too long", strings.Replace(minimal, "name: t", "name: "+strings.Repeat("n", 101), 1), `1: name: "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn..." is longer than 100 bytes`},
		{"only comments", "# nothing\n", "1: the file is empty"},
		{"not a mapping", "- a\n- b\n", "1: want a mapping"},
		{"second document", minimal + "---\nname: u\n", "8: a scenario file holds one YAML document"},
		{"unknown key", strings.Replace(minimal, "name: t", "name: t\nprofle: []", 1), `2: profle: unknown key (did you mean "profile"?)`},
		{"unknown nested key", scenarioWith("      - {name: s, path: /, thinks: 1s}"), `7: journeys[0].steps[0].thinks: unknown key (did you mean "think"?)`},
		{"duplicate key", "name: a\nname: b\n" + strings.TrimPrefix(minimal, "name: t\n"), "2: name: appears twice (first at line 1)"},
		{"missing profile", "name: t\njourneys: [{name: j, steps: [{name: s, path: /}]}]\n", "1: profile: is required"},
		{"missing journeys", "name: t\nprofile: [{hold: {rate: 1/s, duration: 1s}}]\n", "1: journeys: is required"},
		{"rate without unit", strings.Replace(minimal, "rate: 10/s", "rate: 6000", 1), `3: profile[0].hold.rate: rate "6000" has no unit`},
		{"rate with a bad unit", strings.Replace(minimal, "rate: 10/s", "rate: 10/d", 1), `3: profile[0].hold.rate: rate "10/d": unit "d" is not s, m or h`},
		{"zero duration", strings.Replace(minimal, "duration: 10s", "duration: 0s", 1), "3: profile[0].hold.duration: 0s must be positive"},
		{"negative duration", strings.Replace(minimal, "duration: 10s", "duration: -5m", 1), "3: profile[0].hold.duration: -5m must be positive"},
		{"duration without unit", strings.Replace(minimal, "duration: 10s", "duration: 10", 1), `3: profile[0].hold.duration: "10" has no unit`},
		{"unknown stage", strings.Replace(minimal, "hold:", "plateau:", 1), "3: profile[0].plateau: unknown key; want one of: ramp, hold, spike, sine, decay, stairs"},
		{"two stages in one item", strings.Replace(minimal, "  - hold: {rate: 10/s, duration: 10s}", "  - hold: {rate: 10/s, duration: 10s}\n    spike: {to: 1/s, duration: 1s}", 1), "3: profile[0]: want one stage"},
		{"sine below zero", strings.Replace(minimal, "hold: {rate: 10/s, duration: 10s}", "sine: {base: 10/s, amplitude: 20/s, period: 1m, duration: 2m}", 1), "3: profile[0].sine.amplitude: amplitude 20/s is above the base 10/s"},
		{"profile all zero", strings.Replace(minimal, "rate: 10/s", "rate: 0/s", 1), "3: profile: never rises above 0/s"},
		{"stairs going down", strings.Replace(minimal, "hold: {rate: 10/s, duration: 10s}", "stairs: {from: 10/s, to: 5/s, step: 1/s, hold: 1m}", 1), "3: profile[0].stairs.to: 5/s is below from (10/s)"},
		{"var never extracted", scenarioWith("      - {name: s, path: '/x/{{.Vars.token}}'}"), `7: journeys[0].steps[0].path: .Vars.token: variable "token" is never set before this step`},
		{"var extracted later", scenarioWith(
			"      - {name: a, path: '/x/{{.Vars.id}}'}",
			"      - {name: b, path: /y, extract: {id: id}}",
		), `7: journeys[0].steps[0].path: .Vars.id: variable "id" is never set`},
		{"var extracted in another journey", withLines(
			"name: t",
			"profile: [{hold: {rate: 1/s, duration: 1s}}]",
			"journeys:",
			"  - {name: a, steps: [{name: s, path: /, extract: {id: id}}]}",
			"  - {name: b, steps: [{name: s, path: '/{{.Vars.id}}'}]}",
		), `5: journeys[1].steps[0].path: .Vars.id: variable "id" is never set before this step: it is not extracted by the login step or an earlier step of journey "b"`},
		{"var in the login", strings.Replace(minimal, "journeys:", "login: {path: '/l/{{.Vars.x}}'}\njourneys:", 1), "4: login.path: .Vars.x: variable \"x\" is never set before this step: nothing is extracted before the login step"},
		{"var in a journey header", withLines(
			"name: t",
			"profile: [{hold: {rate: 1/s, duration: 1s}}]",
			"journeys:",
			"  - name: j",
			"    headers: {X-Id: '{{.Vars.id}}'}",
			"    steps: [{name: s, path: /, extract: {id: id}}]",
		), `5: journeys[0].headers.X-Id: .Vars.id: variable "id" is never set`},
		{"unknown field", scenarioWith("      - {name: s, path: '/{{.FiscalCod}}'}"), "7: journeys[0].steps[0].path: .FiscalCod: unknown field .FiscalCod"},
		{"unsalted hpan field", scenarioWith("      - {name: s, path: '/{{.HPAN}}'}"), "7: journeys[0].steps[0].path: .HPAN: an hpan needs the stack's salt"},
		{"hpan without a salt", scenarioWith("      - {name: s, path: '/{{hpan .PAN}}'}"), "7: journeys[0].steps[0].path: template: path: hpan takes a card number and the stack's salt"},
		{"piped hpan without a salt", scenarioWith("      - {name: s, path: '/{{.PAN | hpan}}'}"), "7: journeys[0].steps[0].path: template: path: hpan takes a card number and the stack's salt"},
		{"field of a plain value", scenarioWith("      - {name: s, path: '/{{.PAN.x}}'}"), "7: journeys[0].steps[0].path: .PAN.x: .PAN is a plain value with no fields"},
		{"unknown feeder", scenarioWith("      - {name: s, path: '/{{.Data.users.id}}'}"), `7: journeys[0].steps[0].path: .Data.users.id: no feeder is named "users" (data: none)`},
		{"template syntax", scenarioWith("      - {name: s, path: '/{{.Name'}"), "7: journeys[0].steps[0].path: template: path:1: unclosed action"},
		{"unknown function", scenarioWith("      - {name: s, path: '/{{nope}}'}"), `7: journeys[0].steps[0].path: template: path:1: function "nope" not defined`},
		{"range", scenarioWith("      - {name: s, path: '/{{range .Vars}}x{{end}}'}"), "7: journeys[0].steps[0].path: template: path: range is not allowed"},
		{"template failing for every user", scenarioWith("      - {name: s, path: '/{{randInt 5 1}}'}"), "7: journeys[0].steps[0].path: fails for a sample user"},
		{"body not JSON", scenarioWith("      - {name: s, method: POST, path: /, body: '{\"a\": {{.Name}}}'}"), "7: journeys[0].steps[0].body: renders invalid JSON for a sample user"},
		{"path without slash", scenarioWith("      - {name: s, path: api}"), `7: journeys[0].steps[0].path: "api" must start with /`},
		{"bad method", scenarioWith("      - {name: s, path: /, method: FETCH}"), `7: journeys[0].steps[0].method: "FETCH" is not one of GET`},
		{"missing step name", scenarioWith("      - {path: /}"), "7: journeys[0].steps[0].name: is required"},
		{"duplicate step", scenarioWith("      - {name: s, path: /}", "      - {name: s, path: /}"), `8: journeys[0].steps[1].name: step "s" appears twice`},
		{"duplicate journey", withLines(
			"name: t",
			"profile: [{hold: {rate: 1/s, duration: 1s}}]",
			"journeys:",
			"  - {name: a, steps: [{name: s, path: /}]}",
			"  - {name: a, steps: [{name: s, path: /}]}",
		), `5: journeys[1].name: journey "a" is defined twice`},
		{"zero weight", strings.Replace(minimal, "  - name: j", "  - name: j\n    weight: 0", 1), "6: journeys[0].weight: 0 must be positive"},
		{"no steps", withLines("name: t", "profile: [{hold: {rate: 1/s, duration: 1s}}]", "journeys:", "  - name: j"), "4: journeys[0].steps: is required"},
		{"empty steps", withLines("name: t", "profile: [{hold: {rate: 1/s, duration: 1s}}]", "journeys:", "  - name: j", "    steps: []"), "5: journeys[0].steps: has no steps"},
		{"empty journeys", withLines("name: t", "profile: [{hold: {rate: 1/s, duration: 1s}}]", "journeys: []"), "3: journeys: has no journeys"},
		{"empty profile", withLines("name: t", "profile: []", "journeys: [{name: j, steps: [{name: s, path: /}]}]"), "2: profile: has no stages"},
		{"expect out of range", scenarioWith("      - {name: s, path: /, expect: [200, 600]}"), "7: journeys[0].steps[0].expect[1]: status 600 is not between 100 and 599"},
		{"abandon above one", scenarioWith("      - {name: s, path: /, abandon: 1.5}"), `7: journeys[0].steps[0].abandon: probability "1.5" must be between 0 and 1`},
		{"retry probability", scenarioWith("      - {name: s, path: /, retry: {probability: 120%}}"), `7: journeys[0].steps[0].retry.probability: probability "120%"`},
		{"retry on zero only for transport", scenarioWith("      - {name: s, path: /, expect: [0]}"), "7: journeys[0].steps[0].expect[0]: status 0 is not between 100 and 599"},
		{"p95 below median", scenarioWith("      - {name: s, path: /, think: {median: 2s, p95: 1s}}"), "7: journeys[0].steps[0].think.p95: p95 1s is below the median 2s"},
		{"poll without interval", scenarioWith("      - {name: s, path: /, poll: {field: status, while: PENDING}}"), "7: journeys[0].steps[0].poll.interval: is required"},
		{"bad extract path", scenarioWith("      - {name: s, path: /, extract: {id: 'a[x]'}}"), `7: journeys[0].steps[0].extract.id: path "a[x]": "x" is not an array index`},
		{"bad variable name", scenarioWith("      - {name: s, path: /, extract: {my-id: id}}"), `7: journeys[0].steps[0].extract.my-id: "my-id": a variable name`},
		{"bad header name", scenarioWith("      - {name: s, path: /, headers: {'X A': b}}"), `7: journeys[0].steps[0].headers.X A: "X A" is not a valid header name`},
		{"templated http header", strings.Replace(minimal, "journeys:", "http: {headers: {Authorization: 'Bearer {{.Vars.t}}'}}\njourneys:", 1), "4: http.headers.Authorization: http.headers are sent as written"},
		{"http version", strings.Replace(minimal, "journeys:", "http: {version: 3}\njourneys:", 1), `4: http.version: "3" is not auto, 1.1 or 2`},
		{"http cert missing", strings.Replace(minimal, "journeys:", "http: {ca_cert: nope.pem}\njourneys:", 1), "4: http.ca_cert:"},
		{"target", strings.Replace(minimal, "name: t", "name: t\ntarget: ftp://x", 1), `2: target: "ftp://x": want embedded, or a URL`},
		{"slo", strings.Replace(minimal, "journeys:", "slo: {p99: 800}\njourneys:", 1), `4: slo.p99: SLO p99: "800" is not a positive duration`},
		{"slo with two quantiles", strings.Replace(minimal, "journeys:", "slo: {p99: 800ms, p90: 1s}\njourneys:", 1), "4: slo.p90: an SLO has one latency quantile"},
		{"gate", strings.Replace(minimal, "journeys:", "gates: [\"p99<800ms\", \"latency<1s\"]\njourneys:", 1), `4: gates[1]: gate "latency<1s": unknown metric "latency"`},
		{"gate on a step the scenario lacks", strings.Replace(minimal, "journeys:", "gates: [\"p99{step:sx}<1s\"]\njourneys:", 1), `4: gates[0]: gate "p99{step:sx}<1s": no step "sx" in the scenario (did you mean "s"?)`},
		{"gate window longer than the run", strings.Replace(minimal, "journeys:", "gates: [\"p99<1s over 1m\"]\njourneys:", 1), `4: gates[0]: gate "p99<1s over 1m": the 1m0s window is longer than the run (10s)`},
		{"gate that does not parse", strings.Replace(minimal, "journeys:", "gates: [\"p99<1s over\"]\njourneys:", 1), `4: gates[0]: gate "p99<1s over": over: want a window like 10s`},
		{"embedded profile", strings.Replace(minimal, "journeys:", "embedded: {stack_profile: robust}\njourneys:", 1), `4: embedded.stack_profile: "robust" is not naive or hardened`},
		{"outage after the end", minimal + "outages: [{station: nexi, start: 1m, duration: 1m}]\n", "8: outages[0].start: starts at 1m0s, after the profile's end at 10s"},
		{"outage station", minimal + "outages: [{station: NEXI, start: 1s, duration: 1m}]\n", `8: outages[0].station: "NEXI" is not a station name`},
		{"feeder file missing", minimal + "data: [{name: users, file: nope.csv}]\n", "8: data[0].file: open"},
		{"feeder mode", minimal + "data: [{name: users, file: u.csv, mode: shuffled}]\n", `8: data[0].mode: "shuffled" is not sequential, random or unique`},
		{"alias bomb", aliasBomb(), "3: the scenario file is too large"},
		{"merge of a scalar", scenarioWith("      - {<<: 1, name: s, path: /}"), "7: journeys[0].steps[0]: a merge (<<) takes a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := parseErr(t, tt.src)
			want := "test.yaml:" + tt.want
			found := false
			for _, line := range strings.Split(msg, "\n") {
				if strings.HasPrefix(line, want) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no problem starts with\n\t%s\ngot:\n%s", want, msg)
			}
		})
	}
}

// aliasBomb is a small file that expands to a million header values.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("name: t\nprofile: [{hold: {rate: 1/s, duration: 1s}}]\nheaders: &h {")
	for i := range 1000 {
		fmt.Fprintf(&b, "X-%d: v, ", i)
	}
	b.WriteString("}\nstep: &s {name: s, path: /, headers: *h}\njourneys: [{name: j, steps: [")
	b.WriteString(strings.Repeat("*s, ", 1000))
	b.WriteString("]}]\n")
	return b.String()
}

func TestParseReportsEveryProblemInFileOrder(t *testing.T) {
	src := withLines(
		"name: t",
		"profile:",
		"  - hold: {rate: 6000, duration: 10s}",
		"journeys:",
		"  - name: j",
		"    weight: -1",
		"    steps:",
		"      - {name: s, path: '/{{.Vars.x}}', think: {median: 2s, p95: 1s}}",
		"gates: [p99]",
	)
	_, err := Parse("test.yaml", []byte(src))
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	var lines []int
	for _, p := range verr.Problems {
		lines = append(lines, p.Line)
	}
	want := []int{3, 6, 8, 8, 9}
	if len(lines) != len(want) {
		t.Fatalf("problems at lines %v, want %v:\n%v", lines, want, err)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("problems at lines %v, want %v:\n%v", lines, want, err)
		}
	}
	if got := strings.Count(err.Error(), "\n") + 1; got != len(want) {
		t.Fatalf("message has %d lines, want one per problem:\n%v", got, err)
	}
}

func TestParseDefaultsAndShapes(t *testing.T) {
	s := mustParse(t, withLines(
		"profile:",
		"  - ramp: {to: 100/s, duration: 10s}",
		"  - hold: {duration: 5s}",
		"  - spike: {to: 300/s, duration: 1s}",
		"  - ramp: {to: 0/s, duration: 10s}",
		"  - sine: {base: 50/s, amplitude: 10/s, period: 4s, duration: 8s}",
		"  - decay: {to: 1/s, duration: 70s}",
		"  - stairs: {from: 10/s, to: 25/s, step: 10/s, hold: 5s, ramp: 1s}",
		"journeys:",
		"  - name: j",
		"    headers: {Authorization: 'Bearer x', x-trace: '{{uuid}}'}",
		"    steps:",
		"      - &base",
		"        name: a",
		"        method: post",
		"        path: /a",
		"        body: '{}'",
		"        think: 1s",
		"        headers: {authorization: 'Bearer y'}",
		"      - <<: *base",
		"        name: b",
		"        poll: {field: status, while: PENDING, interval: 1s}",
		"        retry: {}",
	))
	if s.Name != "test" || s.Target != "embedded" || s.Seed != 1 || s.Source != "test.yaml" {
		t.Errorf("defaults: name %q target %q seed %d source %q", s.Name, s.Target, s.Seed, s.Source)
	}
	if s.HTTP.Timeout != 10*time.Second || s.HTTP.Version != "auto" || s.Embedded.StackProfile != "naive" {
		t.Errorf("http defaults %+v, embedded %+v", s.HTTP, s.Embedded)
	}
	if s.SLO != reports.DefaultSLO {
		t.Errorf("SLO = %+v, want the default", s.SLO)
	}
	if s.Epoch.IsZero() || s.Epoch.YearDay() != 1 {
		t.Errorf("Epoch = %s, want the start of a year", s.Epoch)
	}
	wantStages := []Stage{
		{Kind: Ramp, From: 0, To: 100, Duration: 10 * time.Second},
		{Kind: Hold, From: 100, To: 100, Duration: 5 * time.Second},
		{Kind: Spike, From: 100, To: 300, Duration: time.Second},
		{Kind: Ramp, From: 100, To: 0, Duration: 10 * time.Second}, // after a spike, back to the level before it
		{Kind: Sine, From: 50, Amplitude: 10, Period: 4 * time.Second, Duration: 8 * time.Second},
		{Kind: Decay, From: 50, To: 1, Duration: 70 * time.Second, HalfLife: 10 * time.Second},
		{Kind: Ramp, From: 1, To: 10, Duration: time.Second},
		{Kind: Hold, From: 10, To: 10, Duration: 5 * time.Second},
		{Kind: Ramp, From: 10, To: 20, Duration: time.Second},
		{Kind: Hold, From: 20, To: 20, Duration: 5 * time.Second},
		{Kind: Ramp, From: 20, To: 25, Duration: time.Second},
		{Kind: Hold, From: 25, To: 25, Duration: 5 * time.Second},
	}
	if len(s.Profile.Stages) != len(wantStages) {
		t.Fatalf("%d stages, want %d: %+v", len(s.Profile.Stages), len(wantStages), s.Profile.Stages)
	}
	for i, want := range wantStages {
		got := s.Profile.Stages[i]
		got.Line = 0
		if got != want {
			t.Errorf("stage %d = %+v, want %+v", i, got, want)
		}
	}
	a, b := s.Journeys[0].Steps[0], s.Journeys[0].Steps[1]
	if a.Method != "POST" || a.Think != (Think{time.Second, time.Second}) {
		t.Errorf("step a: method %q think %+v", a.Method, a.Think)
	}
	var names []string
	for _, h := range a.Headers {
		names = append(names, h.Name+"="+h.Value.String())
	}
	if got := strings.Join(names, " "); got != "X-Trace={{uuid}} Authorization=Bearer y Content-Type=application/json" {
		t.Errorf("step a headers: %s", got)
	}
	if b.Path.String() != "/a" || b.Method != "POST" || b.Poll == nil || b.Poll.Max != 10 {
		t.Errorf("merged step b: path %q method %q poll %+v", b.Path, b.Method, b.Poll)
	}
	if b.Retry == nil || b.Retry.Probability != 1 || b.Retry.MaxAttempts != 3 {
		t.Errorf("retry defaults: %+v", b.Retry)
	}
}

func TestParseFullScenario(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"ca.pem", "client.pem", "client.key", "banks.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := withLines(
		"name: full",
		"description: every section",
		"target: https://staging.example.com:8443/wallet/",
		"seed: -42",
		"profile: [{hold: {rate: 300/m, duration: 1m}}]",
		"http: {timeout: 3s, insecure: true, version: '2', ca_cert: ca.pem, client_cert: client.pem, client_key: client.key, headers: {user-agent: stampede}}",
		"slo: {p90: 300ms, errors: 2%}",
		"gates: p99<1s",
		"embedded: {stack_profile: hardened, db: 'postgres://u@h/db', banks: banks.yaml}",
		"outages: [{station: nexi, start: 0s, duration: 30s}]",
		"journeys: [{name: j, steps: [{name: s, path: /, timeout: 2s, expect: 204}]}]",
	)
	path := filepath.Join(dir, "full.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Target != "https://staging.example.com:8443/wallet" || s.Seed != -42 || s.Description != "every section" {
		t.Errorf("target %q seed %d description %q", s.Target, s.Seed, s.Description)
	}
	want := HTTPOptions{Timeout: 3 * time.Second, Insecure: true, Version: "2",
		CACert: filepath.Join(dir, "ca.pem"), ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client.key"),
		Headers: map[string]string{"User-Agent": "stampede"}}
	if s.HTTP.Timeout != want.Timeout || s.HTTP.CACert != want.CACert || s.HTTP.ClientKey != want.ClientKey || s.HTTP.Headers["User-Agent"] != "stampede" || !s.HTTP.Insecure || s.HTTP.Version != "2" {
		t.Errorf("HTTP = %+v, want %+v", s.HTTP, want)
	}
	if s.SLO.Quantile != 0.90 || s.SLO.Latency != 300*time.Millisecond || s.SLO.ErrorBudget != 0.02 {
		t.Errorf("SLO = %+v", s.SLO)
	}
	if len(s.Gates) != 1 || s.Gates[0].Metric != "p99" || s.Gates[0].Threshold != 1000 {
		t.Errorf("Gates = %+v", s.Gates)
	}
	if s.Embedded.StackProfile != "hardened" || s.Embedded.Banks != filepath.Join(dir, "banks.yaml") {
		t.Errorf("Embedded = %+v", s.Embedded)
	}
	if len(s.Outages) != 1 || s.Outages[0] != (Outage{Station: "nexi", Start: 0, Duration: 30 * time.Second, Line: 10}) {
		t.Errorf("Outages = %+v", s.Outages)
	}
	st := s.Journeys[0].Steps[0]
	if st.Timeout != 2*time.Second || len(st.Expect) != 1 || st.Expect[0] != 204 {
		t.Errorf("step timeout %s expect %v", st.Timeout, st.Expect)
	}
	if got := s.Profile.Peak(); got != 5 {
		t.Errorf("300/m peak = %v, want 5/s", got)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v; want ErrInvalid and fs.ErrNotExist", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range stockNames() {
		src, err := stockFS.ReadFile("stock/" + name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte(minimal))
	f.Add([]byte("name: x\nprofile: [\n"))
	f.Add([]byte("a: &a [x, x]\nb: [*a, *a]\n<<: *a\n"))
	f.Add([]byte(scenarioWith("      - {name: s, path: '/{{.Vars.x}}{{randInt 1 2}}', retry: {on: [0, 503]}, poll: {field: 'a[0]', while: x, interval: 1s}}")))
	f.Add([]byte(minimal + "data: [{name: u, file: u.csv}]\nprofile: [{stairs: {to: 100/s, step: 1/s, hold: 1s}}]\n"))
	files := fstest.MapFS{"u.csv": {Data: []byte("id,token\n1,a\n2,b\n")}}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := parseScenario("fuzz.yaml", src, fsFiles{fsys: files})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("the parser panicked: %v", err)
			}
			return
		}
		if s.Profile == nil || s.Profile.Duration() <= 0 || len(s.Journeys) == 0 {
			t.Fatalf("a valid scenario without a profile or journeys: %+v", s)
		}
		u, err := s.NewUser(1)
		if err != nil {
			return
		}
		j := s.PickJourney(u)
		for _, st := range j.Steps {
			if _, err := st.Build(u, "http://h"); err != nil {
				return // a variable from an earlier response is missing: expected here
			}
		}
		s.Profile.Pace(s.Profile.Duration()/2, 0)
	})
}

func TestFormatDocParses(t *testing.T) {
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), "```yaml\n")
	src, _, _ := strings.Cut(rest, "```")
	files := fstest.MapFS{
		"users.csv": {Data: []byte("id\n1\n")}, "ca.pem": {}, "client.pem": {}, "client.key": {},
	}
	s, err := parseScenario("FORMAT.md", []byte(src), fsFiles{fsys: files})
	if err != nil {
		t.Fatalf("the example in FORMAT.md does not parse:\n%v", err)
	}
	if len(s.Profile.Stages) != 5+20 || len(s.Outages) != 1 || s.Login == nil {
		t.Errorf("stages %d outages %d", len(s.Profile.Stages), len(s.Outages))
	}
}

func TestNameFromFileIsSafe(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a\x1b[2Jb..c.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(minimal, "name: t\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a_[2Jb__c"; s.Name != want {
		t.Fatalf("name = %q, want %q", s.Name, want)
	}
}

func TestLoadRefusesHugeFiles(t *testing.T) {
	for _, path := range []string{"/dev/zero", writeHuge(t)} {
		_, err := Load(path)
		if !errors.Is(err, ErrInvalid) || !errors.Is(err, textfile.ErrTooLarge) {
			t.Fatalf("Load(%s) = %v; want ErrInvalid and ErrTooLarge", path, err)
		}
		if len(err.Error()) > 200 {
			t.Fatalf("error of %d bytes", len(err.Error()))
		}
	}
}

// writeHuge writes a scenario of keys just over the size limit.
func writeHuge(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "huge.yaml")
	var b strings.Builder
	for i := 0; b.Len() <= textfile.MaxConfig; i++ {
		fmt.Fprintf(&b, "k%d: v\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
