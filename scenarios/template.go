package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// Template is a part of a request (path, header value, body) written as a
// text/template over a user. A template without "{{" is a constant and costs
// nothing to execute. A Template is safe for concurrent use.
//
// What a template sees as dot:
//
//	.FiscalCode .Name .Surname .PAN .Expiry .CVV .IBAN .ABI  the user's synthetic identity
//	.Index                                                    the user index
//	.Vars.NAME                                                a variable extracted by an earlier step
//	.Data.FEEDER.COLUMN                                       the user's row of a data feeder
//
// and the functions, besides text/template's own:
//
//	uuid             a random version-4 UUID, drawn from the user's generator
//	randInt LO HI    a random integer in [LO, HI], drawn from the user's generator
//	hpan PAN SALT    the hpan of a card number: SHA-256 of PAN and SALT, in hex (synth.HPAN);
//	                 the salt is the stack's, from GET /api/v1/hpan-salt
//	json S           S escaped for use inside a JSON string literal (no quotes added)
//
// Loops and nested templates (range, template, define, block) are not
// allowed: a request part does not need them and without them executing a
// template costs time proportional to its size.
type Template struct {
	src      string
	constant []byte             // src as bytes, for a constant
	tmpl     *template.Template // nil for a constant
	perUser  bool               // calls uuid or randInt, which need the executing user
	bindings *sync.Pool         // of *binding, when perUser
	refs     [][]string         // field chains read from dot, e.g. {"Vars", "token"}
	plan     plan               // non-nil for a simple template, rendered without text/template
}

// ConstTemplate returns a template that always yields s as written, even if
// s contains "{{".
func ConstTemplate(s string) *Template {
	return &Template{src: s, constant: []byte(s)}
}

// NewTemplate parses src; name is used in error messages.
func NewTemplate(name, src string) (*Template, error) {
	if !strings.Contains(src, "{{") {
		return ConstTemplate(src), nil
	}
	tmpl, err := template.New(name).Option("missingkey=error").Funcs(funcs(nil)).Parse(src)
	if err != nil {
		return nil, err
	}
	t := &Template{src: src, tmpl: tmpl}
	if err := t.inspect(); err != nil {
		return nil, fmt.Errorf("template: %s: %w", name, err)
	}
	if t.perUser {
		t.bindings = &sync.Pool{New: t.newBinding}
	}
	t.plan = compilePlan(tmpl.Tree)
	return t, nil
}

// String returns the template's source.
func (t *Template) String() string {
	if t == nil {
		return ""
	}
	return t.src
}

// Constant reports whether the template always yields the same text.
func (t *Template) Constant() bool { return t == nil || t.tmpl == nil }

// Execute renders the template for user u. Executing a non-constant
// template needs a user.
func (t *Template) Execute(u *User) (string, error) {
	if t.Constant() {
		return t.String(), nil
	}
	if t.plan != nil {
		return t.renderPlan(u)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	if err := t.execute(buf, u); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// bytes renders the template for u as bytes. The bytes of a constant
// template are shared and must not be modified.
func (t *Template) bytes(u *User) ([]byte, error) {
	if t.Constant() {
		if t == nil {
			return nil, nil
		}
		return t.constant, nil
	}
	if t.plan != nil {
		if u == nil {
			return nil, errors.New("template needs a user")
		}
		b, err := t.plan.appendTo(make([]byte, 0, len(t.src)+64), u)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", t.tmpl.Name(), err)
		}
		return b, nil
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	if err := t.execute(buf, u); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

// renderPlan renders a simple template.
func (t *Template) renderPlan(u *User) (string, error) {
	if u == nil {
		return "", errors.New("template needs a user")
	}
	var b strings.Builder
	b.Grow(len(t.src) + 32)
	if err := t.plan.render(&b, u); err != nil {
		return "", fmt.Errorf("template %s: %w", t.tmpl.Name(), err)
	}
	return b.String(), nil
}

func (t *Template) execute(buf *bytes.Buffer, u *User) error {
	if u == nil {
		return errors.New("template needs a user")
	}
	tmpl := t.tmpl
	if t.perUser {
		b := t.bindings.Get().(*binding)
		b.u = u
		defer func() {
			b.u = nil
			t.bindings.Put(b)
		}()
		tmpl = b.tmpl
	}
	return tmpl.Execute(buf, &u.dot)
}

// binding is a clone of a template whose uuid and randInt draw from the user
// executing it; bindings are pooled so concurrent users never share one.
type binding struct {
	tmpl *template.Template
	u    *User
}

func (t *Template) newBinding() any {
	b := &binding{}
	clone, err := t.tmpl.Clone()
	if err != nil { // text/template's Clone never fails; keep the shared one
		clone = t.tmpl
	}
	b.tmpl = clone.Funcs(funcs(b))
	return b
}

// funcs returns the template functions; uuid and randInt draw from b's user,
// or are placeholders for parsing when b is nil.
func funcs(b *binding) template.FuncMap {
	rng := func() *rand.Rand {
		if b == nil || b.u == nil {
			return rand.New(rand.NewPCG(0, 0))
		}
		return b.u.Rand()
	}
	return template.FuncMap{
		"uuid":    func() string { return synth.UUID(rng()) },
		"randInt": func(lo, hi int) (int, error) { return randInt(rng(), lo, hi) },
		"hpan":    synth.HPAN,
		"json":    jsonEscape,
	}
}

// randInt draws an integer in [lo, hi].
func randInt(r *rand.Rand, lo, hi int) (int, error) {
	if hi < lo {
		return 0, fmt.Errorf("randInt %d %d: the high bound is below the low one", lo, hi)
	}
	span := uint64(hi) - uint64(lo) + 1
	if span == 0 { // the whole int range
		return int(r.Uint64()), nil
	}
	return lo + int(r.Uint64N(span)), nil
}

// jsonEscape escapes a value's text for use inside a JSON string literal.
func jsonEscape(v any) string {
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	b, _ := json.Marshal(s) // a string always marshals
	return string(b[1 : len(b)-1])
}

// inspect records the fields the template reads from dot and whether it
// calls per-user functions, and rejects the constructs a request part has no
// use for.
// hpanArgs is the length of a command calling hpan at place i of a
// pipeline: the function and its two arguments, one of them from the pipe
// after the first command.
func hpanArgs(i int) int {
	if i == 0 {
		return 3
	}
	return 2
}

func (t *Template) inspect() error {
	if len(t.tmpl.Templates()) > 1 {
		return errors.New("define and block are not allowed")
	}
	var walk func(n parse.Node, root bool) error
	walkList := func(l *parse.ListNode, root bool) error {
		if l == nil {
			return nil
		}
		for _, c := range l.Nodes {
			if err := walk(c, root); err != nil {
				return err
			}
		}
		return nil
	}
	walk = func(n parse.Node, root bool) error {
		switch n := n.(type) {
		case *parse.ListNode:
			return walkList(n, root)
		case *parse.ActionNode:
			return walk(n.Pipe, root)
		case *parse.PipeNode:
			if n == nil {
				return nil
			}
			for i, c := range n.Cmds {
				// hpan needs the salt: catch the old one-argument form at
				// load rather than at the first request. A piped command
				// gets its last argument from the pipe.
				if id, ok := c.Args[0].(*parse.IdentifierNode); ok && id.Ident == "hpan" && len(c.Args) != hpanArgs(i) {
					return errors.New("hpan takes a card number and the stack's salt, as in {{hpan .PAN .Vars.salt}} (salt extracted from GET /api/v1/hpan-salt)")
				}
				if err := walk(c, root); err != nil {
					return err
				}
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				if err := walk(a, root); err != nil {
					return err
				}
			}
		case *parse.ChainNode:
			return walk(n.Node, root)
		case *parse.IfNode:
			return errors.Join(walk(n.Pipe, root), walkList(n.List, root), walkList(n.ElseList, root))
		case *parse.WithNode:
			// Inside with, dot is something else: its fields are not dot's.
			return errors.Join(walk(n.Pipe, root), walkList(n.List, false), walkList(n.ElseList, root))
		case *parse.RangeNode, *parse.BreakNode, *parse.ContinueNode:
			return errors.New("range is not allowed")
		case *parse.TemplateNode:
			return errors.New("template calls are not allowed")
		case *parse.FieldNode:
			if root {
				t.refs = append(t.refs, n.Ident)
			}
		case *parse.VariableNode:
			if len(n.Ident) > 1 && n.Ident[0] == "$" {
				t.refs = append(t.refs, n.Ident[1:])
			}
		case *parse.IdentifierNode:
			if n.Ident == "uuid" || n.Ident == "randInt" {
				t.perUser = true
			}
		}
		return nil
	}
	return walk(t.tmpl.Tree.Root, true)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putBuffer returns a buffer to the pool unless it grew large.
func putBuffer(b *bytes.Buffer) {
	if b.Cap() > 64<<10 {
		return
	}
	b.Reset()
	bufPool.Put(b)
}

// dot is what a template sees as ".": a view of its user.
type dot struct{ u *User }

// FiscalCode is the user's fiscal code.
func (d *dot) FiscalCode() string { return d.u.Identity().FiscalCode }

// Name is the user's given name.
func (d *dot) Name() string { return d.u.Identity().Name }

// Surname is the user's surname.
func (d *dot) Surname() string { return d.u.Identity().Surname }

// PAN is the user's card number.
func (d *dot) PAN() string { return d.u.Identity().PAN }

// Expiry is the user's card expiry, MM/YY.
func (d *dot) Expiry() string { return d.u.Identity().Expiry }

// CVV is the user's card security code.
func (d *dot) CVV() string { return d.u.Identity().CVV }

// IBAN is the user's bank account.
func (d *dot) IBAN() string { return d.u.Identity().IBAN }

// ABI is the 5-digit code of the user's bank.
func (d *dot) ABI() string { return d.u.Identity().Bank.ABI }

// Index is the user index.
func (d *dot) Index() uint64 { return d.u.Index }

// Vars are the user's extracted variables.
func (d *dot) Vars() map[string]string { return d.u.Vars }

// Data are the user's feeder rows by feeder name.
func (d *dot) Data() map[string]map[string]string { return d.u.Data }

// dotFields are the names a template may read from dot; identityFields are
// plain strings with no fields of their own.
var (
	dotFields      = []string{"FiscalCode", "Name", "Surname", "PAN", "Expiry", "CVV", "IBAN", "ABI", "Index", "Vars", "Data"}
	identityFields = dotFields[:9]
)
