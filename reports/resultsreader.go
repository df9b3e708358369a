package reports

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// maxLineBytes bounds one results-file line. Stampede's own lines are a few
// hundred bytes; vegeta's carry the response body, hence the room.
const maxLineBytes = 16 << 20

// maxInterned bounds the Reader's table of repeated strings.
const maxInterned = 4096

// LineError is a malformed line in a results file. Its text reads
// "results.jsonl:123: ..." so editors and CI logs link to the line.
type LineError struct {
	File string // the file's name, or "" when the reader has none
	Line int    // 1-based line number
	Err  error
}

// Error formats the error as FILE:LINE: message.
func (e *LineError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

// Unwrap returns the underlying error.
func (e *LineError) Unwrap() error { return e.Err }

// Reader reads a results file written by Writer, or by vegeta's JSON
// encoder (fields stampede does not know are skipped; stampede's own
// fields are then zero).
//
// An interrupted run can leave its last line cut short. Reader treats an
// unparsable last line that has no newline as the end of the file and
// reports it through Truncated. A malformed line anywhere else is an error.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	br        *bufio.Reader
	name      string
	line      int
	long      []byte // accumulates a line longer than br's buffer
	sc        jsonScanner
	attack    string
	truncated bool
	done      bool
	intern    map[string]string
}

// NewReader returns a Reader of r. When r has a Name method (an *os.File
// does) its name prefixes the line numbers in errors.
func NewReader(r io.Reader) *Reader {
	rd := &Reader{br: bufio.NewReaderSize(r, 64<<10), intern: make(map[string]string)}
	if n, ok := r.(interface{ Name() string }); ok {
		rd.name = n.Name()
	}
	return rd
}

// SetName sets the file name errors are reported against.
func (rd *Reader) SetName(name string) { rd.name = name }

// Truncated reports whether the file ended in a partial line, which Read
// skipped: the sign of a run interrupted while writing.
func (rd *Reader) Truncated() bool { return rd.truncated }

// Line returns the number of the line last read, from 1.
func (rd *Reader) Line() int { return rd.line }

// Attack returns vegeta's "attack" field (the scenario name) of the last
// result read.
func (rd *Reader) Attack() string { return rd.attack }

// Read decodes the next result into r, overwriting every field. It returns
// io.EOF after the last one, and a *LineError for a malformed line.
func (rd *Reader) Read(r *Result) error {
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
			if last {
				// No newline and unparsable: the writer was cut off mid-line.
				rd.truncated = true
				rd.done = true
				return io.EOF
			}
			return &LineError{File: rd.name, Line: rd.line, Err: err}
		}
		return nil
	}
}

// readLine returns the next line without its newline; last is true when the
// line ended at the end of the input without a newline. It returns a nil line
// at the end of the input.
func (rd *Reader) readLine() (line []byte, last bool, err error) {
	rd.long = rd.long[:0]
	for {
		chunk, err := rd.br.ReadSlice('\n')
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
				return nil, false, &LineError{File: rd.name, Line: rd.line, Err: fmt.Errorf("line longer than %d bytes", maxLineBytes)}
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
func (rd *Reader) decode(line []byte, r *Result) error {
	*r = Result{}
	s := &rd.sc
	s.reset(line)
	empty, err := s.objectStart()
	if err != nil {
		return err
	}
	for !empty {
		k, err := s.key()
		if err != nil {
			return err
		}
		if err := rd.field(string(k), r); err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
		more, err := s.next()
		if err != nil {
			return err
		}
		empty = !more
	}
	if err := s.end(); err != nil {
		return err
	}
	if r.Dropped && r.Error == DroppedError {
		r.Error = "" // the writer fills it in for vegeta's sake only
	}
	return nil
}

// field decodes the value of one member. The switch on string(k) compiles
// to a comparison without allocating.
func (rd *Reader) field(key string, r *Result) error {
	s := &rd.sc
	if s.null() {
		return nil // vegeta writes null for an absent body or headers
	}
	var err error
	switch key {
	case "attack":
		var b []byte
		if b, err = s.str(); err == nil && string(b) != rd.attack {
			rd.attack = string(b)
		}
	case "seq":
		r.Seq, err = rd.uint(math.MaxUint64)
	case "code":
		var v uint64
		v, err = rd.uint(math.MaxUint16)
		r.Code = int(v)
	case "timestamp":
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
		err = s.skip(0)
	}
	return err
}

// string reads a string value; interned strings (names, codes, messages)
// repeat on most lines and are shared instead of allocated each time.
func (rd *Reader) string(intern bool) (string, error) {
	b, err := rd.sc.str()
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

func (rd *Reader) bool() (bool, error) {
	w, err := rd.sc.literal()
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

func (rd *Reader) time() (time.Time, error) {
	b, err := rd.sc.str()
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
func (rd *Reader) uint(max uint64) (uint64, error) {
	b, err := rd.sc.number()
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
func (rd *Reader) int() (int64, error) {
	b, err := rd.sc.number()
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
