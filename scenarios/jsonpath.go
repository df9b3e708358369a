package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// jsonPath is a compiled simple JSON path: object keys and array indexes,
// applied one after the other from the document's root.
//
// Syntax: an optional "$" root, then segments ".name", "[index]" (negative
// counts from the end) or ["name"] / ['name'] for keys holding '.', '[' or
// ']'. The first name may omit its dot: "searchId", "data.cards[0].hpan",
// "$.a.b", "$" (the whole document), "cards[-1].hpan".
type jsonPath []pathElem

// pathElem is one segment of a jsonPath.
type pathElem struct {
	name    string
	index   int
	isIndex bool
}

// parsePath compiles a path.
func parsePath(s string) (jsonPath, error) {
	if s == "" {
		return nil, errors.New("path is empty")
	}
	p := jsonPath{}
	i := 0
	if s[0] == '$' {
		i = 1
		if i < len(s) && s[i] != '.' && s[i] != '[' {
			return nil, fmt.Errorf("path %q: want '.' or '[' after '$'", s)
		}
	}
	for i < len(s) {
		switch c := s[i]; {
		case c == '[':
			end := i + 1
			var e pathElem
			if end < len(s) && (s[end] == '"' || s[end] == '\'') {
				q := strings.IndexByte(s[end+1:], s[end])
				if q < 0 {
					return nil, fmt.Errorf("path %q: unterminated quote at offset %d", s, end)
				}
				e.name = s[end+1 : end+1+q]
				end += q + 2
				if end >= len(s) || s[end] != ']' {
					return nil, fmt.Errorf("path %q: want ']' after the quoted key at offset %d", s, i)
				}
			} else {
				close := strings.IndexByte(s[end:], ']')
				if close < 0 {
					return nil, fmt.Errorf("path %q: unterminated '[' at offset %d", s, i)
				}
				n, err := strconv.Atoi(s[end : end+close])
				if err != nil {
					return nil, fmt.Errorf("path %q: %q is not an array index", s, s[end:end+close])
				}
				e.index, e.isIndex = n, true
				end += close
			}
			p = append(p, e)
			i = end + 1
		case c == '.' || i == 0:
			if c == '.' {
				i++
			}
			n := strings.IndexAny(s[i:], ".[]")
			if n < 0 {
				n = len(s) - i
			}
			if n == 0 {
				return nil, fmt.Errorf("path %q: empty key at offset %d", s, i)
			}
			p = append(p, pathElem{name: s[i : i+n]})
			i += n
		default:
			return nil, fmt.Errorf("path %q: want '.' or '[' at offset %d", s, i)
		}
	}
	return p, nil
}

// String returns the path in canonical form: "$" followed by its segments;
// parsePath reads it back to the same path.
func (p jsonPath) String() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, e := range p {
		switch {
		case e.isIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.index))
			b.WriteByte(']')
		case e.name != "" && !strings.ContainsAny(e.name, ".[]"):
			b.WriteByte('.')
			b.WriteString(e.name)
		case !strings.Contains(e.name, `"`):
			b.WriteString(`["` + e.name + `"]`)
		default:
			b.WriteString(`['` + e.name + `']`)
		}
	}
	return b.String()
}

// lookup applies the path to a document decoded by decodeJSON.
func (p jsonPath) lookup(v any) (any, bool) {
	for _, e := range p {
		if e.isIndex {
			arr, ok := v.([]any)
			if !ok {
				return nil, false
			}
			i := e.index
			if i < 0 {
				i += len(arr)
			}
			if i < 0 || i >= len(arr) {
				return nil, false
			}
			v = arr[i]
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[e.name]; !ok {
			return nil, false
		}
	}
	return v, true
}

// decodeJSON decodes one JSON document, keeping numbers as written.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("response is not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("response is not JSON: data after the document")
	}
	return v, nil
}

// text renders a JSON value as a variable: strings as they are, numbers as
// written, booleans as true or false, objects and arrays as compact JSON.
// null has no text.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(b), true
}
