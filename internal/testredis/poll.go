package testredis

import (
	"testing"
	"time"
)

// Eventually polls cond every 5 ms until it holds, failing the test with
// what when it does not within the deadline: the tests' one way to wait
// for something another goroutine, process or Redis does (never a sleep).
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
