package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stampede-load/stampede/reports"
)

func TestWriteTableSaysHowOutputsFared(t *testing.T) {
	tests := []struct {
		name string
		out  reports.OutputStatus
		want string
	}{
		{"down", reports.OutputStatus{Kind: "prometheus-remote-write", URL: "http://127.0.0.1:9090/api/v1/write", Pushes: 4, Failed: 4, Down: true, LastError: "connection refused"},
			"prometheus-remote-write http://127.0.0.1:9090/api/v1/write: DOWN at the end of the run, 4 of 4 pushes failed: connection refused"},
		{"some failed", reports.OutputStatus{Kind: "prometheus-remote-write", URL: "http://h/w", Pushes: 9, Failed: 2, LastError: "503 Service Unavailable"},
			"prometheus-remote-write http://h/w: 2 of 9 pushes failed (last: 503 Service Unavailable)"},
		{"fine", reports.OutputStatus{Kind: "prometheus-remote-write", URL: "http://h/w", Pushes: 9},
			"prometheus-remote-write http://h/w: 9 pushes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := summary(t, "launch")
			s.Outputs = []reports.OutputStatus{tt.out}
			var buf bytes.Buffer
			if err := WriteTable(&buf, s); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), "\n"+tt.want+"\n") {
				t.Fatalf("table lacks %q:\n%s", tt.want, buf.String())
			}
		})
	}
}
