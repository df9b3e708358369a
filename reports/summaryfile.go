package reports

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// EncodeSummary writes s as indented JSON: the summary.json contract, in
// a file (WriteSummaryFile) and on a terminal (render.WriteJSON) alike.
func EncodeSummary(w io.Writer, s *Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// DecodeSummary reads a summary written by EncodeSummary. Unknown fields are
// ignored, so summaries from newer versions still read.
func DecodeSummary(r io.Reader) (*Summary, error) {
	var s Summary
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return nil, fmt.Errorf("read summary: %w", err)
	}
	return &s, nil
}

// ReadSummary reads a summary.json file.
func ReadSummary(path string) (*Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read summary: %w", err)
	}
	defer f.Close()
	s, err := DecodeSummary(f)
	if err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return nil, fmt.Errorf("%s: byte %d: %w", path, syntax.Offset, err)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("%s: byte %d: %w", path, typ.Offset, err)
		case errors.Is(err, io.ErrUnexpectedEOF):
			if fi, serr := f.Stat(); serr == nil {
				return nil, fmt.Errorf("%s: byte %d: truncated: %w", path, fi.Size(), err)
			}
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// WriteSummaryFile writes s to path as indented JSON, atomically (see
// WriteFileAtomic), so a reader (a CI step, a dashboard) never sees half a
// summary.
func WriteSummaryFile(path string, s *Summary) error {
	return WriteFileAtomic(path, func(w io.Writer) error { return EncodeSummary(w, s) })
}

// WriteFileAtomic writes the file at path with write: into a temporary
// file beside it (buffered), then renamed into place, so a reader sees the
// whole old file or the whole new one, never half of it. The file is
// readable by all (0644). The one way stampede writes a run folder's
// summaries and reports.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 64<<10)
	if err := write(bw); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
