package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"text/template/parse"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// Most request templates are text with plain substitutions: "Bearer
// {{.Vars.token}}", `{"pan":"{{.PAN}}"}`. Such a template compiles to a plan,
// a list of segments rendered without text/template's reflection, several
// times faster. Anything else runs through text/template. Both give the
// same output; TestPlanMatchesTextTemplate holds them to it.

// plan is a compiled simple template.
type plan []segment

// segment is literal text or one substitution.
type segment struct {
	text  string
	value func(u *User) (string, error) // nil for text
}

// compilePlan returns the plan of a simple template, or nil.
func compilePlan(tree *parse.Tree) plan {
	var p plan
	for _, n := range tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			p = append(p, segment{text: string(n.Text)})
		case *parse.CommentNode:
		case *parse.ActionNode:
			v := compileAction(n.Pipe)
			if v == nil {
				return nil
			}
			p = append(p, segment{value: v})
		default:
			return nil
		}
	}
	return p
}

// compileAction compiles {{.F}}, {{uuid}}, {{json .F}} and {{hpan .F .G}}.
func compileAction(pipe *parse.PipeNode) func(*User) (string, error) {
	if pipe == nil || len(pipe.Decl) > 0 || len(pipe.Cmds) != 1 {
		return nil
	}
	args := pipe.Cmds[0].Args
	switch {
	case len(args) == 1:
		if id, ok := args[0].(*parse.IdentifierNode); ok && id.Ident == "uuid" {
			return func(u *User) (string, error) { return synth.UUID(u.Rand()), nil }
		}
		return compileField(args[0])
	case len(args) == 2:
		id, ok := args[0].(*parse.IdentifierNode)
		field := compileField(args[1])
		if !ok || field == nil {
			return nil
		}
		switch {
		case id.Ident == "json":
			return func(u *User) (string, error) {
				s, err := field(u)
				return jsonEscape(s), err
			}
		}
	case len(args) == 3:
		id, ok := args[0].(*parse.IdentifierNode)
		pan, salt := compileField(args[1]), compileField(args[2])
		if !ok || id.Ident != "hpan" || pan == nil || salt == nil || isIndex(args[1]) || isIndex(args[2]) {
			return nil
		}
		return func(u *User) (string, error) {
			p, err := pan(u)
			if err != nil {
				return "", err
			}
			s, err := salt(u)
			return synth.HPAN(p, s), err
		}
	}
	return nil
}

func isIndex(n parse.Node) bool {
	f, ok := n.(*parse.FieldNode)
	return ok && len(f.Ident) == 1 && f.Ident[0] == "Index"
}

// compileField compiles a field of dot: an identity field, .Index,
// .Vars.NAME or .Data.FEEDER.COLUMN.
func compileField(n parse.Node) func(*User) (string, error) {
	f, ok := n.(*parse.FieldNode)
	if !ok {
		return nil
	}
	id := f.Ident
	switch {
	case len(id) == 1 && id[0] == "Index":
		return func(u *User) (string, error) { return strconv.FormatUint(u.Index, 10), nil }
	case len(id) == 1:
		get := identityField(id[0])
		if get == nil {
			return nil
		}
		return func(u *User) (string, error) { return get(u.Identity()), nil }
	case len(id) == 2 && id[0] == "Vars":
		name := id[1]
		return func(u *User) (string, error) {
			v, ok := u.Vars[name]
			if !ok {
				return "", fmt.Errorf(".Vars.%s: map has no entry for key %q", name, name)
			}
			return v, nil
		}
	case len(id) == 3 && id[0] == "Data":
		feeder, column := id[1], id[2]
		return func(u *User) (string, error) {
			v, ok := u.Data[feeder][column]
			if !ok {
				return "", fmt.Errorf(".Data.%s.%s: map has no entry for key %q", feeder, column, column)
			}
			return v, nil
		}
	}
	return nil
}

// identityField returns the getter of an identity field, or nil.
func identityField(name string) func(*synth.Identity) string {
	switch name {
	case "FiscalCode":
		return func(id *synth.Identity) string { return id.FiscalCode }
	case "Name":
		return func(id *synth.Identity) string { return id.Name }
	case "Surname":
		return func(id *synth.Identity) string { return id.Surname }
	case "PAN":
		return func(id *synth.Identity) string { return id.PAN }
	case "Expiry":
		return func(id *synth.Identity) string { return id.Expiry }
	case "CVV":
		return func(id *synth.Identity) string { return id.CVV }
	case "IBAN":
		return func(id *synth.Identity) string { return id.IBAN }
	case "ABI":
		return func(id *synth.Identity) string { return id.Bank.ABI }
	}
	return nil
}

// appendTo appends the plan's output for u to dst.
func (p plan) appendTo(dst []byte, u *User) ([]byte, error) {
	for _, s := range p {
		if s.value == nil {
			dst = append(dst, s.text...)
			continue
		}
		v, err := s.value(u)
		if err != nil {
			return dst, err
		}
		dst = append(dst, v...)
	}
	return dst, nil
}

// render writes the plan's output for u to b.
func (p plan) render(b *strings.Builder, u *User) error {
	for _, s := range p {
		if s.value == nil {
			b.WriteString(s.text)
			continue
		}
		v, err := s.value(u)
		if err != nil {
			return err
		}
		b.WriteString(v)
	}
	return nil
}
