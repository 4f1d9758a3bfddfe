// Package gateway measures `haderctl gateway` against direct access, a
// plain io.Copy TCP proxy and Toxiproxy, on loopback, in one run.
//
// Every party is a process of its own: the upstream (../cmd/upstream),
// the proxy under test, and the load (../cmd/loadgen, closed loop over
// keep-alive connections), so the figures are the proxy's and not the
// load generator's runtime. The machine's speed drifts, so the targets
// run in rounds (direct, io.Copy, Toxiproxy, gateway, …, then again) and
// only ratios within one round are compared:
//
//	loadgen ──► direct ─────────────────────────────► upstream
//	loadgen ──► tcpproxy (io.Copy) ─────────────────► upstream
//	loadgen ──► toxiproxy-server (no toxics) ───────► upstream
//	loadgen ──► revproxy (httputil.ReverseProxy) ───► upstream
//	            (and with -transport sync, an experiment)
//	loadgen ──► haderctl gateway (chaos, breaker) ──► upstream
//	                     │
//	                     └── redis-server (testredis)
//
// Run it with
//
//	cd bench/gateway && go test -run '^$' -bench Gateway -benchtime 5x
//
// (one iteration is one round). Toxiproxy is found through
// TOXIPROXY_SERVER and the gateway binary through HADERCTL_BIN (default:
// ../../cmd/haderctl built afresh); a peer that is not there is left out
// with a note. The figures and how to install Toxiproxy are in
// ../../docs/benchmarks.md ("Gateway").
package gateway
