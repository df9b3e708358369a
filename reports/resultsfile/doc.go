// Package resultsfile is the results file's codec: results.jsonl, one
// reports.Result per line in vegeta's JSON result format plus stampede's
// own fields. Writer appends results as they happen (it is a reports.Sink);
// ReadFile is the one way to read a file back, into any reports.Sink.
//
// It imports reports (the record) and nothing else of the project's;
// reports must not import it.
package resultsfile
