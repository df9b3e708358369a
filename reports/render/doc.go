// Package render draws what reports computed for people and machines to
// read: the terminal tables (a run's summary, a saturation search) and the
// summary printed as JSON. Renderers only format; every figure and verdict
// comes from package reports, and the number formats are reports' own
// (reports.FormatMillis and its siblings), so a figure reads the same in a
// verdict and in a table.
//
// render imports reports and nothing else of the project's: the commands
// (cmd/stampede) and the audit call it, never the other way round.
package render
