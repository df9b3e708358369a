package scenarios

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// launchDay returns the stock launch-day scenario and one of its steps by
// journey and step name ("" journey for the login).
func launchDay(t testing.TB, journey, step string) (*Scenario, *Step) {
	t.Helper()
	s, err := LoadStock("launch-day")
	if err != nil {
		t.Fatal(err)
	}
	if journey == "" {
		return s, s.Login
	}
	for _, j := range s.Journeys {
		if j.Name != journey {
			continue
		}
		for _, st := range j.Steps {
			if st.Name == step {
				return s, st
			}
		}
	}
	t.Fatalf("no step %s in journey %s", step, journey)
	return nil, nil
}

func TestBuildRendersValidRequests(t *testing.T) {
	s, login := launchDay(t, "", "")
	_, iban := launchDay(t, "enroll-and-add-card", "set-iban")
	_, bancomat := launchDay(t, "enroll-and-add-card", "bancomat-search")
	_, add := launchDay(t, "enroll-and-add-card", "add-card")
	_, activate := launchDay(t, "enroll-and-add-card", "activate")
	const base = "http://127.0.0.1:8080"
	for i := range uint64(200) {
		u, err := s.NewUser(i * 7919)
		if err != nil {
			t.Fatal(err)
		}
		id := u.Identity()
		u.Vars["token"] = "tok-" + fmt.Sprint(i)
		u.Vars["hpan"] = synth.HPAN(id.PAN, "salt")

		req, err := login.Build(u, base)
		if err != nil {
			t.Fatal(err)
		}
		var lb struct{ FiscalCode string }
		if err := json.Unmarshal(req.Body, &lb); err != nil || synth.ValidFiscalCode(lb.FiscalCode) != nil {
			t.Fatalf("login body %s: %v", req.Body, err)
		}
		if req.Method != "POST" || req.URL != base+"/api/v1/session" || req.Header.Get("Content-Type") != "application/json" || req.Header.Get("Authorization") != "" {
			t.Fatalf("login request %+v", req)
		}

		req, err = iban.Build(u, base)
		if err != nil {
			t.Fatal(err)
		}
		var ib struct{ IBAN, Holder string }
		if err := json.Unmarshal(req.Body, &ib); err != nil || synth.ValidIBAN(ib.IBAN) != nil || ib.Holder != id.Name+" "+id.Surname {
			t.Fatalf("set-iban body %s: %v", req.Body, err)
		}
		if req.Header.Get("Authorization") != "Bearer tok-"+fmt.Sprint(i) {
			t.Fatalf("set-iban headers %v", req.Header)
		}

		req, err = bancomat.Build(u, base)
		if err != nil {
			t.Fatal(err)
		}
		if want := base + "/api/v1/bancomat/cards?abi=" + synth.ABIOfIBAN(id.IBAN); req.URL != want || req.Body != nil {
			t.Fatalf("bancomat URL %s, want %s", req.URL, want)
		}

		req, err = add.Build(u, base)
		if err != nil {
			t.Fatal(err)
		}
		var card struct{ PAN, Expiry, CVV, Holder string }
		if err := json.Unmarshal(req.Body, &card); err != nil {
			t.Fatalf("add-card body %s: %v", req.Body, err)
		}
		if !synth.ValidPAN(card.PAN) || len(card.CVV) != 3 || card.Holder != id.Name+" "+id.Surname {
			t.Fatalf("add-card body %s", req.Body)
		}
		if expired, err := synth.ExpiredAt(card.Expiry, s.Epoch); err != nil || expired {
			t.Fatalf("expiry %s: expired %v, %v", card.Expiry, expired, err)
		}
		if key := req.Header.Get("Idempotency-Key"); len(key) != 36 || key[14] != '4' {
			t.Fatalf("Idempotency-Key %q is not a UUID", key)
		}

		req, err = activate.Build(u, base)
		if err != nil {
			t.Fatal(err)
		}
		if req.Method != "PUT" || req.URL != base+"/api/v1/cashback/cards/"+synth.HPAN(id.PAN, "salt") || req.Body != nil || req.Header.Get("Content-Type") != "" {
			t.Fatalf("activate request %+v", req)
		}
	}
}

func TestBuildIsDeterministicPerUser(t *testing.T) {
	s, add := launchDay(t, "enroll-and-add-card", "add-card")
	render := func(index uint64) string {
		u, _ := s.NewUser(index)
		u.Vars["token"] = "t"
		r, err := add.Build(u, "")
		if err != nil {
			t.Fatal(err)
		}
		return string(r.Body) + r.Header.Get("Idempotency-Key")
	}
	if render(5) != render(5) {
		t.Error("the same user rendered two different requests")
	}
	if render(5) == render(6) {
		t.Error("two users rendered the same request")
	}
}

func TestBuildFailsWithoutItsVariables(t *testing.T) {
	s, activate := launchDay(t, "enroll-and-add-card", "activate")
	u, _ := s.NewUser(1)
	u.Vars["token"] = "t"
	_, err := activate.Build(u, "")
	if err == nil || !strings.Contains(err.Error(), "step activate") || !strings.Contains(err.Error(), "hpan") {
		t.Fatalf("Build without hpan: %v; want an error naming the step and the variable", err)
	}
}

func TestBuildConcurrently(t *testing.T) {
	s, add := launchDay(t, "enroll-and-add-card", "add-card")
	const users = 64
	want := make([]string, users)
	render := func(i int) string {
		u, _ := s.NewUser(uint64(i))
		u.Vars["token"] = "t"
		r, err := add.Build(u, "")
		if err != nil {
			t.Error(err)
			return ""
		}
		return string(r.Body) + r.Header.Get("Idempotency-Key")
	}
	for i := range users {
		want[i] = render(i)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < users; i += 4 {
				if got := render(i); got != want[i] {
					t.Errorf("user %d rendered %q concurrently, %q alone", i, got, want[i])
				}
			}
		}()
	}
	wg.Wait()
}

func TestTemplateFunctions(t *testing.T) {
	s := mustParse(t, minimal)
	u, _ := s.NewUser(3)
	u.Vars["quote"] = "a \"quoted\"\nline\\ <b>"
	u.Vars["salt"] = "the stack's salt"
	tests := []struct {
		name  string
		src   string
		check func(string) bool
	}{
		{"json escapes", `{"v":"{{json .Vars.quote}}"}`, func(out string) bool {
			var v struct{ V string }
			return json.Unmarshal([]byte(out), &v) == nil && v.V == u.Vars["quote"]
		}},
		{"json of a number", `{{json .Index}}`, func(out string) bool { return out == "3" }},
		{"hpan", `{{hpan .PAN .Vars.salt}}`, func(out string) bool {
			return out == synth.HPAN(u.Identity().PAN, "the stack's salt") && out != synth.HPAN(u.Identity().PAN, "")
		}},
		{"randInt is inclusive", `{{randInt 1 1}}`, func(out string) bool { return out == "1" }},
		{"randInt in range", `{{randInt -5 5}}`, func(out string) bool {
			var n int
			_, err := fmt.Sscan(out, &n)
			return err == nil && n >= -5 && n <= 5
		}},
		{"uuid", `{{uuid}}`, func(out string) bool { return len(out) == 36 && out[14] == '4' }},
		{"identity", `{{.FiscalCode}} {{.IBAN}} {{.ABI}} {{.Expiry}} {{.CVV}}`, func(out string) bool {
			id := u.Identity()
			return out == strings.Join([]string{id.FiscalCode, id.IBAN, id.Bank.ABI, id.Expiry, id.CVV}, " ")
		}},
		{"with changes dot", `{{with .Vars}}{{.quote | len}}{{end}}`, func(out string) bool { return out == fmt.Sprint(len(u.Vars["quote"])) }},
		{"constant", `no template here`, func(out string) bool { return out == "no template here" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := NewTemplate("t", tt.src)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tmpl.Execute(u)
			if err != nil || !tt.check(out) {
				t.Fatalf("%s rendered %q, %v", tt.src, out, err)
			}
		})
	}
	if c := ConstTemplate("{{not a template}}"); !c.Constant() || c.String() != "{{not a template}}" {
		t.Errorf("ConstTemplate is not constant")
	}
	var nilT *Template
	if out, err := nilT.Execute(nil); out != "" || err != nil {
		t.Errorf("nil template rendered %q, %v", out, err)
	}
}

func TestSucceeded(t *testing.T) {
	tests := []struct {
		expect []int
		code   int
		want   bool
	}{
		{nil, 200, true},
		{nil, 204, true},
		{nil, 299, true},
		{nil, 301, false},
		{nil, 0, false},
		{nil, 503, false},
		{[]int{201}, 201, true},
		{[]int{201}, 200, false},
		{[]int{200, 404}, 404, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/%d", tt.expect, tt.code), func(t *testing.T) {
			st := &Step{Expect: tt.expect}
			if got := st.Succeeded(tt.code); got != tt.want {
				t.Fatalf("Succeeded(%d) = %v", tt.code, got)
			}
		})
	}
}

func TestExtractFrom(t *testing.T) {
	body := []byte(`{"token":"abc","n":12.50,"ok":true,"data":{"cards":[{"hpan":"h0"},{"hpan":"h1"}]},"nil":null,"obj":{"a":[1, 2]}}`)
	tests := []struct {
		path    string
		want    string
		wantErr string
	}{
		{"token", "abc", ""},
		{"$.token", "abc", ""},
		{"n", "12.50", ""},
		{"ok", "true", ""},
		{"data.cards[0].hpan", "h0", ""},
		{"data.cards[-1].hpan", "h1", ""},
		{"$.data['cards'][1].hpan", "h1", ""},
		{"obj", `{"a":[1,2]}`, ""},
		{"data.cards[2].hpan", "", `step s: extract v: path "data.cards[2].hpan" not found in the response`},
		{"missing", "", `path "missing" not found`},
		{"token.x", "", "not found"},
		{"nil", "", `path "nil" is null`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := parsePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			st := &Step{Name: "s", Extract: []Extraction{{Var: "v", Path: tt.path, path: p}}}
			u := &User{}
			err = st.ExtractFrom(u, body)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || u.Vars["v"] != tt.want {
				t.Fatalf("v = %q, %v; want %q", u.Vars["v"], err, tt.want)
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		st := &Step{Name: "s", Extract: []Extraction{{Var: "v", Path: "a"}}}
		for _, b := range []string{"<html>", `{"a":1} trailing`, ""} {
			if err := st.ExtractFrom(&User{}, []byte(b)); err == nil || !strings.Contains(err.Error(), "step s") {
				t.Errorf("body %q: %v", b, err)
			}
		}
	})
	t.Run("nothing to extract reads nothing", func(t *testing.T) {
		if err := (&Step{}).ExtractFrom(&User{}, []byte("not json")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPollAgain(t *testing.T) {
	p := &Poll{Field: "status", While: "PENDING", Interval: 1, Max: 3}
	nested := &Poll{Field: "search.state", While: "0", Interval: 1, Max: 3}
	tests := []struct {
		name string
		p    *Poll
		body string
		want bool
	}{
		{"pending", p, `{"status":"PENDING"}`, true},
		{"completed", p, `{"status":"COMPLETED","cards":[]}`, false},
		{"missing field", p, `{"state":"PENDING"}`, false},
		{"not JSON", p, `PENDING`, false},
		{"error body", p, `{"code":"X"}`, false},
		{"number equals", nested, `{"search":{"state":0}}`, true},
		{"number differs", nested, `{"search":{"state":1}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Again([]byte(tt.body)); got != tt.want {
				t.Fatalf("Again(%s) = %v", tt.body, got)
			}
		})
	}
}

func BenchmarkBuild(b *testing.B) {
	for _, bb := range []struct{ journey, step string }{
		{"enroll-and-add-card", "add-card"},   // templated body, uuid header
		{"enroll-and-add-card", "list-banks"}, // constant path
		{"enroll-and-add-card", "activate"},   // variable in the path
	} {
		b.Run(bb.step, func(b *testing.B) {
			s, st := launchDay(b, bb.journey, bb.step)
			u, _ := s.NewUser(42)
			u.Vars["token"] = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig"
			u.Vars["hpan"] = synth.HPAN(u.Identity().PAN, "salt")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.Build(u, "http://127.0.0.1:8080"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestPlanMatchesTextTemplate(t *testing.T) {
	s := mustParse(t, minimal)
	s.Data = []*Feeder{{Name: "users", Columns: []string{"token"}, Rows: []map[string]string{{"token": "row-token"}}}}
	sources := []struct {
		src    string
		simple bool // compiles to a plan
	}{
		{`{"pan":"{{.PAN}}","expiry":"{{.Expiry}}","cvv":"{{.CVV}}","holder":"{{json .Name}} {{json .Surname}}"}`, true},
		{`/api/v1/cashback/cards/{{.Vars.hpan}}`, true},
		{`Bearer {{ .Vars.token }}`, true},
		{`{{.FiscalCode}}{{.PAN}}{{.IBAN}}{{.ABI}}{{.Index}}{{json .Index}}`, true},
		{`{{hpan .PAN .Vars.salt}}-{{uuid}}-{{uuid}}`, true},
		{`{{hpan .PAN .Data.users.token}}`, true},
		{`{{.Data.users.token}}`, true},
		{"a {{- /* comment */ -}} b {{.Name -}}   c", true},
		{`{{json .Vars.quote}}`, true},
		{`{{.Vars.missing}}`, true},
		{`{{.Data.users.missing}}`, true},
		{`{{hpan .Index .Vars.salt}}`, false},
		{`{{.Name | printf "%q"}}`, false},
		{`{{if .Vars.token}}yes{{else}}no{{end}}`, false},
		{`{{randInt 1 100}}`, false},
		{`{{$.Name}}`, false},
		{`{{printf "%s-%d" .Name .Index}}`, false},
	}
	for _, tt := range sources {
		t.Run(tt.src, func(t *testing.T) {
			fast, err := NewTemplate("t", tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if (fast.plan != nil) != tt.simple {
				t.Fatalf("compiled to a plan: %v, want %v", fast.plan != nil, tt.simple)
			}
			slow := *fast
			slow.plan = nil
			for i := range uint64(20) {
				var outs [2]string
				var errs [2]error
				for k, tmpl := range []*Template{fast, &slow} {
					u, _ := s.NewUser(i)
					u.Vars["token"] = "tok"
					u.Vars["hpan"] = "abc"
					u.Vars["salt"] = "salt"
					u.Vars["quote"] = "say \"hi\"\n"
					outs[k], errs[k] = tmpl.Execute(u)
					if b, err := tmpl.bytes(u); err == nil && errs[k] == nil && tmpl.perUser == false && string(b) != outs[k] {
						t.Fatalf("bytes %q, Execute %q", b, outs[k])
					}
				}
				if outs[0] != outs[1] || (errs[0] == nil) != (errs[1] == nil) {
					t.Fatalf("user %d: plan %q, %v; text/template %q, %v", i, outs[0], errs[0], outs[1], errs[1])
				}
			}
		})
	}
}
