package reports

import (
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// NewTable returns a terminal table in the style of stampede's reports,
// with one alignment per column, for other commands' tables (the audit).
func NewTable(w io.Writer, aligns ...tw.Align) *tablewriter.Table { return newTable(w, aligns...) }
