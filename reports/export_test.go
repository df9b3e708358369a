package reports

// The fixtures, for the external tests of this folder (package reports_test),
// which hold the results file to what the accumulator makes of it.
var (
	LaunchFixture = launchFixture
	Accumulate    = accumulate
	Near          = near
)
