package main

import (
	"errors"
	"strings"
	"testing"
)

func TestErrorTextIsShortAndPrintable(t *testing.T) {
	t.Run("a 5 MB scalar", func(t *testing.T) {
		got := errorText(errors.New("bad.yaml:1: name: " + strings.Repeat("x", 5<<20)))
		if len(got) > maxErrorLineBytes+3 || !strings.HasPrefix(got, "bad.yaml:1: name: xxx") || !strings.HasSuffix(got, "...") {
			t.Fatalf("%d bytes: %.80q", len(got), got)
		}
	})
	t.Run("a file of many lines", func(t *testing.T) {
		got := errorText(errors.New(strings.Repeat("root:x:0:0\n", 1000) + "end"))
		if n := strings.Count(got, "\n"); n != maxErrorLines {
			t.Fatalf("%d lines", n+1)
		}
		if !strings.HasSuffix(got, "(and 961 more lines)") {
			t.Fatalf("last line: %q", got[strings.LastIndex(got, "\n")+1:])
		}
	})
	t.Run("terminal escapes", func(t *testing.T) {
		if got := errorText(errors.New("a\x1b]0;pwn\x07b\nc\x1b[2Jd")); got != "a?]0;pwn?b\nc?[2Jd" {
			t.Fatalf("%q", got)
		}
	})
	t.Run("multibyte cut", func(t *testing.T) {
		got := errorText(errors.New(strings.Repeat("è", 400)))
		if !strings.HasSuffix(got, "è...") || len(got) != maxErrorLineBytes+3 {
			t.Fatalf("%d bytes, tail %q", len(got), got[len(got)-8:])
		}
	})
}
