package commands

import (
	"runtime/debug"
	"testing"
)

func TestGatewayGCTargetYieldsToGOGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })

	setGatewayGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != gatewayGCPercent {
		t.Fatalf("without GOGC the GC target is %d, want %d", got, gatewayGCPercent)
	}
	setGatewayGC(func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set the gateway changed the GC target to %d", got)
	}
}
