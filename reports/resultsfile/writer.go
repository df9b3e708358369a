package resultsfile

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/stampede-load/stampede/reports"
)

// Writer appends Results to a results file. It buffers its output: call
// Flush when done (and from time to time, so an interrupted run leaves most
// of its results on disk). It never closes the underlying writer.
//
// The file is JSON lines, one reports.Result per line, in vegeta's own JSON
// result format so `vegeta report` and `vegeta plot` read it as it is:
//
//	{"attack":"launch-day","seq":7,"code":503,"timestamp":"2020-12-08T07:00:01.5Z",
//	 "latency":812000000,"bytes_out":96,"bytes_in":58,"error":"","method":"POST",
//	 "url":"http://…/api/v1/wallet/cards","headers":null,"journey":"enroll",
//	 "step":"add-card","user":41,"attempt":1,"sent":"2020-12-08T07:00:01.52Z",
//	 "send_latency":792000000,"ok":false,"upstream":"nexi","error_code":"QUEUE_FULL",
//	 "message":"…"}
//
// The vegeta fields carry vegeta's meaning: "timestamp" is the intended send
// time and "latency" is counted from it (nanoseconds). Stampede's own fields
// follow; vegeta's decoder skips them. Fields after "headers" are left out
// when they hold their zero value, except journey, step, user, attempt and
// ok. "body" is never written. A dropped arrival is written as code 0 with
// the error reports.DroppedError, so vegeta counts it as a failed request.
//
// A Writer is not safe for concurrent use: one goroutine owns it, usually
// the one draining the engine's results channel.
type Writer struct {
	bw     *bufio.Writer
	line   []byte
	attack string
	err    error // the first error of Add or Flush
}

// WriterOption configures a Writer.
type WriterOption func(*Writer)

// WithAttack sets the value of vegeta's "attack" field, the scenario name.
func WithAttack(name string) WriterOption {
	return func(w *Writer) { w.attack = name }
}

// NewWriter returns a Writer appending to w through a 64 KiB buffer.
func NewWriter(w io.Writer, opts ...WriterOption) *Writer {
	wr := &Writer{bw: bufio.NewWriterSize(w, 64<<10), line: make([]byte, 0, 1024)}
	for _, o := range opts {
		o(wr)
	}
	return wr
}

// Write appends r as one line. It does not allocate once its line buffer
// has grown to the longest line.
func (w *Writer) Write(r *reports.Result) error {
	w.line = AppendResult(w.line[:0], w.attack, r)
	if _, err := w.bw.Write(w.line); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// Add makes the Writer a Sink: it writes r, and keeps the first error for
// Flush to return; after an error it writes nothing more.
func (w *Writer) Add(r *reports.Result) {
	if w.err == nil {
		w.err = w.Write(r)
	}
}

// Flush writes any buffered lines to the underlying writer. It returns the
// first error a previous Add or Flush met, if any.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("flush results: %w", err)
	}
	return w.err
}

// AppendResult appends r to b as one results-file line, newline included,
// with attack as vegeta's "attack" field, and returns the extended buffer.
func AppendResult(b []byte, attack string, r *reports.Result) []byte {
	code, errText := r.Code, r.Error
	if r.Dropped && errText == "" {
		errText = reports.DroppedError
	}
	b = append(b, `{"attack":`...)
	b = appendJSONString(b, attack)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"timestamp":`...)
	b = appendTime(b, r.Intended)
	b = append(b, `,"latency":`...)
	b = strconv.AppendInt(b, int64(r.Latency), 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendUint(b, r.BytesOut, 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendUint(b, r.BytesIn, 10)
	b = append(b, `,"error":`...)
	b = appendJSONString(b, errText)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, r.URL)
	b = append(b, `,"headers":null,"journey":`...)
	b = appendJSONString(b, r.Journey)
	b = append(b, `,"step":`...)
	b = appendJSONString(b, r.Step)
	b = append(b, `,"user":`...)
	b = strconv.AppendUint(b, r.User, 10)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(r.Attempt), 10)
	if r.Poll != 0 {
		b = append(b, `,"poll":`...)
		b = strconv.AppendInt(b, int64(r.Poll), 10)
	}
	if !r.Sent.IsZero() {
		b = append(b, `,"sent":`...)
		b = appendTime(b, r.Sent)
	}
	if r.SendLatency != 0 {
		b = append(b, `,"send_latency":`...)
		b = strconv.AppendInt(b, int64(r.SendLatency), 10)
	}
	b = append(b, `,"ok":`...)
	b = strconv.AppendBool(b, r.OK)
	if r.Upstream != "" {
		b = append(b, `,"upstream":`...)
		b = appendJSONString(b, r.Upstream)
	}
	if r.ErrorCode != "" {
		b = append(b, `,"error_code":`...)
		b = appendJSONString(b, r.ErrorCode)
	}
	if r.Message != "" {
		b = append(b, `,"message":`...)
		b = appendJSONString(b, r.Message)
	}
	if r.Dropped {
		b = append(b, `,"dropped":true`...)
	}
	if r.Arrival {
		b = append(b, `,"arrival":true`...)
	}
	if r.JourneyDone {
		b = append(b, `,"journey_done":true`...)
	}
	return append(b, "}\n"...)
}

// appendTime appends t in UTC as a quoted RFC 3339 time with nanoseconds.
// Years outside 0..9999 cannot be written in RFC 3339 (nor read by vegeta);
// they become the zero time, which only a corrupt clock can produce.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		t = time.Time{}
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// safeASCII[c] is true for bytes that go into a JSON string unescaped.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a JSON string: quotes and backslashes
// escaped, control characters as \n, \r, \t or \u00XX, invalid UTF-8 as
// U+FFFD, and U+2028 and U+2029 escaped so a line is also valid JavaScript.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
