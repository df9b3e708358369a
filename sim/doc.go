// Package sim is stampede's capacity simulator: a discrete-event engine
// (an event heap and a virtual clock, no goroutine per entity), queueing
// stations with service-time distributions, and a model of the enrollment
// stack (admission, workers and connection pool, database, processors and
// banks, fan-out and join, asynchronous searches, timeouts, retries,
// bulkheads and breakers) that scenario users walk through.
//
// The users are the scenario's: a simulated citizen is a scenarios.Walk,
// the same state machine the replay engine drives with real HTTP, so the
// two engines cannot disagree about think times, retries, polls or
// abandonment. Simulated requests become reports.Result records handed to
// reports.Sink values, so summaries, error modes, metastability and gates
// come from the code that judges a measured run.
//
// sim owns the engine, the stations and the stack model; it must not import
// replay (the two engines meet only in scenarios and reports).
package sim
