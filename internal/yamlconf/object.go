package yamlconf

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stampede-load/stampede/reports"
)

// Object is a YAML mapping being decoded: its values by key. Its readers
// (Str, Int, Duration, ...) report a wrong value at the key's line and
// return ok false; an absent or null key is no problem unless Require says
// so, and reads as not ok.
type Object struct {
	d     *Decoder
	node  *yaml.Node // the mapping; nil when absent or not a mapping
	at    *yaml.Node // where to report missing keys
	path  string
	vals  map[string]*yaml.Node
	keys  map[string]*yaml.Node
	order []string // keys in file order
}

// Object reads the mapping n, at the dotted path, whose keys must be among
// allowed (any key when allowed is nil). Merge keys ("<<: *anchor") are
// honoured: explicit keys win over merged ones. Unknown keys (with a
// did-you-mean) and repeated ones are problems; absent or null n is an
// empty mapping.
func (d *Decoder) Object(n *yaml.Node, path string, allowed []string) *Object {
	o := &Object{d: d, at: n, path: path, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	n = d.Resolve(n)
	if n == nil {
		return o
	}
	if n.Kind != yaml.MappingNode {
		d.Add(n, path, "want a mapping (key: value), got %s", KindOf(n))
		return o
	}
	o.node, o.at = n, n
	o.collect(n, false, allowed, 0)
	return o
}

func (o *Object) collect(n *yaml.Node, merged bool, allowed []string, depth int) {
	d := o.d
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode {
			k = d.Resolve(k)
		}
		if k == nil || k.Kind != yaml.ScalarNode {
			d.Add(n.Content[i], o.path, "keys must be plain words")
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		name := k.Value
		if first, dup := o.keys[name]; dup {
			if !merged {
				d.Add(k, o.Key(name), "appears twice (first at line %d)", first.Line)
			}
			continue
		}
		if allowed != nil && !slices.Contains(allowed, name) {
			d.Add(k, o.Key(name), "unknown key%s; want one of: %s", Suggest(name, allowed), strings.Join(allowed, ", "))
			continue
		}
		o.vals[name], o.keys[name] = v, k
		o.order = append(o.order, name)
	}
	if depth > MaxMergeDepth {
		return
	}
	for _, m := range merges {
		m = d.Resolve(m)
		switch {
		case m == nil:
		case m.Kind == yaml.MappingNode:
			o.collect(m, true, allowed, depth+1)
		case m.Kind == yaml.SequenceNode:
			for _, item := range m.Content {
				if item = d.Resolve(item); item != nil && item.Kind == yaml.MappingNode {
					o.collect(item, true, allowed, depth+1)
				} else if item != nil {
					d.Add(item, o.path, "a merge (<<) takes mappings, got %s", KindOf(item))
				}
			}
		default:
			d.Add(m, o.path, "a merge (<<) takes a mapping, got %s", KindOf(m))
		}
	}
}

// Node returns the mapping itself, or nil when it was absent or not a
// mapping.
func (o *Object) Node() *yaml.Node { return o.node }

// Keys returns the keys present, in file order (merged keys after).
func (o *Object) Keys() []string { return o.order }

// KeyNode returns the node of a key present (for its line), or nil.
func (o *Object) KeyNode(name string) *yaml.Node { return o.keys[name] }

// Key returns the dotted path of one of the object's keys.
func (o *Object) Key(name string) string {
	if o.path == "" {
		return name
	}
	return o.path + "." + name
}

// Has reports whether the key is present with a non-null value.
func (o *Object) Has(name string) bool {
	v, ok := o.vals[name]
	if !ok {
		return false
	}
	return !(v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null")
}

// Raw returns the key's value node, unresolved, or nil when absent or null.
func (o *Object) Raw(name string) *yaml.Node {
	if !o.Has(name) {
		return nil
	}
	return o.vals[name]
}

// Require reports the keys that are missing and says whether all are there.
func (o *Object) Require(names ...string) bool {
	ok := true
	for _, name := range names {
		if !o.Has(name) {
			if o.node != nil || o.at != nil {
				o.d.Add(o.at, o.Key(name), "is required")
			}
			ok = false
		}
	}
	return ok
}

// Scalar returns the key's value as written; ok is false when it is absent
// or not a single value (which is a problem).
func (o *Object) Scalar(name string) (string, *yaml.Node, bool) {
	n := o.d.Resolve(o.Raw(name))
	if n == nil {
		return "", nil, false
	}
	if n.Kind != yaml.ScalarNode {
		o.d.Add(n, o.Key(name), "want a single value, got %s", KindOf(n))
		return "", n, false
	}
	return n.Value, n, true
}

// Str returns a string value as written (an unquoted 03069 keeps its zero),
// "" when absent.
func (o *Object) Str(name string) string {
	s, _, _ := o.Scalar(name)
	return s
}

// Enum returns a value that must be one of allowed.
func (o *Object) Enum(name string, allowed ...string) (string, bool) {
	s, n, ok := o.Scalar(name)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, s) {
		o.d.Add(n, o.Key(name), "%q is not %s", s, orList(allowed))
		return "", false
	}
	return s, true
}

// orList writes "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// Duration returns a duration with its unit; it must be positive, or also
// zero when zeroOK.
func (o *Object) Duration(name string, zeroOK bool) (time.Duration, bool) {
	n := o.d.Resolve(o.Raw(name))
	if n == nil {
		return 0, false
	}
	return o.d.Duration(n, o.Key(name), zeroOK)
}

// Int returns a whole number in [lo, hi].
func (o *Object) Int(name string, lo, hi int64) (int64, bool) {
	s, n, ok := o.Scalar(name)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	switch {
	case err != nil:
		o.d.Add(n, o.Key(name), "%q is not a whole number", s)
	case v < lo || v > hi:
		o.d.Add(n, o.Key(name), "%d is out of range [%d, %d]", v, lo, hi)
	default:
		return v, true
	}
	return 0, false
}

// Number returns a finite number.
func (o *Object) Number(name string) (float64, bool) { return o.number(name, false) }

// Positive returns a positive finite number.
func (o *Object) Positive(name string) (float64, bool) { return o.number(name, true) }

func (o *Object) number(name string, positive bool) (float64, bool) {
	s, n, ok := o.Scalar(name)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	switch {
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
		o.d.Add(n, o.Key(name), "%q is not a number", s)
	case positive && v <= 0:
		o.d.Add(n, o.Key(name), "%s must be positive", s)
	default:
		return v, true
	}
	return 0, false
}

// Probability returns a probability: 0.7 or 70%.
func (o *Object) Probability(name string) (float64, bool) {
	s, n, ok := o.Scalar(name)
	if !ok {
		return 0, false
	}
	v, err := reports.ParseRatio(strings.TrimSpace(s))
	if err != nil {
		o.d.Add(n, o.Key(name), "probability %q must be between 0 and 1 (or 0%% and 100%%)", s)
		return 0, false
	}
	return v, true
}

// Bool returns true or false.
func (o *Object) Bool(name string) (bool, bool) {
	s, n, ok := o.Scalar(name)
	if !ok {
		return false, false
	}
	v, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		o.d.Add(n, o.Key(name), "%q is not true or false", s)
		return false, false
	}
	return v, true
}

// Parsed reads a value with the caller's parser (a rate, a quantity with a
// unit the caller owns); the parser's error is the problem's message.
func Parsed[T any](o *Object, name string, parse func(string) (T, error)) (T, bool) {
	var zero T
	s, n, ok := o.Scalar(name)
	if !ok {
		return zero, false
	}
	v, err := parse(s)
	if err != nil {
		o.d.Add(n, o.Key(name), "%v", err)
		return zero, false
	}
	return v, true
}

// List returns the items of the key's list; a single value counts as a list
// of one when scalarOK.
func (o *Object) List(name string, scalarOK bool) []*yaml.Node {
	return o.d.List(o.Raw(name), o.Key(name), scalarOK)
}

// Decoder returns the decoder o belongs to.
func (o *Object) Decoder() *Decoder { return o.d }

// At returns where the object stands in the file, for problems about it as
// a whole (its key's value node; nil when it was absent at the top).
func (o *Object) At() *yaml.Node { return o.at }
