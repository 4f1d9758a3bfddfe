// Package benchutil holds what the benchmarks measure besides wall time:
// the process' own CPU (getrusage where the platform has it), so a
// benchmark can report CPU per operation, which a loaded machine inflates
// far less than ns/op.
package benchutil
