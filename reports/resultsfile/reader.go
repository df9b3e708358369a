package resultsfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/internal/jsonscan"
)

// maxLineBytes bounds one results-file line. Stampede's own lines are a few
// hundred bytes; vegeta's carry the response body, hence the room.
const maxLineBytes = 16 << 20

// maxInterned bounds the reader's table of repeated strings.
const maxInterned = 4096

// Info is what ReadFile learnt about a file besides its results.
type Info struct {
	Results     int64  // results handed to the sink
	Truncated   bool   // the last line was cut short (an interrupted run) and skipped
	TruncatedAt int64  // with Truncated: the byte offset where the cut line begins, the length of the readable file
	Attack      string // vegeta's "attack" field (the scenario name) of the last result
}

// ReadFile reads the results file at path and hands every result to sink,
// in file order: the one way stampede reads results back (the audit, the
// report command, merging shards). The *reports.Result is reused between
// calls, as the Sink contract allows.
//
// A last line cut short without a newline, as an interrupted run leaves it,
// ends the file cleanly and sets Info.Truncated; a malformed line anywhere
// else is a *LineError. Every error names the file.
func ReadFile(path string, sink reports.Sink) (Info, error) {
	var info Info
	f, err := os.Open(path)
	if err != nil {
		return info, fmt.Errorf("read results: %w", err) // *PathError names the file
	}
	defer f.Close()
	rd := newReader(f)
	var r reports.Result
	for {
		err := rd.Read(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if _, ok := errors.AsType[*LineError](err); ok {
			return info, err
		}
		if err != nil {
			return info, fmt.Errorf("%s: %w", path, err)
		}
		sink.Add(&r)
		info.Results++
	}
	info.Truncated, info.Attack = rd.Truncated(), rd.Attack()
	if info.Truncated {
		info.TruncatedAt = rd.offset
	}
	return info, nil
}

// LineError is a malformed line in a results file. Its text reads
// "results.jsonl:123: byte 40960: ..." so editors and CI logs link to the
// line, and a hex dump finds it by offset.
type LineError struct {
	File   string // the file's name, or "" when the reader has none
	Line   int    // 1-based line number
	Offset int64  // byte offset of the line's start in the file
	Err    error
}

// Error formats the error as FILE:LINE: byte OFFSET: message.
func (e *LineError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: byte %d: %v", e.Line, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s:%d: byte %d: %v", e.File, e.Line, e.Offset, e.Err)
}

// Unwrap returns the underlying error.
func (e *LineError) Unwrap() error { return e.Err }

// reader decodes a results file written by Writer, or by vegeta's JSON
// encoder (fields stampede does not know are skipped; stampede's own
// fields are then zero).
//
// An interrupted run can leave its last line cut short. reader treats an
// unparsable last line that has no newline as the end of the file and
// reports it through Truncated. A malformed line anywhere else is an error.
//
// A reader is not safe for concurrent use.
type reader struct {
	br        *bufio.Reader
	name      string
	line      int
	long      []byte // accumulates a line longer than br's buffer
	sc        jsonscan.Scanner
	attack    string
	truncated bool
	done      bool
	intern    map[string]string
	offset    int64 // where the line last read begins
	next      int64 // bytes read so far: where the next line begins
	seen      uint8 // the required fields met on the current line
}

// The fields of which a result has at least one: vegeta and stampede write
// both on every line, and a file from another tool (k6's JSON output, a
// log) has neither.
const (
	seenTimestamp uint8 = 1 << iota
	seenCode
)

// newReader returns a reader of r. When r has a Name method (an *os.File
// does) its name prefixes the line numbers in errors.
func newReader(r io.Reader) *reader {
	rd := &reader{br: bufio.NewReaderSize(r, 64<<10), intern: make(map[string]string)}
	if n, ok := r.(interface{ Name() string }); ok {
		rd.name = n.Name()
	}
	return rd
}

// SetName sets the file name errors are reported against.
func (rd *reader) SetName(name string) { rd.name = name }

// Truncated reports whether the file ended in a partial line, which Read
// skipped: the sign of a run interrupted while writing.
func (rd *reader) Truncated() bool { return rd.truncated }

// Line returns the number of the line last read, from 1.
func (rd *reader) Line() int { return rd.line }

// Attack returns vegeta's "attack" field (the scenario name) of the last
// result read.
func (rd *reader) Attack() string { return rd.attack }

// Read decodes the next result into r, overwriting every field. It returns
// io.EOF after the last one, and a *LineError for a malformed line.
func (rd *reader) Read(r *reports.Result) error {
	for {
		if rd.done {
			return io.EOF
		}
		line, last, err := rd.readLine()
		if err != nil {
			rd.done = true
			return err
		}
		if line == nil {
			rd.done = true
			return io.EOF
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := rd.decode(line, r); err != nil {
			if last && (rd.line > 1 || bytes.HasPrefix(bytes.TrimSpace(line), []byte("{"))) {
				// No newline and unparsable: the writer was cut off
				// mid-line. (A lone line that is not even the start of an
				// object is another tool's file, not a cut one.)
				rd.truncated = true
				rd.done = true
				return io.EOF
			}
			return &LineError{File: rd.name, Line: rd.line, Offset: rd.offset, Err: err}
		}
		return nil
	}
}

// readLine returns the next line without its newline; last is true when the
// line ended at the end of the input without a newline. It returns a nil line
// at the end of the input.
func (rd *reader) readLine() (line []byte, last bool, err error) {
	rd.long = rd.long[:0]
	rd.offset = rd.next
	for {
		chunk, err := rd.br.ReadSlice('\n')
		rd.next += int64(len(chunk))
		switch {
		case err == nil:
			rd.line++
			if len(rd.long) > 0 {
				rd.long = append(rd.long, chunk...)
				chunk = rd.long
			}
			return chunk[:len(chunk)-1], false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if len(rd.long)+len(chunk) > maxLineBytes {
				rd.line++
				return nil, false, &LineError{File: rd.name, Line: rd.line, Offset: rd.offset, Err: fmt.Errorf("line longer than %d bytes", maxLineBytes)}
			}
			rd.long = append(rd.long, chunk...)
		case errors.Is(err, io.EOF):
			if len(rd.long) > 0 {
				rd.long = append(rd.long, chunk...)
				chunk = rd.long
			}
			if len(chunk) == 0 {
				return nil, false, nil
			}
			rd.line++
			return chunk, true, nil
		default:
			return nil, false, fmt.Errorf("read results: %w", err)
		}
	}
}

// decode parses one line into r.
func (rd *reader) decode(line []byte, r *reports.Result) error {
	*r = reports.Result{}
	rd.seen = 0
	s := &rd.sc
	s.Reset(line)
	empty, err := s.ObjectStart()
	if err != nil {
		return err
	}
	for !empty {
		k, err := s.Key()
		if err != nil {
			return err
		}
		if err := rd.field(string(k), r); err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
		more, err := s.Next()
		if err != nil {
			return err
		}
		empty = !more
	}
	if err := s.End(); err != nil {
		return err
	}
	if rd.seen == 0 {
		return errors.New(`not a result: no "timestamp" or "code" (a file from another tool?)`)
	}
	if r.Dropped && r.Error == reports.DroppedError {
		r.Error = "" // the writer fills it in for vegeta's sake only
	}
	return nil
}

// field decodes the value of one member. The switch on string(k) compiles
// to a comparison without allocating.
func (rd *reader) field(key string, r *reports.Result) error {
	s := &rd.sc
	if s.Null() {
		return nil // vegeta writes null for an absent body or headers
	}
	var err error
	switch key {
	case "attack":
		var b []byte
		if b, err = s.Str(); err == nil && string(b) != rd.attack {
			rd.attack = string(b)
		}
	case "seq":
		r.Seq, err = rd.uint(math.MaxUint64)
	case "code":
		rd.seen |= seenCode
		var v uint64
		v, err = rd.uint(math.MaxUint16)
		r.Code = int(v)
	case "timestamp":
		rd.seen |= seenTimestamp
		r.Intended, err = rd.time()
	case "latency":
		var v int64
		v, err = rd.int()
		r.Latency = time.Duration(v)
	case "bytes_out":
		r.BytesOut, err = rd.uint(math.MaxUint64)
	case "bytes_in":
		r.BytesIn, err = rd.uint(math.MaxUint64)
	case "error":
		r.Error, err = rd.string(false)
	case "method":
		r.Method, err = rd.string(true)
	case "url":
		r.URL, err = rd.string(false)
	case "journey":
		r.Journey, err = rd.string(true)
	case "step":
		r.Step, err = rd.string(true)
	case "user":
		r.User, err = rd.uint(math.MaxUint64)
	case "attempt":
		var v int64
		v, err = rd.int()
		r.Attempt = clampInt(v)
	case "poll":
		var v int64
		v, err = rd.int()
		r.Poll = clampInt(v)
	case "sent":
		r.Sent, err = rd.time()
	case "send_latency":
		var v int64
		v, err = rd.int()
		r.SendLatency = time.Duration(v)
	case "ok":
		r.OK, err = rd.bool()
	case "upstream":
		r.Upstream, err = rd.string(true)
	case "error_code":
		r.ErrorCode, err = rd.string(true)
	case "message":
		r.Message, err = rd.string(true)
	case "dropped":
		r.Dropped, err = rd.bool()
	case "arrival":
		r.Arrival, err = rd.bool()
	case "journey_done":
		r.JourneyDone, err = rd.bool()
	default:
		err = s.Skip(0)
	}
	return err
}

// string reads a string value; interned strings (names, codes, messages)
// repeat on most lines and are shared instead of allocated each time.
func (rd *reader) string(intern bool) (string, error) {
	b, err := rd.sc.Str()
	if err != nil {
		return "", err
	}
	if len(b) == 0 {
		return "", nil
	}
	if !intern {
		return string(b), nil
	}
	if v, ok := rd.intern[string(b)]; ok {
		return v, nil
	}
	v := string(b)
	if len(rd.intern) < maxInterned {
		rd.intern[v] = v
	}
	return v, nil
}

func (rd *reader) bool() (bool, error) {
	w, err := rd.sc.Literal()
	if err != nil {
		return false, err
	}
	switch w {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errors.New("want true or false")
}

func (rd *reader) time() (time.Time, error) {
	b, err := rd.sc.Str()
	if err != nil {
		return time.Time{}, err
	}
	if len(b) == 0 {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time: %w", err)
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("time %s is out of range", b)
	}
	return t, nil
}

// uint reads a non-negative integer no larger than max.
func (rd *reader) uint(max uint64) (uint64, error) {
	b, err := rd.sc.Number()
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%s is not a non-negative integer", b)
		}
		d := uint64(c - '0')
		if v > (max-d)/10 {
			return 0, fmt.Errorf("%s is out of range", b)
		}
		v = v*10 + d
	}
	return v, nil
}

// int reads a signed 64-bit integer.
func (rd *reader) int() (int64, error) {
	b, err := rd.sc.Number()
	if err != nil {
		return 0, err
	}
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	var v uint64
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%s is not an integer", b)
		}
		d := uint64(c - '0')
		if v > (limit-d)/10 {
			return 0, fmt.Errorf("%s is out of range", b)
		}
		v = v*10 + d
	}
	if neg {
		return -int64(v-1) - 1, nil
	}
	return int64(v), nil
}

// clampInt narrows v to an int (a no-op on 64-bit platforms).
func clampInt(v int64) int {
	switch {
	case v > math.MaxInt:
		return math.MaxInt
	case v < math.MinInt:
		return math.MinInt
	}
	return int(v)
}
