package resultsfile

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/stampede-load/stampede/reports"
)

// t0 is the samples' start: the morning the Cashback wallet fell over.
var t0 = time.Date(2020, 12, 8, 7, 0, 0, 0, time.UTC)

// sameResult compares results field by field, times by instant.
func sameResult(a, b *reports.Result) bool {
	ta, tb := *a, *b
	if !ta.Intended.Equal(tb.Intended) || !ta.Sent.Equal(tb.Sent) {
		return false
	}
	ta.Intended, tb.Intended, ta.Sent, tb.Sent = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return ta == tb
}

// writeAll encodes rs with a Writer.
func writeAll(t testing.TB, attack string, rs []reports.Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, WithAttack(attack))
	for i := range rs {
		if err := w.Write(&rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll decodes everything a Reader yields.
func readAll(t testing.TB, data []byte) ([]reports.Result, *reader, error) {
	t.Helper()
	rd := newReader(bytes.NewReader(data))
	var out []reports.Result
	for {
		var r reports.Result
		err := rd.Read(&r)
		if errors.Is(err, io.EOF) {
			return out, rd, nil
		}
		if err != nil {
			return out, rd, err
		}
		out = append(out, r)
	}
}

var sampleResults = []reports.Result{
	{
		Seq: 1, Journey: "enroll", Step: "login", User: 41, Attempt: 1, Intended: t0, Sent: t0.Add(120 * time.Microsecond),
		Latency: 3 * time.Millisecond, SendLatency: 2880 * time.Microsecond, Method: "POST", URL: "http://127.0.0.1:8080/api/v1/session",
		Code: 201, OK: true, BytesOut: 32, BytesIn: 80, Arrival: true,
	},
	{
		Seq: 1, Journey: "enroll", Step: "add-card", User: 41, Attempt: 2, Intended: t0.Add(1500 * time.Millisecond),
		Sent: t0.Add(1520 * time.Millisecond), Latency: 812 * time.Millisecond, SendLatency: 792 * time.Millisecond,
		Method: "POST", URL: "http://127.0.0.1:8080/api/v1/wallet/cards", Code: 503, BytesOut: 96, BytesIn: 58,
		Upstream: "nexi", ErrorCode: "QUEUE_FULL", Message: "Si è verificato un errore temporaneo nel salvataggio di questa carta",
	},
	{
		Seq: 2, Journey: "enroll", Step: "login", User: 42, Attempt: 1, Intended: t0.Add(2 * time.Second),
		Latency: 500 * time.Millisecond, Method: "POST", URL: "http://127.0.0.1:8080/api/v1/session", Dropped: true, Arrival: true,
	},
	{
		Seq: 3, Journey: "enroll", Step: "cobadge-poll", User: 43, Attempt: 1, Poll: 3, Intended: t0.Add(3 * time.Second).In(time.FixedZone("CET", 3600)),
		Sent: t0.Add(3 * time.Second), Latency: 10 * time.Second, SendLatency: 10 * time.Second, Method: "GET",
		URL:   "http://127.0.0.1:8080/api/v1/cobadge/searches/7?x=\"quoted\"&y=\\",
		Error: "Get \"http://127.0.0.1:8080/api/v1/cobadge/searches/7\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
	},
	{
		Seq: 4, Journey: "journey\twith\ncontrol\x01chars", Step: "step \u2028 sep", User: 1<<64 - 1, Attempt: 1,
		Intended: t0.Add(4*time.Second + 123456789), Sent: t0.Add(4*time.Second + 123456789), Latency: -1,
		Method: "GET", URL: "http://x/ü/日本", Code: 200, OK: true, JourneyDone: true, Message: `{"nested":"json"}`,
	},
	{}, // the zero result survives too
}

func TestWriterReaderRoundTrip(t *testing.T) {
	for i := range sampleResults {
		want := sampleResults[i]
		t.Run(strconv.Itoa(i)+"-"+want.Step, func(t *testing.T) {
			data := writeAll(t, "launch-day", []reports.Result{want})
			if !utf8.Valid(data) || bytes.Count(data, []byte("\n")) != 1 {
				t.Fatalf("line is not one line of valid UTF-8: %q", data)
			}
			got, rd, err := readAll(t, data)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !sameResult(&got[0], &want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v\nline %s", got, want, data)
			}
			if rd.Attack() != "launch-day" || rd.Truncated() {
				t.Errorf("Attack %q Truncated %v", rd.Attack(), rd.Truncated())
			}
		})
	}
}

func TestWriterInvalidUTF8(t *testing.T) {
	r := reports.Result{Step: "bad\xffbyte", Error: "x\xc3"}
	got, _, err := readAll(t, writeAll(t, "", []reports.Result{r}))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Step != "bad\uFFFDbyte" || got[0].Error != "x\uFFFD" {
		t.Errorf("invalid UTF-8 not replaced: %q %q", got[0].Step, got[0].Error)
	}
}

// TestReaderReadsVegetaFile reads a file written by vegeta's own encoder,
// with a body and headers stampede does not use.
func TestReaderReadsVegetaFile(t *testing.T) {
	var buf bytes.Buffer
	enc := vegeta.NewJSONEncoder(&buf)
	want := []vegeta.Result{
		{Attack: "a", Seq: 0, Code: 200, Timestamp: t0, Latency: 5 * time.Millisecond, BytesOut: 1, BytesIn: 2,
			Body: []byte(`{"ok":true}`), Method: "GET", URL: "http://x/", Headers: http.Header{"X-Upstream": {"sia"}, "Vary": {"a", "b"}}},
		{Attack: "a", Seq: 1, Code: 0, Timestamp: t0.Add(time.Second), Latency: time.Second, Error: "dial tcp 127.0.0.1:1: connect: connection refused"},
	}
	for i := range want {
		if err := enc.Encode(&want[i]); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := readAll(t, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d results, want %d", len(got), len(want))
	}
	for i, v := range want {
		g := got[i]
		if g.Seq != v.Seq || g.Code != int(v.Code) || !g.Intended.Equal(v.Timestamp) || g.Latency != v.Latency ||
			g.BytesIn != v.BytesIn || g.BytesOut != v.BytesOut || g.Error != v.Error || g.Method != v.Method || g.URL != v.URL {
			t.Errorf("result %d: got %+v from vegeta's %+v", i, g, v)
		}
	}
}

func TestReaderTruncatedLastLine(t *testing.T) {
	full := writeAll(t, "launch-day", sampleResults[:3])
	lastStart := bytes.LastIndexByte(full[:len(full)-1], '\n') + 1
	for cut := lastStart + 1; cut < len(full); cut++ {
		data := full[:cut]
		got, rd, err := readAll(t, data)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		wantN, wantTrunc := 2, true
		if cut == len(full)-1 { // only the newline is missing: the line is whole
			wantN, wantTrunc = 3, false
		}
		if len(got) != wantN || rd.Truncated() != wantTrunc {
			t.Fatalf("cut at %d (%q): read %d results, truncated %v; want %d, %v", cut, data[lastStart:], len(got), rd.Truncated(), wantN, wantTrunc)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	good := string(writeAll(t, "x", sampleResults[:1]))
	tests := []struct {
		name string
		data string
		line int
		want string
	}{
		{"garbage line", good + "not json\n" + good, 2, `col 1: unexpected "n", want '{'`},
		{"truncated line followed by more", good + good[:40] + "\n" + good, 2, "unterminated string"},
		{"wrong type", good + `{"code":"503"}` + "\n", 2, `field "code"`},
		{"code out of range", `{"code":70000}` + "\n", 1, "out of range"},
		{"negative seq", `{"seq":-1}` + "\n", 1, "not a non-negative integer"},
		{"fractional latency", `{"latency":1.5}` + "\n", 1, "not an integer"},
		{"bad time", `{"timestamp":"yesterday"}` + "\n", 1, "RFC 3339"},
		{"trailing garbage", `{"seq":1} x` + "\n", 1, "after the object"},
		{"bad escape", `{"url":"\q"}` + "\n", 1, `bad escape`},
		{"bad bool", `{"ok":1}` + "\n", 1, "want a value"},
		{"deep nesting", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}\n", 1, "too deeply"},
		{"after blank lines", "\n\n" + good + "\r\n{\n", 5, "unexpected end of line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := newReader(strings.NewReader(tt.data))
			rd.SetName("results.jsonl")
			var err error
			for err == nil {
				err = rd.Read(&reports.Result{})
			}
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, want a *LineError", err)
			}
			prefix := "results.jsonl:" + strconv.Itoa(tt.line) + ": "
			if le.Line != tt.line || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want prefix %q and %q", err, prefix, tt.want)
			}
		})
	}
}

func TestReaderFileNameFromOSFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	if err := os.WriteFile(path, []byte("{\"code\":200}\n{\"seq\":x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := newReader(f)
	var r reports.Result
	if err := rd.Read(&r); err != nil {
		t.Fatal(err)
	}
	if err := rd.Read(&r); err == nil || !strings.HasPrefix(err.Error(), path+":2: ") {
		t.Errorf("got %v, want it to start with %s:2:", err, path)
	}
}

func TestReaderLongLinesAndCRLF(t *testing.T) {
	body := strings.Repeat("A", 200<<10) // past the reader's 64 KiB buffer
	data := `{"seq":1,"body":"` + body + `","code":200}` + "\r\n\r\n" + `{"seq":2,"code":204}` + "\r\n"
	got, rd, err := readAll(t, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Seq != 1 || got[0].Code != 200 || got[1].Seq != 2 || rd.Line() != 3 {
		t.Errorf("got %+v at line %d", got, rd.Line())
	}
}

func TestReaderNullsAndUnknownFields(t *testing.T) {
	data := `{"attack":"a","body":null,"headers":{"X":["1",null]},"extra":{"deep":[1,2.5e3,-0,true,false,null,"s\u00e9\ud83d\ude00"]},"error":null,"code":404,"sent":""}` + "\n"
	got, _, err := readAll(t, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Code != 404 || got[0].Error != "" || !got[0].Sent.IsZero() {
		t.Errorf("got %+v", got)
	}
}

// FuzzReader feeds arbitrary bytes to the Reader: it must never panic, and
// whatever it accepts must survive a write and a second read unchanged.
func FuzzReader(f *testing.F) {
	f.Add(writeAll(f, "launch-day", sampleResults))
	f.Add([]byte(`{"attack":"a","seq":1,"code":200,"timestamp":"2020-12-08T07:00:00Z","latency":5,"body":"eyJ9","headers":{"A":["b"]}}` + "\n"))
	f.Add([]byte("{\"url\":\"\\ud83d\\ude00\\ud800x\"}\n{\"seq\":18446744073709551615}"))
	f.Add([]byte(`{"latency":-9223372036854775808,"send_latency":9223372036854775807}`))
	f.Add([]byte("{\n\"a\":[[[{}]]]}\n\n\r\n{"))
	f.Add([]byte(`{"sent":"0000-01-01T00:00:00+01:00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, rd, err := readAll(t, data)
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error %v is not a *LineError with a line", err)
			}
			// The offset is where the bad line begins: the start of the
			// data or just past a newline, with as many newlines before it
			// as lines before it.
			if le.Offset < 0 || le.Offset > int64(len(data)) || (le.Offset > 0 && data[le.Offset-1] != '\n') ||
				bytes.Count(data[:le.Offset], []byte("\n")) != le.Line-1 {
				t.Fatalf("line %d at byte %d: not where the line begins", le.Line, le.Offset)
			}
		}
		if rd.Truncated() && (rd.offset != int64(bytes.LastIndexByte(data, '\n')+1)) {
			t.Fatalf("cut line at byte %d, want %d (just past the last newline)", rd.offset, bytes.LastIndexByte(data, '\n')+1)
		}
		if len(got) == 0 {
			return
		}
		again, _, err := readAll(t, writeAll(t, "fuzz", got))
		if err != nil {
			t.Fatalf("re-reading our own output: %v", err)
		}
		if len(again) != len(got) {
			t.Fatalf("re-read %d results, want %d", len(again), len(got))
		}
		for i := range got {
			want := got[i]
			want.Journey, want.Step, want.Method, want.URL = fixUTF8(want.Journey), fixUTF8(want.Step), fixUTF8(want.Method), fixUTF8(want.URL)
			want.Error, want.Upstream, want.ErrorCode, want.Message = fixUTF8(want.Error), fixUTF8(want.Upstream), fixUTF8(want.ErrorCode), fixUTF8(want.Message)
			if want.Dropped && want.Error == reports.DroppedError {
				want.Error = ""
			}
			if !sameResult(&again[i], &want) {
				t.Fatalf("result %d changed:\n got %+v\nwant %+v", i, again[i], want)
			}
		}
	})
}

// fixUTF8 replaces each invalid byte with U+FFFD, as the writer does.
func fixUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

func BenchmarkWriter(b *testing.B) {
	r := sampleResults[1]
	w := NewWriter(io.Discard, WithAttack("launch-day"))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(&r); err != nil {
			b.Fatal(err)
		}
	}
}

// repeatReader yields line forever.
type repeatReader struct {
	line []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.line[r.off:])
		n += c
		r.off = (r.off + c) % len(r.line)
	}
	return n, nil
}

func BenchmarkReader(b *testing.B) {
	line := writeAll(b, "launch-day", sampleResults[1:2])
	rd := newReader(&repeatReader{line: line})
	var r reports.Result
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if err := rd.Read(&r); err != nil {
			b.Fatal(err)
		}
	}
}

// collect is a sink that keeps a copy of every result.
type collect []reports.Result

func (c *collect) Add(r *reports.Result) { *c = append(*c, *r) }

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	whole := writeAll(t, "launch-day", sampleResults)
	write := func(name string, data []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("whole", func(t *testing.T) {
		var got collect
		info, err := ReadFile(write("whole.jsonl", whole), &got)
		if err != nil {
			t.Fatal(err)
		}
		if info != (Info{Results: int64(len(sampleResults)), Attack: "launch-day"}) || len(got) != len(sampleResults) {
			t.Fatalf("info %+v, %d results; want %d", info, len(got), len(sampleResults))
		}
		for i := range got {
			if !sameResult(&got[i], &sampleResults[i]) {
				t.Errorf("result %d: got %+v, want %+v", i, got[i], sampleResults[i])
			}
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		var got collect
		info, err := ReadFile(write("cut.jsonl", whole[:len(whole)-5]), &got)
		if err != nil || !info.Truncated || info.Results != int64(len(sampleResults)-1) || len(got) != len(sampleResults)-1 {
			t.Fatalf("info %+v, %d results, %v; want %d results and the cut line skipped", info, len(got), err, len(sampleResults)-1)
		}
	})
	t.Run("malformed line", func(t *testing.T) {
		path := write("bad.jsonl", append(append([]byte{}, whole...), "{\"seq\":x}\n{}\n"...))
		_, err := ReadFile(path, &collect{})
		le, ok := errors.AsType[*LineError](err)
		if !ok || le.Line != len(sampleResults)+1 || !strings.HasPrefix(err.Error(), path+":"+strconv.Itoa(len(sampleResults)+1)+": ") {
			t.Errorf("got %v, want a *LineError at %s:%d", err, path, len(sampleResults)+1)
		}
	})
	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(dir, "none.jsonl")
		if _, err := ReadFile(path, &collect{}); err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v, want a not-exist error naming %s", err, path)
		}
	})
	t.Run("a folder", func(t *testing.T) {
		if _, err := ReadFile(dir, &collect{}); err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("got %v, want an error naming %s", err, dir)
		}
	})
}

// TestReadFileNamesTheByte checks that a bad line is named by file, line
// and byte offset, that a file from another tool is refused at its first
// line, and that a file cut short says where its readable part ends.
func TestReadFileNamesTheByte(t *testing.T) {
	dir := t.TempDir()
	good := writeAll(t, "launch-day", sampleResults[:2])
	for _, c := range []struct {
		name, data, want string
	}{
		{"bad line", string(good) + "{\"code\":x}\n" + string(good), ":3: byte " + strconv.Itoa(len(good)) + ": "},
		{"k6 output", `{"type":"Point","metric":"http_reqs","data":{"time":"2020-12-08T07:00:00Z","value":1}}` + "\n", `:1: byte 0: not a result: no "timestamp" or "code" (a file from another tool?)`},
		{"csv, one line", "timestamp,latency,code", ":1: byte 0: "},
		{"gob", "\x1f\xff\x81\x03\x01\x01\x06Result", ":1: byte 0: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".jsonl")
			if err := os.WriteFile(path, []byte(c.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadFile(path, reports.SinkFunc(func(*reports.Result) {}))
			if _, ok := errors.AsType[*LineError](err); !ok || !strings.HasPrefix(err.Error(), path+c.want) {
				t.Errorf("got %v, want a *LineError starting %s%s", err, path, c.want)
			}
		})
	}
	path := filepath.Join(dir, "cut.jsonl")
	if err := os.WriteFile(path, append(append([]byte{}, good...), `{"attack":"launch-day","seq":3,"co`...), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := ReadFile(path, reports.SinkFunc(func(*reports.Result) {}))
	if err != nil || !info.Truncated || info.TruncatedAt != int64(len(good)) || info.Results != 2 {
		t.Errorf("got %+v, %v; want 2 results, cut at byte %d", info, err, len(good))
	}
}
