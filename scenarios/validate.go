package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// template parses a templated request part and checks what it reads from
// dot: known fields, variables extracted earlier (sc), feeders and their
// columns. ok is false when a reference failed; t is nil when the template
// does not parse.
func (d *decoder) template(n *yaml.Node, key, src string, sc *scope) (t *Template, ok bool) {
	name := key[strings.LastIndexAny(key, ".]")+1:]
	t, err := NewTemplate(name, src)
	if err != nil {
		d.Add(n, key, "%v", err)
		return nil, false
	}
	ok = true
	for _, ref := range t.refs {
		if msg := d.checkRef(ref, sc); msg != "" {
			d.Add(n, key, "%s", msg)
			ok = false
		}
	}
	return t, ok
}

// checkRef returns what is wrong with a field chain read from dot, or "".
func (d *decoder) checkRef(ref []string, sc *scope) string {
	field := "." + strings.Join(ref, ".")
	switch head := ref[0]; {
	case slices.Contains(identityFields, head):
		if len(ref) > 1 {
			return fmt.Sprintf("%s: .%s is a plain value with no fields", field, head)
		}
	case head == "Vars":
		if len(ref) > 1 && !slices.Contains(sc.vars, ref[1]) {
			return fmt.Sprintf("%s: variable %q is never set before this step: %s", field, ref[1], sc.where())
		}
	case head == "Data":
		if len(ref) < 2 {
			return ""
		}
		i := slices.IndexFunc(d.s.Data, func(f *Feeder) bool { return f.Name == ref[1] })
		if i < 0 {
			return fmt.Sprintf("%s: no feeder is named %q (data: %s)", field, ref[1], feederNames(d.s.Data))
		}
		if f := d.s.Data[i]; len(ref) > 2 && !slices.Contains(f.Columns, ref[2]) {
			return fmt.Sprintf("%s: feeder %q has no column %q (columns: %s)", field, f.Name, ref[2], strings.Join(f.Columns, ", "))
		}
	case head == "HPAN":
		return fmt.Sprintf("%s: an hpan needs the stack's salt: extract hpan from the add-card answer, or salt from GET /api/v1/hpan-salt and write {{hpan .PAN .Vars.salt}}", field)
	default:
		return fmt.Sprintf("%s: unknown field .%s; want one of .%s", field, head, strings.Join(dotFields, " ."))
	}
	return ""
}

func feederNames(fs []*Feeder) string {
	if len(fs) == 0 {
		return "none"
	}
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}
