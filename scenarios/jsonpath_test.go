package scenarios

import (
	"reflect"
	"testing"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want string // canonical form, "" for an error
	}{
		{"searchId", "$.searchId"},
		{"data.cards[0].hpan", "$.data.cards[0].hpan"},
		{"$.a.b", "$.a.b"},
		{"$", "$"},
		{".a", "$.a"},
		{"[0]", "$[0]"},
		{"$[0][1]", "$[0][1]"},
		{"cards[-1]", "$.cards[-1]"},
		{`$["a.b"]`, `$["a.b"]`},
		{`$['x"y.z']`, `$['x"y.z']`},
		{`a["b"].c`, "$.a.b.c"},
		{"a b.c", "$.a b.c"},
		{"", ""},
		{"a..b", ""},
		{"a.", ""},
		{"$a", ""},
		{"a[", ""},
		{"a[x]", ""},
		{"a[1", ""},
		{"a]", ""},
		{`a["b]`, ""},
		{`a["b"`, ""},
		{"a[0]b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := parsePath(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("parsePath(%q) = %v, want an error", tt.in, p)
				}
				return
			}
			if err != nil || p.String() != tt.want {
				t.Fatalf("parsePath(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
			}
		})
	}
}

func FuzzJSONPath(f *testing.F) {
	f.Add("data.cards[0].hpan", []byte(`{"data":{"cards":[{"hpan":"x"}]}}`))
	f.Add("$[-1]", []byte(`[1,2,3]`))
	f.Add(`$['a.b']["c"]`, []byte(`{"a.b":{"c":null}}`))
	f.Add("a", []byte(`not json`))
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		p, err := parsePath(path)
		if err != nil {
			return
		}
		again, err := parsePath(p.String())
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("%q compiles to %v, whose canonical form %q compiles to %v, %v", path, p, p.String(), again, err)
		}
		if doc, err := decodeJSON(body); err == nil {
			if v, ok := p.lookup(doc); ok {
				text(v)
			}
		}
		st := &Step{Name: "s", Extract: []Extraction{{Var: "v", Path: path, path: p}}}
		_ = st.ExtractFrom(&User{}, body)
		(&Poll{Field: path, field: p, While: "x"}).Again(body)
	})
}
