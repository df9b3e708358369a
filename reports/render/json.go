package render

import (
	"io"

	"github.com/stampede-load/stampede/reports"
)

// WriteJSON prints s as summary.json holds it (--format json): the
// contract's encoding, byte for byte the file a run leaves.
func WriteJSON(w io.Writer, s *reports.Summary) error { return reports.EncodeSummary(w, s) }
