package reports

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestClassifyTransport(t *testing.T) {
	tests := []struct {
		name, text string
		want       ErrorMode
	}{
		{"client timeout", `Post "http://127.0.0.1:8080/api/v1/wallet/cards": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, ModeTimeout},
		{"canceled with client timeout", `Get "http://x/": net/http: request canceled (Client.Timeout exceeded while reading body)`, ModeTimeout},
		{"io timeout", `Get "http://x/": read tcp 127.0.0.1:50000->127.0.0.1:8080: i/o timeout`, ModeTimeout},
		{"dial timeout", `Get "http://10.0.0.1/": dial tcp 10.0.0.1:80: i/o timeout`, ModeTimeout},
		{"header timeout", `Get "http://x/": net/http: timeout awaiting response headers`, ModeTimeout},
		{"tls handshake timeout", `Get "https://x/": net/http: TLS handshake timeout`, ModeTimeout},
		{"bare deadline", `context deadline exceeded`, ModeTimeout},
		{"refused", `Get "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused`, ModeRefused},
		{"h2 refused stream", `Get "https://x/": http2: stream error: stream ID 3; REFUSED_STREAM`, ModeRefused},
		{"reset", `Get "http://x/": read tcp 127.0.0.1:50000->127.0.0.1:8080: read: connection reset by peer`, ModeReset},
		{"broken pipe", `Post "http://x/": write tcp 127.0.0.1:50000->127.0.0.1:8080: write: broken pipe`, ModeReset},
		{"h2 stream reset", `Get "https://x/": stream error: stream ID 5; INTERNAL_ERROR`, ModeReset},
		{"eof", `Get "http://x/": EOF`, ModeEOF},
		{"unexpected eof", `Get "http://x/": unexpected EOF`, ModeEOF},
		{"idle close", `Get "http://x/": http: server closed idle connection`, ModeEOF},
		{"goaway", `Get "https://x/": http2: server sent GOAWAY and closed the connection; LastStreamID=1`, ModeEOF},
		{"tls verify", `Get "https://x/": tls: failed to verify certificate: x509: certificate signed by unknown authority`, ModeTLS},
		{"x509", `Get "https://x/": x509: certificate has expired or is not yet valid`, ModeTLS},
		{"http to https", `Get "https://x/": http: server gave HTTP response to HTTPS client`, ModeTLS},
		{"no such host", `Get "http://stack.invalid/": dial tcp: lookup stack.invalid: no such host`, ModeDNS},
		{"dns timeout is dns", `Get "http://x/": dial tcp: lookup x on 127.0.0.53:53: read udp 127.0.0.1:1->127.0.0.53:53: i/o timeout`, ModeDNS},
		{"fd exhaustion", `Get "http://x/": dial tcp 127.0.0.1:8080: socket: too many open files`, ModeLocal},
		{"port exhaustion", `Get "http://x/": dial tcp 127.0.0.1:8080: connect: cannot assign requested address`, ModeLocal},
		{"canceled", `Get "http://x/": context canceled`, ModeCanceled},
		{"url does not fake a timeout", `Get "http://timeout-svc/x": dial tcp 10.0.0.7:80: connect: connection refused`, ModeRefused},
		{"url does not fake eof", `Get "http://EOF/lookup tls:": read: connection reset by peer`, ModeReset},
		{"unknown", `something odd happened`, ModeTransport},
		{"dropped", DroppedError, ModeDropped},
		{"empty", "", ModeNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClassifyTransport(tt.text); got != tt.want {
				t.Errorf("ClassifyTransport(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		r    Result
		want ErrorMode
	}{
		{"success", Result{Code: 200, OK: true}, ModeNone},
		{"expected 409 is a success", Result{Code: 409, OK: true}, ModeNone},
		{"status only", Result{Code: 503}, "http 503"},
		{"status and code", Result{Code: 503, ErrorCode: "QUEUE_FULL", Upstream: "nexi"}, "http 503 QUEUE_FULL"},
		{"code is trimmed", Result{Code: 502, ErrorCode: "  BANK_TIMEOUT \n"}, "http 502 BANK_TIMEOUT"},
		{"long code is cut", Result{Code: 500, ErrorCode: strings.Repeat("é", 40)}, ErrorMode("http 500 " + strings.Repeat("é", 24))},
		{"unexpected 200", Result{Code: 200}, "http 200"},
		{"transport error wins over a status", Result{Code: 200, OK: true, Error: "unexpected EOF"}, ModeEOF},
		{"dropped wins", Result{Dropped: true, Error: "whatever"}, ModeDropped},
		{"no response, no error", Result{}, ModeTransport},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(&tt.r); got != tt.want {
				t.Errorf("Classify(%+v) = %q, want %q", tt.r, got, tt.want)
			}
		})
	}
}

// TestClassifyRealTransportErrors makes net/http fail for real against
// httptest servers, so the classification follows Go's actual texts.
func TestClassifyRealTransportErrors(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // lets the server notice the client hanging up
		select {
		case <-r.Context().Done():
		case <-block:
		}
	}))
	defer slow.Close()
	defer close(block) // before Close, which waits for handlers
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer hangup.Close()
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0) // close with RST
			conn.Close()
		}
	}))
	defer reset.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close() // nothing listens there any more

	tests := []struct {
		name    string
		url     string
		timeout time.Duration
		ctx     func() (context.Context, context.CancelFunc)
		want    ErrorMode
	}{
		{"client timeout", slow.URL, 50 * time.Millisecond, nil, ModeTimeout},
		{"context deadline", slow.URL, 0, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, ModeTimeout},
		{"canceled", slow.URL, 0, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, func() {}
		}, ModeCanceled},
		{"server hung up", hangup.URL, 0, nil, ModeEOF},
		{"server reset", reset.URL, 0, nil, ModeReset},
		{"refused", closedURL, 0, nil, ModeRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			client := &http.Client{Timeout: tt.timeout, Transport: &http.Transport{DisableKeepAlives: true}}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, tt.url, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("request succeeded with %s", resp.Status)
			}
			if got := Classify(&Result{Error: err.Error()}); got != tt.want {
				t.Errorf("Classify(%q) = %q, want %q", err, got, tt.want)
			}
		})
	}
}

func TestParseErrorBody(t *testing.T) {
	tests := []struct {
		name, body    string
		code, message string
	}{
		{"stack error", `{"code":"BANCOMAT_SEARCH_FAILED","message":"Non siamo riusciti a recuperare la tua carta PagoBancomat"}`,
			"BANCOMAT_SEARCH_FAILED", "Non siamo riusciti a recuperare la tua carta PagoBancomat"},
		{"bank mock", `{"code":"QUEUE_FULL"}`, "QUEUE_FULL", ""},
		{"numeric code", `{"code": 1001, "message": "x"}`, "1001", "x"},
		{"problem details", `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"processor overloaded"}`,
			"Service Unavailable", "processor overloaded"},
		{"code wins over title", `{"title":"T","code":"C","detail":"D","message":"M"}`, "C", "M"},
		{"nested error object", `{"error":{"code":"E1","message":"nested"}}`, "E1", "nested"},
		{"top level wins over nested", `{"error":{"code":"E1"},"code":"TOP"}`, "TOP", ""},
		{"escapes", `{"code":"A\"B","message":"caf\u00e9 \ud83d\ude00"}`, `A"B`, "café 😀"},
		{"terminal escapes", `{"code":"A\u001b[2J","message":"x\u0007y\nz\u009b"}`, "A?[2J", "x?y?z?"},
		{"other members skipped", `{"x":[1,{"y":null}],"code":"C","z":true}`, "C", ""},
		{"non-string code ignored", `{"code":{"a":1},"message":"m"}`, "", "m"},
		{"whitespace", " \n{ \"code\" : \"C\" }\n", "C", ""},
		{"message trimmed", `{"message":"  hi  "}`, "", "hi"},
		{"long message cut", `{"message":"` + strings.Repeat("è", 300) + `"}`, "", strings.Repeat("è", 128)},
		{"not an object", `["code"]`, "", ""},
		{"html", `<html><body>502 Bad Gateway</body></html>`, "", ""},
		{"truncated", `{"code":"QUEUE_FU`, "", ""},
		{"trailing garbage", `{"code":"C"} extra`, "", ""},
		{"empty", ``, "", ""},
		{"null", `null`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := ParseErrorBody([]byte(tt.body))
			if code != tt.code || msg != tt.message {
				t.Errorf("ParseErrorBody(%q) = %q, %q; want %q, %q", tt.body, code, msg, tt.code, tt.message)
			}
		})
	}
}

func FuzzParseErrorBody(f *testing.F) {
	for _, s := range []string{
		`{"code":"QUEUE_FULL","message":"m"}`, `{"title":"t","detail":"d"}`, `{"error":{"code":1}}`,
		`{"code":"\ud800"}`, `{"a":[[[[[]]]]]}`, `{`, `"`, `{"code":-0.5e+3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, msg := ParseErrorBody(body)
		if len(code) > maxAppCodeBytes || len(msg) > maxMessageBytes {
			t.Fatalf("results too long: %d, %d bytes", len(code), len(msg))
		}
		if !utf8.ValidString(code) || !utf8.ValidString(msg) {
			t.Fatalf("invalid UTF-8 out: %q %q", code, msg)
		}
		if strings.ContainsFunc(code+msg, unicode.IsControl) {
			t.Fatalf("control characters out: %q %q", code, msg)
		}
	})
}

func BenchmarkParseErrorBody(b *testing.B) {
	body := []byte(`{"code":"BANCOMAT_SEARCH_FAILED","message":"Non siamo riusciti a recuperare la tua carta PagoBancomat"}`)
	b.ReportAllocs()
	for b.Loop() {
		ParseErrorBody(body)
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"café 😀", "café 😀"},
		{"\x1b[2J\x1b]0;title\x07", "?[2J?]0;title?"},
		{"a\r\nb\tc", "a??b?c"},
		{"\u009b31m", "?31m"}, // C1 control sequence introducer
		{"\xff\xfe", "??"},
		{"\x7f", "?"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTargetTextIsPrintable(t *testing.T) {
	a := NewAccumulator()
	a.Add(&Result{Code: 503, ErrorCode: "Q\x1b[2J", Message: "m\x1b]0;pwn\x07", Upstream: "nexi\x1b[31m", Intended: t0})
	s := a.Summary(SummaryMeta{})
	if len(s.Errors) != 1 {
		t.Fatalf("errors %+v", s.Errors)
	}
	e := s.Errors[0]
	if e.Mode != "http 503 Q?[2J" || e.Upstream != "nexi?[31m" || e.Example != "m?]0;pwn?" {
		t.Fatalf("mode %q upstream %q example %q", e.Mode, e.Upstream, e.Example)
	}
}

func TestModeOverflow(t *testing.T) {
	a := NewAccumulator(WithMaxErrorModes(3))
	for code := 500; code < 510; code++ {
		a.Add(&Result{Code: code, Intended: t0})
	}
	s := a.Summary(SummaryMeta{})
	var modes []string
	var other int64
	for _, e := range s.Errors {
		modes = append(modes, string(e.Mode))
		if e.Mode == ModeOther {
			other = e.Count
		}
	}
	if len(s.Errors) != 4 || other != 7 {
		t.Errorf("modes %q, other %d: want 3 kept and 7 as other", modes, other)
	}
}
