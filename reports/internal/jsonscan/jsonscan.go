// Package jsonscan reads flat JSON objects without reflection: the lines of
// a results file and the error bodies of responses, on the hot path of
// reading and classifying results. It is internal to reports, and imports
// nothing of the project's.
package jsonscan

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Scanner reads the flat JSON objects of a results file and of error
// bodies without reflection. It validates what it reads (strings, numbers,
// literals, nesting) and skips values it is not asked for, so unknown fields
// and vegeta's own "body" and "headers" pass through. It never panics on
// malformed input: every index is checked against len(data).
type Scanner struct {
	data []byte
	pos  int
	buf  []byte // scratch for decoded strings with escapes
}

// MaxDepth bounds nesting in skipped values so hostile input cannot
// exhaust the stack.
const MaxDepth = 64

// ErrDepth is returned by Skip for a value nested deeper than MaxDepth.
var ErrDepth = errors.New("JSON nested too deeply")

// Reset makes s read data from its start.
func (s *Scanner) Reset(data []byte) {
	s.data, s.pos = data, 0
}

func (s *Scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// Peek returns the next non-space byte, or 0 at the end.
func (s *Scanner) Peek() byte {
	s.ws()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

func (s *Scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("col %d: "+format, append([]any{s.pos + 1}, args...)...)
}

func (s *Scanner) expect(c byte) error {
	if s.Peek() != c {
		if s.pos >= len(s.data) {
			return s.errorf("unexpected end of line, want %q", c)
		}
		return s.errorf("unexpected %q, want %q", s.byteAt(), c)
	}
	s.pos++
	return nil
}

// ObjectStart consumes '{' and reports whether the object is empty (and
// then also consumes its '}').
func (s *Scanner) ObjectStart() (empty bool, err error) {
	if err := s.expect('{'); err != nil {
		return false, err
	}
	if s.Peek() == '}' {
		s.pos++
		return true, nil
	}
	return false, nil
}

// Next consumes the ',' or '}' after a member and reports whether another
// member follows.
func (s *Scanner) Next() (more bool, err error) {
	switch s.Peek() {
	case ',':
		s.pos++
		return true, nil
	case '}':
		s.pos++
		return false, nil
	case 0:
		return false, s.errorf("unexpected end of line inside an object")
	default:
		return false, s.errorf("unexpected %q after a value, want ',' or '}'", s.byteAt())
	}
}

// Key reads a member name and the ':' after it. The returned bytes alias
// either the input or the scratch buffer; they are valid until the next
// string read.
func (s *Scanner) Key() ([]byte, error) {
	k, err := s.Str()
	if err != nil {
		return nil, err
	}
	if err := s.expect(':'); err != nil {
		return nil, err
	}
	return k, nil
}

// Str reads a JSON string and returns its decoded bytes. Without escapes
// they alias the input; with escapes they live in s.buf until the next call.
func (s *Scanner) Str() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	start := s.pos
	// The common case, a string without escapes: find its end with
	// IndexByte (vectorised), then check what lies before it in one tight
	// pass. A string with an escape or a control character takes the
	// byte-by-byte loop, which decodes or reports it.
	if end := bytes.IndexByte(s.data[start:], '"'); end >= 0 {
		out := s.data[start : start+end]
		plain := true
		for _, c := range out {
			if c < 0x20 || c == '\\' {
				plain = false
				break
			}
		}
		if plain {
			s.pos = start + end + 1
			return out, nil
		}
	}
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			out := s.data[start:s.pos]
			s.pos++
			return out, nil
		case c == '\\':
			s.buf = append(s.buf[:0], s.data[start:s.pos]...)
			return s.strEscaped()
		case c < 0x20:
			return nil, s.errorf("control character %#x in a string", c)
		}
		s.pos++
	}
	return nil, s.errorf("unterminated string")
}

// strEscaped continues Str from the first backslash, decoding into s.buf.
func (s *Scanner) strEscaped() ([]byte, error) {
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return s.buf, nil
		case c < 0x20:
			return nil, s.errorf("control character %#x in a string", c)
		case c != '\\':
			s.buf = append(s.buf, c)
			s.pos++
			continue
		}
		// A backslash escape.
		if s.pos+1 >= len(s.data) {
			return nil, s.errorf("unterminated escape")
		}
		e := s.data[s.pos+1]
		s.pos += 2
		switch e {
		case '"', '\\', '/':
			s.buf = append(s.buf, e)
		case 'b':
			s.buf = append(s.buf, '\b')
		case 'f':
			s.buf = append(s.buf, '\f')
		case 'n':
			s.buf = append(s.buf, '\n')
		case 'r':
			s.buf = append(s.buf, '\r')
		case 't':
			s.buf = append(s.buf, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate must be followed by a low one to make a
				// rune; alone it decodes to U+FFFD, as encoding/json does.
				r2 := utf8.RuneError
				save := s.pos
				if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
					s.pos += 2
					if lo, ok := s.hex4(); ok {
						if d := utf16.DecodeRune(r, lo); d != utf8.RuneError {
							r2 = d
						} else {
							s.pos = save
						}
					} else {
						s.pos = save
					}
				}
				r = r2
			}
			s.buf = utf8.AppendRune(s.buf, r)
		default:
			return nil, s.errorf("bad escape \\%c", e)
		}
	}
	return nil, s.errorf("unterminated string")
}

func (s *Scanner) hex4() (rune, bool) {
	if s.pos+4 > len(s.data) {
		return 0, false
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	s.pos += 4
	return r, true
}

// Number reads a JSON number and returns its text.
func (s *Scanner) Number() ([]byte, error) {
	s.ws()
	start := s.pos
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		return nil, s.errorf("malformed number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		if i == j {
			return nil, s.errorf("malformed number")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		if i == j {
			return nil, s.errorf("malformed number")
		}
	}
	s.pos = i
	return d[start:i], nil
}

// Literal consumes true, false or null and returns which.
func (s *Scanner) Literal() (string, error) {
	s.ws()
	for _, w := range [...]string{"true", "false", "null"} {
		if len(s.data)-s.pos >= len(w) && string(s.data[s.pos:s.pos+len(w)]) == w {
			s.pos += len(w)
			return w, nil
		}
	}
	return "", s.errorf("unexpected %q, want a value", s.byteAt())
}

func (s *Scanner) byteAt() string {
	if s.pos >= len(s.data) {
		return "end of line"
	}
	return string(s.data[s.pos : s.pos+1])
}

// Null consumes a null if one is next and reports whether it did.
func (s *Scanner) Null() bool {
	s.ws()
	if len(s.data)-s.pos >= 4 && string(s.data[s.pos:s.pos+4]) == "null" {
		s.pos += 4
		return true
	}
	return false
}

// Skip consumes any one JSON value.
func (s *Scanner) Skip(depth int) error {
	if depth > MaxDepth {
		return ErrDepth
	}
	switch c := s.Peek(); {
	case c == '"':
		_, err := s.Str()
		return err
	case c == '-' || ('0' <= c && c <= '9'):
		_, err := s.Number()
		return err
	case c == '{':
		empty, err := s.ObjectStart()
		if err != nil || empty {
			return err
		}
		for {
			if _, err := s.Key(); err != nil {
				return err
			}
			if err := s.Skip(depth + 1); err != nil {
				return err
			}
			more, err := s.Next()
			if err != nil || !more {
				return err
			}
		}
	case c == '[':
		s.pos++
		if s.Peek() == ']' {
			s.pos++
			return nil
		}
		for {
			if err := s.Skip(depth + 1); err != nil {
				return err
			}
			switch s.Peek() {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return nil
			default:
				return s.errorf("unexpected %q in an array, want ',' or ']'", s.byteAt())
			}
		}
	default:
		_, err := s.Literal()
		return err
	}
}

// End checks that nothing but white space follows the value just read.
func (s *Scanner) End() error {
	if s.Peek() != 0 {
		return s.errorf("unexpected %q after the object", s.byteAt())
	}
	return nil
}
