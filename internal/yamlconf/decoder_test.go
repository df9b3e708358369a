package yamlconf

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var errTest = errors.New("invalid test file")

// decode parses src and reads it as one mapping of allowed keys with read,
// returning the problems one a line ("" when none).
func decode(src string, allowed []string, read func(o *Object)) string {
	d := New("t.yaml", "test file")
	o := d.Object(d.Parse([]byte(src)), "", allowed)
	if read != nil {
		read(o)
	}
	if err := d.Err(errTest); err != nil {
		return err.Error()
	}
	return ""
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name, src string
		allowed   []string
		read      func(o *Object)
		want      string
	}{
		{"unknown key with a suggestion", "servrs: 1\n", []string{"servers", "queue"}, nil,
			`t.yaml:1: servrs: unknown key (did you mean "servers"?); want one of: servers, queue`},
		{"unknown key without one", "xyz: 1\n", []string{"servers", "queue"}, nil,
			"t.yaml:1: xyz: unknown key; want one of: servers, queue"},
		{"repeated key", "a: 1\nb: 2\na: 3\n", nil, nil, "t.yaml:3: a: appears twice (first at line 1)"},
		{"not a mapping", "- a\n", nil, nil, "t.yaml:1: want a mapping (key: value), got a list"},
		{"second document", "a: 1\n---\na: 2\n", nil, nil, "t.yaml:2: a test file holds one YAML document; found a second one"},
		{"syntax, parser's line counted from 0", "a:\n  b: {c: 3\nd: 2\n", nil, nil, "t.yaml:2: yaml: did not find expected ',' or '}'"},
		{"syntax at the end of the file", "a: x\nb: [\n", nil, nil, "t.yaml:2: yaml: did not find expected node content"},
		{"syntax, scanner's line", "a: x\n\tb: 1\n", nil, nil, "t.yaml:2: yaml: found a tab character that violates indentation"},
		{"required", "a: 1\n", nil, func(o *Object) { o.Require("a", "b") }, "t.yaml:1: b: is required"},
		{"merge of a scalar", "a: 1\n<<: 2\n", nil, nil, "t.yaml:2: a merge (<<) takes a mapping, got \"2\""},
		{"merged keys lose to explicit ones", "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  x: 3\n", nil, func(o *Object) {
			m := o.d.Object(o.Raw("m"), "m", []string{"x", "y"})
			if x, _ := m.Int("x", 0, 9); x != 3 {
				o.d.Add(nil, "m.x", "got %d", x)
			}
			if y, _ := m.Int("y", 0, 9); y != 2 {
				o.d.Add(nil, "m.y", "got %d", y)
			}
		}, ""},
		{"one problem per mistake", "a: &x {n: -1}\nb: *x\n", nil, func(o *Object) {
			for _, k := range []string{"a", "b"} {
				o.d.Object(o.Raw(k), "defaults", nil).Int("n", 0, 9)
			}
		}, "t.yaml:1: defaults.n: -1 is out of range [0, 9]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decode(tt.src, tt.allowed, tt.read); got != tt.want {
				t.Errorf("got\n\t%s\nwant\n\t%s", got, tt.want)
			}
		})
	}
}

func TestReaders(t *testing.T) {
	src := `d: 1m30s
zero: 0
neg: -1s
nounit: 25
long: 20000h
word: soon
n: 12
frac: 2.5
big: 99
pos: -3
num: 1e3
nan: .nan
p: 70%
pbad: 1.5
b: yes
bb: true
e: lifo
list: [a, b]
one: a
m: {k: v}
`
	d := New("t.yaml", "test file")
	o := d.Object(d.Parse([]byte(src)), "", nil)
	if v, ok := o.Duration("d", false); !ok || v != 90*time.Second {
		t.Errorf("d = %v %v", v, ok)
	}
	if v, ok := o.Duration("zero", true); !ok || v != 0 {
		t.Errorf("zero = %v %v", v, ok)
	}
	for _, k := range []string{"zero", "neg", "nounit", "long", "word", "m"} {
		if _, ok := o.Duration(k, k == "neg"); ok {
			t.Errorf("duration %s accepted", k)
		}
	}
	if v, ok := o.Int("n", 1, 100); !ok || v != 12 {
		t.Errorf("n = %v %v", v, ok)
	}
	for _, k := range []string{"frac", "big"} {
		if _, ok := o.Int(k, 1, 50); ok {
			t.Errorf("int %s accepted", k)
		}
	}
	if v, ok := o.Number("num"); !ok || v != 1000 {
		t.Errorf("num = %v %v", v, ok)
	}
	if _, ok := o.Number("nan"); ok {
		t.Error("NaN accepted")
	}
	if _, ok := o.Positive("pos"); ok {
		t.Error("negative accepted as positive")
	}
	if v, ok := o.Probability("p"); !ok || v != 0.7 {
		t.Errorf("p = %v %v", v, ok)
	}
	if _, ok := o.Probability("pbad"); ok {
		t.Error("probability 1.5 accepted")
	}
	if v, ok := o.Bool("bb"); !ok || !v {
		t.Errorf("bb = %v %v", v, ok)
	}
	if _, ok := o.Bool("b"); ok {
		t.Error("yes accepted as a bool") // YAML 1.1's yes is not Go's
	}
	if _, ok := o.Enum("e", "fifo", "ps"); ok {
		t.Error("enum lifo accepted")
	}
	if got := len(o.List("list", false)); got != 2 {
		t.Errorf("list has %d items", got)
	}
	if got := len(o.List("one", true)); got != 1 {
		t.Errorf("a scalar as a list has %d items", got)
	}
	if got := len(o.List("one", false)); got != 0 {
		t.Errorf("a scalar where a list is wanted has %d items", got)
	}
	if v, ok := Parsed(o, "n", func(s string) (string, error) { return "", fmt.Errorf("%s is odd", s) }); ok || v != "" {
		t.Error("a parser's error did not fail the read")
	}
	if _, ok := o.Int("absent", 0, 1); ok {
		t.Error("an absent key read as ok")
	}
	want := []string{
		"t.yaml:2: zero: 0 must be positive",
		"t.yaml:3: neg: -1s must not be negative",
		`t.yaml:4: nounit: "25" has no unit: write a duration like 500ms, 5m or 3h`,
		"t.yaml:5: long: 20000h is longer than the maximum of 10000h0m0s",
		`t.yaml:6: word: "soon" is not a duration like 500ms, 5m or 3h`,
		`t.yaml:20: m: want a duration like 500ms, 5m or 3h, got a mapping`,
		`t.yaml:8: frac: "2.5" is not a whole number`,
		"t.yaml:9: big: 99 is out of range [1, 50]",
		`t.yaml:12: nan: ".nan" is not a number`,
		"t.yaml:10: pos: -3 must be positive",
		`t.yaml:14: pbad: probability "1.5" must be between 0 and 1 (or 0% and 100%)`,
		`t.yaml:15: b: "yes" is not true or false`,
		`t.yaml:17: e: "lifo" is not fifo or ps`,
		`t.yaml:19: one: want a list, got "a"`,
		"t.yaml:7: n: 12 is odd",
	}
	err := d.Err(errTest)
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("problems:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestErrorMatchesItsSentinel(t *testing.T) {
	d := New("t.yaml", "test file")
	d.AddAt(3, "a", "bad")
	d.AddAt(1, "b", "worse")
	d.SortByLine()
	err := d.Err(errTest)
	if !errors.Is(err, errTest) {
		t.Fatal("the error does not match its sentinel")
	}
	ps := err.(interface{ Unwrap() []error }).Unwrap()
	if len(ps) != 2 || ps[0].Error() != "t.yaml:1: b: worse" || ps[1].Error() != "t.yaml:3: a: bad" {
		t.Fatalf("problems %v", ps)
	}
	for _, p := range ps {
		if !errors.Is(p, errTest) {
			t.Errorf("problem %v does not match the sentinel", p)
		}
	}
	if New("t.yaml", "test file").Err(errTest) != nil {
		t.Error("no problems gave an error")
	}
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f", Line: 2, Key: "k", Message: "m"}, "f:2: k: m"},
		{Problem{File: "f", Message: "m"}, "f: m"},
		{Problem{Line: 2, Key: "k", Message: "m"}, "line 2: k: m"},
		{Problem{Key: "k", Message: "m"}, "k: m"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	// A billion laughs: nine levels of nine aliases.
	var b strings.Builder
	b.WriteString("l0: &l0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("top: *l8\n")
	d := New("t.yaml", "test file")
	count := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n = d.Resolve(n); n == nil {
			return
		}
		count++
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(d.Parse([]byte(b.String())))
	if !d.Full() || count > MaxNodes {
		t.Fatalf("visited %d nodes, full %v", count, d.Full())
	}
	if err := d.Err(errTest); err == nil || !strings.Contains(err.Error(), "the test file is too large: over 200000 YAML nodes") {
		t.Errorf("got %v", err)
	}

	d = New("t.yaml", "test file")
	for i := range MaxProblems + 5 {
		d.AddAt(i+1, "k", "problem %d", i)
	}
	err := d.Err(errTest).(*Error)
	if len(err.Problems) != MaxProblems+1 || err.Problems[MaxProblems].Message != "and 5 more problems" {
		t.Errorf("%d problems, last %q", len(err.Problems), err.Problems[len(err.Problems)-1].Message)
	}
}

// FuzzDecode feeds arbitrary files to the decoder: it never panics, and
// every problem names the file and a line inside it (or none).
func FuzzDecode(f *testing.F) {
	f.Add([]byte("a: 1\nb: [x, y]\nc: {d: 2s}\n"))
	f.Add([]byte("a: &x {n: 1}\nb: *x\n<<: *x\n"))
	f.Add([]byte("a: [\n"))
	f.Add([]byte("- 1\n---\n- 2\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		d := New("f.yaml", "fuzz file")
		o := d.Object(d.Parse(src), "", []string{"a", "b", "c"})
		for _, k := range o.Keys() {
			o.Duration(k, true)
			o.Int(k, 0, 10)
			o.Probability(k)
			for _, item := range o.List(k, true) {
				d.Object(item, k, nil).Keys()
			}
		}
		// YAML ends a line at CR, LF, CRLF, NEL, LS or PS.
		lines := 1 + len(regexp.MustCompile("\r\n|[\r\n\u0085\u2028\u2029]").FindAll(src, -1))
		err := d.Err(errTest)
		if err == nil {
			return
		}
		for _, p := range err.(*Error).Problems {
			if p.File != "f.yaml" || p.Line < 0 || p.Line > lines {
				t.Fatalf("problem %+v outside a file of %d lines", p, lines)
			}
		}
	})
}
