package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// auditFolder writes a run folder the audit can read: a stock scenario's
// run with no results.
func auditFolder(t *testing.T) string {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "run.json"), []byte(`{"scenario":"ci-smoke","source":"stock:ci-smoke","seed":1}`), 0o644)
	os.WriteFile(filepath.Join(dir, "results.jsonl"), nil, 0o644)
	return dir
}

func TestAuditTargetBadInput(t *testing.T) {
	dir := auditFolder(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>hello</html>"))
	}))
	defer web.Close()
	tests := []struct{ name, target, want string }{
		{"malformed", "127.0.0.1:8080", "--target"},
		{"unreachable", "http://127.0.0.1:1", "127.0.0.1:1"},
		{"not the stack", web.URL, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cli(t, "audit", "--target", tt.target, "--results", dir)
			if code != exitBadInput || !strings.Contains(stderr, "--target") || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, %q; want 2 naming --target and %q", code, stderr, tt.want)
			}
		})
	}
}

// A signal during the audit (here, the context it cancels) ends it with
// exit code 130, even while the stack is slow to answer.
func TestAuditInterruptedExits130(t *testing.T) {
	dir := auditFolder(t)
	ctx, cancel := context.WithCancel(context.Background())
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel() // the audit is waiting on the stack: now interrupt it
		<-r.Context().Done()
	}))
	defer slow.Close()
	var out bytes.Buffer
	err := auditRun(ctx, &state{stdout: &out, stderr: &out}, &auditOptions{target: slow.URL, run: dir})
	if code := exitCode(err); code != exitInterrupted {
		t.Fatalf("exit %d (%v), want 130", code, err)
	}
}
