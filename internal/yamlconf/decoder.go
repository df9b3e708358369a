// Package yamlconf is the one decoder of stampede's YAML config files (the
// scenarios, the banks file, the simulator's model): it walks yaml.v3's node
// tree by hand instead of unmarshalling into structs, so that every problem
// carries its file:line and key, unknown keys are caught with a did-you-mean,
// and decoding goes on after a problem so a file's mistakes are all reported
// at once, one message per mistake.
//
// A caller builds its plain structs itself, key by key:
//
//	d := yamlconf.New("model.yaml", "model file")
//	root := d.Parse(src)                       // nil when empty or unparsable
//	o := d.Object(root, "", []string{"name", "servers", "service"})
//	o.Require("name")
//	name := o.Str("name")
//	servers, _ := o.Int("servers", 1, 1000)
//	service, _ := o.Duration("service", false)
//	if err := d.Err(ErrInvalidModel); err != nil { ... } // a *Error, one problem a line
//
// The same limits hold for every file: at most MaxNodes YAML nodes once
// aliases are expanded, alias chains of at most MaxAliasDepth, durations up to
// MaxDuration, MaxProblems problems reported (the rest are counted).
//
// yamlconf imports reports (for ParseRatio) and nothing else of the
// project's; the packages that own a file format (scenarios, mocks/bank, sim)
// import it.
package yamlconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Limits that keep a hostile or mistaken file from costing unbounded time or
// memory, the same for every config file.
const (
	MaxNodes      = 200_000            // YAML nodes visited, aliases expanded
	MaxAliasDepth = 64                 // aliases followed from one node
	MaxMergeDepth = 16                 // nested merge keys (<<) followed
	MaxDuration   = 10_000 * time.Hour // any single duration
	MaxProblems   = 100                // problems reported; the rest are counted
)

// Decoder decodes one YAML config file, collecting its problems. It is not
// safe for concurrent use.
type Decoder struct {
	file     string
	kind     string // what the file is, for messages: "scenario file"
	problems []Problem
	seen     map[Problem]bool
	nodes    int
	full     bool // the node budget is spent; later problems would be noise
	dropped  int  // problems past MaxProblems
}

// New returns a Decoder of the file named file (in every message); kind says
// what the file is ("scenario file", "banks file") in messages about the
// whole file.
func New(file, kind string) *Decoder {
	return &Decoder{file: file, kind: kind, seen: map[Problem]bool{}}
}

// File returns the name of the file being decoded.
func (d *Decoder) File() string { return d.file }

// Parse parses src as one YAML document and returns its top node. It returns
// nil for a file with no document (empty, or only comments) and for one that
// does not parse, whose syntax error is then a problem at its line. A second
// document is a problem too.
func (d *Decoder) Parse(src []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var root yaml.Node
	switch err := dec.Decode(&root); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		d.syntax(err, src)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.Add(&next, "", "a %s holds one YAML document; found a second one", d.kind)
	case !errors.Is(err, io.EOF):
		d.syntax(err, src)
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		return root.Content[0]
	}
	return &root
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// yamlParserErrors start the messages of yaml.v3's parser (as opposed to its
// scanner), whose lines it counts from 0.
var yamlParserErrors = []string{"did not find expected", "found undefined tag", "found duplicate %", "found incompatible"}

// syntax records a YAML syntax error at its line: yaml.v3's parser counts
// from 0, and a line past the end of the file (an unclosed bracket) is
// reported at the last line.
func (d *Decoder) syntax(err error, src []byte) {
	p := Problem{File: d.file, Key: "yaml", Message: err.Error()}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		p.Message = m[2]
		p.Line, _ = strconv.Atoi(m[1])
		for _, prefix := range yamlParserErrors {
			if strings.HasPrefix(p.Message, prefix) {
				p.Line++
			}
		}
		if last := lineCount(src); p.Line > last {
			p.Line = last
		}
	}
	d.record(p)
}

// lineCount is the number of lines of src as YAML counts them (CR, LF,
// CRLF, NEL, LS and PS end a line), a last line break not opening another.
func lineCount(src []byte) int {
	s := strings.ReplaceAll(string(src), "\r\n", "\n")
	s = strings.TrimRight(s, "\r\n\u0085\u2028\u2029")
	n := 1
	for _, r := range s {
		switch r {
		case '\r', '\n', '\u0085', '\u2028', '\u2029':
			n++
		}
	}
	return n
}

// Add records a problem at n's line (line unknown when n is nil).
func (d *Decoder) Add(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.AddAt(line, key, format, args...)
}

// AddAt records a problem at a line known otherwise, such as where a value
// a later check rejects was written.
func (d *Decoder) AddAt(line int, key, format string, args ...any) {
	if d.full {
		return
	}
	d.record(Problem{File: d.file, Line: line, Key: key, Message: fmt.Sprintf(format, args...)})
}

// record keeps p unless the same problem is already known: a bad value in a
// section that many others inherit is one mistake, reported once.
func (d *Decoder) record(p Problem) {
	if d.seen[p] {
		return
	}
	if len(d.problems) >= MaxProblems {
		d.dropped++
		return
	}
	d.seen[p] = true
	d.problems = append(d.problems, p)
}

// Failed reports whether any problem was recorded.
func (d *Decoder) Failed() bool { return len(d.problems) > 0 }

// SortByLine orders the problems recorded so far by line, keeping the order
// of those on one line: for files whose problems are read top to bottom.
func (d *Decoder) SortByLine() {
	slices.SortStableFunc(d.problems, func(a, b Problem) int { return a.Line - b.Line })
}

// Err returns the problems as an *Error matching invalid, or nil when there
// are none. Problems past MaxProblems are counted in a last one.
func (d *Decoder) Err(invalid error) error {
	if len(d.problems) == 0 {
		return nil
	}
	ps := slices.Clone(d.problems)
	if d.dropped > 0 {
		last := ps[len(ps)-1].Line
		ps = append(ps, Problem{File: d.file, Line: last, Message: fmt.Sprintf("and %d more problems", d.dropped)})
	}
	return &Error{Problems: ps, Invalid: invalid}
}

// Resolve follows aliases and charges the node to the budget. It returns nil
// for an absent node, a null, or once the budget is spent.
func (d *Decoder) Resolve(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > MaxAliasDepth {
			return nil
		}
		n = n.Alias
	}
	if n == nil || d.full {
		return nil
	}
	if d.nodes++; d.nodes > MaxNodes {
		// Past MaxProblems too: it says why the rest of the file was not read.
		d.problems = append(d.problems, Problem{File: d.file, Line: n.Line,
			Message: fmt.Sprintf("the %s is too large: over %d YAML nodes once aliases are expanded", d.kind, MaxNodes)})
		d.full = true
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	return n
}

// KindOf names a node's kind for messages: "a mapping", "a list", or the
// scalar's value quoted.
func KindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "something else"
}

// List returns the items of a list, unresolved; a single value counts as a
// list of one when scalarOK. Absent or null is an empty list; anything else
// is a problem at key.
func (d *Decoder) List(n *yaml.Node, key string, scalarOK bool) []*yaml.Node {
	n = d.Resolve(n)
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
	d.Add(n, key, "want a list, got %s", KindOf(n))
	return nil
}

// Duration reads a resolved node as a duration with its unit: positive, or
// also zero when zeroOK, and at most MaxDuration.
func (d *Decoder) Duration(n *yaml.Node, key string, zeroOK bool) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode {
		d.Add(n, key, "want a duration like 500ms, 5m or 3h, got %s", KindOf(n))
		return 0, false
	}
	s := strings.TrimSpace(n.Value)
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			d.Add(n, key, "%q has no unit: write a duration like 500ms, 5m or 3h", s)
		} else {
			d.Add(n, key, "%q is not a duration like 500ms, 5m or 3h", s)
		}
	case v < 0 && zeroOK:
		d.Add(n, key, "%s must not be negative", s)
	case v < 0 || (v == 0 && !zeroOK):
		d.Add(n, key, "%s must be positive", s)
	case v > MaxDuration:
		d.Add(n, key, "%s is longer than the maximum of %s", s, MaxDuration)
	default:
		return v, true
	}
	return 0, false
}

// Suggest returns ` (did you mean "x"?)` for the word of allowed closest to
// name, when one is close (an edit distance under 3), or "".
func Suggest(name string, allowed []string) string {
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

// Full reports whether the node budget is spent: the rest of the file is not
// read, and problems about what is missing would be noise.
func (d *Decoder) Full() bool { return d.full }
