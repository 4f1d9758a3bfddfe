// Package bench holds the benchmarks that compare haderctl's engine with
// peer libraries: the shared circuit breaker against sony/gobreaker and the
// fallback queue against hibiken/asynq. The gateway's comparison with
// direct access, an io.Copy proxy and Toxiproxy is in ./gateway, with the
// programs it runs in ./cmd. It is a module of its own so that
// the peers stay out of the main module's go.mod: `go mod graph` of
// haderctl lists only what the binary ships.
//
// Each benchmark runs ours and the peer as sub-benchmarks of one
// benchmark, so one run measures both on the same machine state. They
// need a real redis-server (on PATH, or HADERCTL_TEST_REDIS_URL); the
// embedded miniredis fallback would measure something else. The figures
// and the commands are in ../docs/benchmarks.md, e.g.
//
//	cd bench && go test -run '^$' -bench ClosedHappyPath -benchtime 2s
//	cd bench && go test -run '^$' -bench DrainNoop -benchtime 3x
//
// The engine is used through its public API only (the module's path is
// under github.com/haderos/haderctl/, so Go's internal rule lets it import
// the engine's internal packages).
package bench
