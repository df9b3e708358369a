// Package render draws what reports computed for people and machines to
// read: the terminal tables (a run's summary, a saturation search), the
// summary printed as JSON, and the reports of `stampede report` and of
// every run folder: the verdict in words first (NewVerdict), then
// Markdown for pull requests and job summaries, a self-contained HTML page
// with charts drawn by gonum/plot, and JUnit XML with a test case per
// gate. It also reads a run folder back for them (LoadRun), through
// reports/resultsfile. Renderers only format; every figure and verdict
// comes from package reports, and the number formats are reports' own
// (reports.FormatMillis and its siblings), so a figure reads the same in a
// verdict and in a table.
//
// render imports reports and reports/resultsfile and nothing else of the
// project's: the commands
// (cmd/stampede) and the audit call it, never the other way round.
package render
