package reports

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stampede-load/stampede/reports/internal/jsonscan"
)

// ErrorMode names how a request failed: a transport failure ("timeout",
// "refused", ...), "dropped" for an arrival the generator could not send, or
// an HTTP status with the application error code when the body carried one
// ("http 503", "http 503 QUEUE_FULL"). The empty mode means success.
type ErrorMode string

// The transport and generator error modes. HTTP modes are built from the
// status and code: see Classify.
const (
	ModeNone      ErrorMode = ""          // the request succeeded
	ModeTimeout   ErrorMode = "timeout"   // a client, dial, TLS-handshake or header timeout fired
	ModeRefused   ErrorMode = "refused"   // the connection was refused (nobody listening, or a full accept queue)
	ModeReset     ErrorMode = "reset"     // the peer reset the connection or stream, or the pipe broke
	ModeEOF       ErrorMode = "eof"       // the peer closed the connection before a full response
	ModeTLS       ErrorMode = "tls"       // TLS handshake or certificate verification failed
	ModeDNS       ErrorMode = "dns"       // the host name did not resolve
	ModeCanceled  ErrorMode = "canceled"  // the request was canceled, usually by stopping the run
	ModeLocal     ErrorMode = "local"     // the generator ran out of sockets, ports or file descriptors: not the target's fault
	ModeTransport ErrorMode = "transport" // any other failure without an HTTP response
	ModeDropped   ErrorMode = "dropped"   // the arrival found the in-flight cap full past the maximum wait and was never sent
	ModeOther     ErrorMode = "other"     // the catch-all once an Accumulator tracks its maximum number of modes
)

// maxAppCodeBytes bounds the application code kept in a mode, so a body
// that puts a request id in its "code" cannot make modes unbounded.
const maxAppCodeBytes = 48

// Classify returns r's error mode, ModeNone when r succeeded. Transport
// errors are classified from their text, which is how Go's net/http reports
// them (a *url.Error flattened to a string). A response the step did not
// expect is "http STATUS", followed by r.ErrorCode when the body had one.
// The upstream the target blamed is not part of the mode: it is r.Upstream.
func Classify(r *Result) ErrorMode {
	k := classifyKey(r)
	return k.mode()
}

// modeKey identifies an error mode and its upstream without building
// strings, so counting an error does not allocate.
type modeKey struct {
	kind     ErrorMode // a transport mode, or "" for an HTTP one
	code     int       // HTTP status for an HTTP mode
	app      string    // application error code, trimmed
	upstream string
}

// mode renders the key's mode.
func (k modeKey) mode() ErrorMode {
	if k.kind != "" || k.code == 0 {
		return k.kind
	}
	s := "http " + strconv.Itoa(k.code)
	if k.app != "" {
		s += " " + k.app
	}
	return ErrorMode(s)
}

// ClassifyKey is Classify without building the mode's text: the mode and
// the upstream of r, the zero key when r succeeded. It does not allocate,
// and its key is comparable: sinks that count by mode key maps with it.
func ClassifyKey(r *Result) ModeKey { return exportKey(classifyKey(r)) }

// Mode renders the key's mode, as Classify returns it.
func (k ModeKey) Mode() ErrorMode { return importKey(k).mode() }

// OK reports whether the key is success (ModeNone).
func (k ModeKey) OK() bool { return k == ModeKey{} }

func classifyKey(r *Result) modeKey {
	up := r.Upstream
	if up != "" {
		up = printableClip(up, maxAppCodeBytes)
	}
	switch {
	case r.Dropped:
		return modeKey{kind: ModeDropped, upstream: up}
	case r.Error != "":
		return modeKey{kind: ClassifyTransport(r.Error), upstream: up}
	case r.OK:
		return modeKey{}
	case r.Code != 0:
		return modeKey{code: r.Code, app: appCode(r.ErrorCode), upstream: up}
	default:
		return modeKey{kind: ModeTransport, upstream: up}
	}
}

// appCode trims an application error code and cuts it to a bounded length
// on a rune boundary.
func appCode(s string) string {
	return printableClip(strings.TrimSpace(s), maxAppCodeBytes)
}

// printableClip makes s printable (see Printable) and cuts it to at most n
// bytes without splitting a rune: text from the target reaches terminals
// and reports through it.
func printableClip(s string, n int) string {
	s = Printable(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Printable returns s with every control character (C0, DEL and C1,
// line breaks and tabs included) and every invalid UTF-8 byte replaced by
// "?", so that text from a target or a file cannot move a terminal's
// cursor, clear its screen or set its title when printed.
func Printable(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == utf8.RuneError || unicode.IsControl(r) }) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		_, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsControl(r) || (r == utf8.RuneError && size == 1) {
			b.WriteByte('?')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// transportPatterns map fragments of Go's transport error texts to modes,
// checked in order: the first fragment found decides. Order matters where a
// text holds several: a DNS lookup that timed out is "dns", a TLS handshake
// that timed out is "timeout", and a client timeout reported as a canceled
// request ("request canceled (Client.Timeout exceeded ...)") is "timeout".
var transportPatterns = []struct {
	fragment string
	mode     ErrorMode
}{
	{"no such host", ModeDNS},
	{"lookup ", ModeDNS},
	{"server misbehaving", ModeDNS},
	{"too many open files", ModeLocal},
	{"cannot assign requested address", ModeLocal},
	{"no buffer space available", ModeLocal},
	{"address already in use", ModeLocal},
	{"timeout", ModeTimeout}, // i/o timeout, TLS handshake timeout, timeout awaiting response headers
	{"Timeout", ModeTimeout}, // Client.Timeout exceeded
	{"deadline exceeded", ModeTimeout},
	{"context canceled", ModeCanceled},
	{"request canceled", ModeCanceled},
	{"operation was canceled", ModeCanceled},
	{"connection refused", ModeRefused},
	{"REFUSED_STREAM", ModeRefused},
	{"connection reset", ModeReset},
	{"broken pipe", ModeReset},
	{"forcibly closed", ModeReset},
	{"stream error", ModeReset},
	{"tls:", ModeTLS},
	{"x509:", ModeTLS},
	{"HTTP response to HTTPS client", ModeTLS},
	{"EOF", ModeEOF}, // EOF and unexpected EOF
	{"server closed idle connection", ModeEOF},
	{"GOAWAY", ModeEOF},
	{"connection lost", ModeEOF},
	{"use of closed network connection", ModeEOF},
	{"closed connection", ModeEOF},
}

// ClassifyTransport maps the text of a transport error (as net/http
// reports it) to its mode; unknown texts are ModeTransport, "" is ModeNone.
func ClassifyTransport(text string) ErrorMode {
	if text == "" {
		return ModeNone
	}
	if text == DroppedError {
		return ModeDropped
	}
	// Match the cause only, so a host named "timeout-svc" cannot fake a
	// timeout.
	text = ErrorCause(text)
	for _, p := range transportPatterns {
		if strings.Contains(text, p.fragment) {
			return p.mode
		}
	}
	return ModeTransport
}

// ErrorCause strips the `Get "http://host/path": ` net/http puts before
// the cause of a transport error.
func ErrorCause(text string) string {
	if i := strings.Index(text, `": `); i >= 0 && strings.Contains(text[:i], ` "`) {
		return text[i+3:]
	}
	return text
}

// maxBodyScan bounds how much of an error body ParseErrorBody reads.
const maxBodyScan = 64 << 10

// maxMessageBytes bounds the message ParseErrorBody returns.
const maxMessageBytes = 256

// ParseErrorBody reads an application error from a JSON response body:
// {"code": "...", "message": "..."}, the shape of the reference stack and
// the bank mocks. Fallbacks: "title" for the code and "detail" for the
// message (RFC 9457 problem details), and the same members inside an
// "error" object. A numeric code is returned as its text. Bodies that are
// not a JSON object, or are larger than 64 KiB, give empty results. It never
// panics, and allocates little more than the strings it returns.
func ParseErrorBody(body []byte) (code, message string) {
	if len(body) == 0 || len(body) > maxBodyScan {
		return "", ""
	}
	var s jsonscan.Scanner
	s.Reset(body)
	var f errorFields
	if !f.parse(&s, 0) {
		return "", ""
	}
	if s.End() != nil {
		return "", ""
	}
	code, message = f.code, f.message
	if code == "" {
		code = f.title
	}
	if message == "" {
		message = f.detail
	}
	if code == "" && message == "" && f.nested != nil {
		code, message = f.nested.code, f.nested.message
		if code == "" {
			code = f.nested.title
		}
		if message == "" {
			message = f.nested.detail
		}
	}
	return appCode(code), printableClip(strings.TrimSpace(message), maxMessageBytes)
}

type errorFields struct {
	code, message, title, detail string
	nested                       *errorFields
}

// parse reads one object, keeping the members ParseErrorBody looks for.
func (f *errorFields) parse(s *jsonscan.Scanner, depth int) bool {
	empty, err := s.ObjectStart()
	if err != nil {
		return false
	}
	for !empty {
		k, err := s.Key()
		if err != nil {
			return false
		}
		if !f.member(s, string(k), depth) {
			return false
		}
		more, err := s.Next()
		if err != nil {
			return false
		}
		empty = !more
	}
	return true
}

// member reads the value of the member named key.
func (f *errorFields) member(s *jsonscan.Scanner, key string, depth int) bool {
	switch key {
	case "code":
		return scalarText(s, &f.code)
	case "message":
		return scalarText(s, &f.message)
	case "title":
		return scalarText(s, &f.title)
	case "detail":
		return scalarText(s, &f.detail)
	case "error":
		if depth == 0 && s.Peek() == '{' {
			f.nested = &errorFields{}
			return f.nested.parse(s, depth+1)
		}
	}
	return s.Skip(depth+1) == nil
}

// scalarText reads a string or number into dst; other values are skipped.
func scalarText(s *jsonscan.Scanner, dst *string) bool {
	switch c := s.Peek(); {
	case c == '"':
		b, err := s.Str()
		if err != nil {
			return false
		}
		*dst = string(b)
	case c == '-' || ('0' <= c && c <= '9'):
		b, err := s.Number()
		if err != nil {
			return false
		}
		*dst = string(b)
	default:
		return s.Skip(1) == nil
	}
	return true
}
