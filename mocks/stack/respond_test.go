package stack

import (
	"net/http/httptest"
	"testing"
)

// TestWriteRawLeavesItsBodyAlone pins that writeRaw only reads the body it
// is given: the bank list is encoded once and written by every handler at
// once, so appending the newline into its spare capacity was a data race
// (the race detector caught it under the embedded stack).
func TestWriteRawLeavesItsBodyAlone(t *testing.T) {
	b := make([]byte, 2, 3)
	copy(b, "{}")
	b[:3][2] = 'x' // the spare byte an append would overwrite
	rec := httptest.NewRecorder()
	writeRaw(rec, 200, b)
	if spare := b[:3][2]; spare != 'x' {
		t.Errorf("writeRaw wrote %q into the body's spare capacity", spare)
	}
	if got := rec.Body.String(); got != "{}\n" {
		t.Errorf("body %q, want %q", got, "{}\n")
	}
	if got := rec.Header().Get("Content-Length"); got != "3" {
		t.Errorf("Content-Length %s, want 3", got)
	}
}
