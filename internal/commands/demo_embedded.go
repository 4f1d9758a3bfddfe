package commands

import (
	"time"

	"github.com/alicebob/miniredis/v2"
)

// startEmbeddedRedis starts the demo's embedded Redis on loopback.
func startEmbeddedRedis() (url string, stop func(), err error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() {
		last := time.Now()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				m.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return "redis://" + m.Addr() + "/0", func() { close(done); m.Close() }, nil
}
