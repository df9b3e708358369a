package scenarios

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stampede-load/stampede/reports"
)

// The decoder walks yaml.v3's node tree by hand rather than unmarshalling
// into structs: that is how every problem gets its line, unknown keys are
// caught, and decoding goes on after the first problem so a file's problems
// are all reported at once.

// Limits that keep a hostile or mistaken file from costing unbounded time
// or memory.
const (
	maxNodes    = 200_000            // YAML nodes visited, aliases expanded
	maxStages   = 10_000             // profile stages, stairs expanded
	maxDuration = 10_000 * time.Hour // any single duration
	maxProfile  = 10 * maxDuration   // the whole profile
	maxRounds   = 10_000             // poll rounds, retry attempts
	maxProblems = 100                // problems reported; the rest are counted
)

// decoder turns a YAML node tree into a Scenario, collecting problems.
type decoder struct {
	file     string
	files    files
	problems []Problem
	nodes    int
	full     bool      // the node budget is spent; later problems would be noise
	dropped  int       // problems past maxProblems
	s        *Scenario // the scenario being built
}

// add records a problem at n's line.
func (d *decoder) add(n *yaml.Node, key, format string, args ...any) {
	if d.full {
		return
	}
	if len(d.problems) >= maxProblems {
		d.dropped++
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Key: key, Message: fmt.Sprintf(format, args...)})
}

// resolve follows aliases and charges the node to the budget. It returns
// nil for an absent node, a null, or once the budget is spent.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > 64 {
			return nil
		}
		n = n.Alias
	}
	if n == nil || d.full {
		return nil
	}
	if d.nodes++; d.nodes > maxNodes {
		d.problems = append(d.problems, Problem{File: d.file, Line: n.Line,
			Message: fmt.Sprintf("the scenario is too large: over %d YAML nodes once aliases are expanded", maxNodes)})
		d.full = true
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	return n
}

// kindOf names a node's kind for messages.
func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// object is a YAML mapping being decoded: its values by key.
type object struct {
	d     *decoder
	node  *yaml.Node // the mapping; nil when absent or not a mapping
	at    *yaml.Node // where to report missing keys
	path  string
	vals  map[string]*yaml.Node
	keys  map[string]*yaml.Node
	order []string // keys in file order
}

// object reads a mapping whose keys must be among allowed (any key when
// allowed is nil). Merge keys ("<<: *anchor") are honoured: explicit keys
// win over merged ones. Unknown and duplicate keys are reported.
func (d *decoder) object(n *yaml.Node, path string, allowed []string) *object {
	o := &object{d: d, at: n, path: path, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	n = d.resolve(n)
	if n == nil {
		return o
	}
	if n.Kind != yaml.MappingNode {
		d.add(n, path, "want a mapping (key: value), got %s", kindOf(n))
		return o
	}
	o.node, o.at = n, n
	o.collect(n, false, allowed, 0)
	return o
}

func (o *object) collect(n *yaml.Node, merged bool, allowed []string, depth int) {
	d := o.d
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode {
			k = d.resolve(k)
		}
		if k == nil || k.Kind != yaml.ScalarNode {
			d.add(n.Content[i], o.path, "keys must be plain words")
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		name := k.Value
		if first, dup := o.keys[name]; dup {
			if !merged {
				d.add(k, o.key(name), "appears twice (first at line %d)", first.Line)
			}
			continue
		}
		if allowed != nil && !slices.Contains(allowed, name) {
			d.add(k, o.key(name), "unknown key%s; want one of: %s", suggest(name, allowed), strings.Join(allowed, ", "))
			continue
		}
		o.vals[name], o.keys[name] = v, k
		o.order = append(o.order, name)
	}
	if depth > 16 {
		return
	}
	for _, m := range merges {
		m = d.resolve(m)
		switch {
		case m == nil:
		case m.Kind == yaml.MappingNode:
			o.collect(m, true, allowed, depth+1)
		case m.Kind == yaml.SequenceNode:
			for _, item := range m.Content {
				if item = d.resolve(item); item != nil && item.Kind == yaml.MappingNode {
					o.collect(item, true, allowed, depth+1)
				} else if item != nil {
					d.add(item, o.path, "a merge (<<) takes mappings, got %s", kindOf(item))
				}
			}
		default:
			d.add(m, o.path, "a merge (<<) takes a mapping, got %s", kindOf(m))
		}
	}
}

// suggest returns ` (did you mean "x"?)` for the allowed key closest to
// name, when one is close.
func suggest(name string, allowed []string) string {
	best, bestDist := "", 3
	for _, a := range allowed {
		if dist := editDistance(strings.ToLower(name), a); dist < bestDist {
			best, bestDist = a, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance, for short keys.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// key returns the dotted path of one of the object's keys.
func (o *object) key(name string) string {
	if o.path == "" {
		return name
	}
	return o.path + "." + name
}

// has reports whether the key is present with a non-null value.
func (o *object) has(name string) bool {
	v, ok := o.vals[name]
	if !ok {
		return false
	}
	return !(v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null")
}

// raw returns the key's value node, unresolved, or nil.
func (o *object) raw(name string) *yaml.Node {
	if !o.has(name) {
		return nil
	}
	return o.vals[name]
}

// require reports the keys that are missing and says whether all are there.
func (o *object) require(names ...string) bool {
	ok := true
	for _, name := range names {
		if !o.has(name) {
			if o.node != nil || o.at != nil {
				o.d.add(o.at, o.key(name), "is required")
			}
			ok = false
		}
	}
	return ok
}

// scalar returns the key's value as text; ok is false when it is absent or
// not a single value (which is reported).
func (o *object) scalar(name string) (string, *yaml.Node, bool) {
	n := o.d.resolve(o.raw(name))
	if n == nil {
		return "", nil, false
	}
	if n.Kind != yaml.ScalarNode {
		o.d.add(n, o.key(name), "want a single value, got %s", kindOf(n))
		return "", n, false
	}
	return n.Value, n, true
}

// str returns a string value, "" when absent.
func (o *object) str(name string) string {
	s, _, _ := o.scalar(name)
	return s
}

// dur returns a duration; it must be positive, or non-negative when zeroOK.
func (o *object) dur(name string, zeroOK bool) (time.Duration, bool) {
	n := o.d.resolve(o.raw(name))
	if n == nil {
		return 0, false
	}
	return o.d.duration(n, o.key(name), zeroOK)
}

// duration reads a resolved node as a duration with its unit.
func (d *decoder) duration(n *yaml.Node, key string, zeroOK bool) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode {
		d.add(n, key, "want a duration like 500ms, 5m or 3h, got %s", kindOf(n))
		return 0, false
	}
	s := strings.TrimSpace(n.Value)
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			d.add(n, key, "%q has no unit: write a duration like 500ms, 5m or 3h", s)
		} else {
			d.add(n, key, "%q is not a duration like 500ms, 5m or 3h", s)
		}
	case v < 0 || (v == 0 && !zeroOK):
		d.add(n, key, "%s must be positive", s)
	case v > maxDuration:
		d.add(n, key, "%s is longer than the maximum of %s", s, maxDuration)
	default:
		return v, true
	}
	return 0, false
}

// rate returns a rate with its unit.
func (o *object) rate(name string) (Rate, bool) {
	s, n, ok := o.scalar(name)
	if !ok {
		return 0, false
	}
	r, err := parseRate(s)
	if err != nil {
		o.d.add(n, o.key(name), "%v", err)
		return 0, false
	}
	return r, true
}

// integer returns a whole number in [lo, hi].
func (o *object) integer(name string, lo, hi int64) (int64, bool) {
	s, n, ok := o.scalar(name)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	switch {
	case err != nil:
		o.d.add(n, o.key(name), "%q is not a whole number", s)
	case v < lo || v > hi:
		o.d.add(n, o.key(name), "%d is out of range [%d, %d]", v, lo, hi)
	default:
		return v, true
	}
	return 0, false
}

// positive returns a positive finite number.
func (o *object) positive(name string) (float64, bool) {
	s, n, ok := o.scalar(name)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	switch {
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
		o.d.add(n, o.key(name), "%q is not a number", s)
	case v <= 0:
		o.d.add(n, o.key(name), "%s must be positive", s)
	default:
		return v, true
	}
	return 0, false
}

// probability returns a probability: 0.7 or 70%.
func (o *object) probability(name string) (float64, bool) {
	s, n, ok := o.scalar(name)
	if !ok {
		return 0, false
	}
	v, err := reports.ParseRatio(strings.TrimSpace(s))
	if err != nil {
		o.d.add(n, o.key(name), "probability %q must be between 0 and 1 (or 0%% and 100%%)", s)
		return 0, false
	}
	return v, true
}

// boolean returns true or false.
func (o *object) boolean(name string) (bool, bool) {
	s, n, ok := o.scalar(name)
	if !ok {
		return false, false
	}
	v, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		o.d.add(n, o.key(name), "%q is not true or false", s)
		return false, false
	}
	return v, true
}

// list returns the items of a list, resolved; a single value counts as a
// list of one when scalarOK.
func (d *decoder) list(n *yaml.Node, key string, scalarOK bool) []*yaml.Node {
	n = d.resolve(n)
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.SequenceNode:
		items := make([]*yaml.Node, 0, len(n.Content))
		for _, item := range n.Content {
			if d.full {
				break
			}
			items = append(items, item)
		}
		return items
	case n.Kind == yaml.ScalarNode && scalarOK:
		return []*yaml.Node{n}
	}
	d.add(n, key, "want a list, got %s", kindOf(n))
	return nil
}

// codes returns HTTP status codes (100-599, and 0 when zeroOK).
func (o *object) codes(name string, zeroOK bool) []int {
	var out []int
	for i, item := range o.d.list(o.raw(name), o.key(name), true) {
		key := fmt.Sprintf("%s[%d]", o.key(name), i)
		n := o.d.resolve(item)
		if n == nil {
			o.d.add(item, key, "is empty")
			continue
		}
		if n.Kind != yaml.ScalarNode {
			o.d.add(n, key, "want a status code, got %s", kindOf(n))
			continue
		}
		c, err := strconv.Atoi(strings.TrimSpace(n.Value))
		switch {
		case err != nil:
			o.d.add(n, key, "%q is not a status code", n.Value)
		case c == 0 && zeroOK:
			out = append(out, 0)
		case c < 100 || c > 599:
			o.d.add(n, key, "status %d is not between 100 and 599", c)
		default:
			out = append(out, c)
		}
	}
	return out
}
