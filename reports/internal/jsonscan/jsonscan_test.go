package jsonscan

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzStr checks Str against encoding/json: a string it reads is the
// string encoding/json decodes from the same bytes, and one it refuses,
// encoding/json refuses too. (encoding/json replaces invalid UTF-8, which
// Str keeps as it is: only valid UTF-8 is compared.)
func FuzzStr(f *testing.F) {
	for _, s := range []string{`plain"`, `http://127.0.0.1:8080/api/v1/wallet"`, `esc\"aped\\"`, `\u00e8 \ud83d\ude00 \ud800x"`,
		"tab\tin\"", `unterminated`, `bad \q escape"`, `"`, `x\"`, `x\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		doc := []byte(`"` + body)
		if !utf8.Valid(doc) {
			return
		}
		var s Scanner
		s.Reset(doc)
		got, err := s.Str()
		var want string
		if err != nil {
			if json.Unmarshal(doc, &want) == nil {
				t.Fatalf("Str refused %q (%v); encoding/json reads %q", doc, err, want)
			}
			return
		}
		if jerr := json.Unmarshal(doc[:s.pos], &want); jerr != nil || string(got) != want {
			t.Fatalf("Str read %q from %q; encoding/json: %q, %v", got, doc[:s.pos], want, jerr)
		}
	})
}
