package testredis

import (
	"context"
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

// Subscribers is how many clients of the test Redis subscribe to channel.
func Subscribers(tb testing.TB, channel string) int64 {
	tb.Helper()
	n, err := Client(tb).PubSubNumSub(context.Background(), channel).Result()
	if err != nil {
		tb.Fatal(err)
	}
	return n[channel]
}

// WaitSubscribers polls until channel has want subscribers (a listener
// started or stopped), failing the test with why otherwise.
func WaitSubscribers(tb testing.TB, channel string, want int64, why string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for got := Subscribers(tb, channel); got != want; got = Subscribers(tb, channel) {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: %d subscribers of %s, want %d", why, got, channel, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
