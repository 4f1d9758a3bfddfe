package commands

import (
	"runtime/debug"
	"strings"
)

// gatewayGCPercent is the gateway's default GC target. A proxy's live
// heap is small (a few MiB) while it allocates a few KiB per request, so
// at Go's default of 100 the collector runs many times a second; 400
// lets the heap grow to five times the live data between collections,
// which measured 5–25 % more requests per second (docs/benchmarks.md).
// Bodies are buffered up to max_request_bytes, so a gateway taking large
// bodies can set GOGC itself.
const gatewayGCPercent = 400

// setGatewayGC applies gatewayGCPercent unless the environment sets
// GOGC, which the runtime has then applied already.
func setGatewayGC(getenv func(string) string) {
	if strings.TrimSpace(getenv("GOGC")) != "" {
		return
	}
	debug.SetGCPercent(gatewayGCPercent)
}
