package cmdutil

import (
	"log/slog"
	"testing"

	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/haderos/haderctl/internal/testredis"
)

func TestMain(m *testing.M) { testredis.Main(m) }

func newTestFactory(t *testing.T, loads *int, ns string) *Factory {
	t.Helper()
	io, _, _, _ := iostreams.Test()
	url := testredis.URL(t)
	return NewFactory(io, slog.New(slog.DiscardHandler), func() string { return OutputTable }, func() (*config.Config, error) {
		*loads++
		return config.Load(config.Flags{RedisURL: &url, Namespace: &ns}, config.Sources{Dir: t.TempDir(), Getenv: func(k string) string {
			if k == "HADERCTL_ENV" {
				return "development" // chaos acts here
			}
			return ""
		}})
	})
}

// A command that needs nothing (version, --help) reads no config and
// opens nothing; closing such a factory is a no-op.
func TestAnUnusedFactoryLoadsNothing(t *testing.T) {
	var loads int
	f := newTestFactory(t, &loads, testredis.Namespace(t))
	if err := f.Close(); err != nil || loads != 0 {
		t.Fatalf("close of an unused factory: %v, config loaded %d times", err, loads)
	}
}

// Every accessor hands out a part of one System, opened once; Close
// ends its background work (the chaos data plane's subscription).
func TestAccessorsShareOneSystemAndCloseEndsItsWork(t *testing.T) {
	var loads int
	ns := testredis.Namespace(t)
	f := newTestFactory(t, &loads, ns)
	s, err := f.System()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := f.Breakers()
	q, _ := f.Queues()
	rdb, _ := f.Redis()
	if b != s.Breakers || q != s.Queues || rdb != s.Redis || f.Faults() != s.Faults() || loads != 1 {
		t.Fatalf("accessors do not share one system (config loaded %d times)", loads)
	}
	channel := store.Keys{Namespace: ns}.ChaosChannel()
	testredis.WaitSubscribers(t, channel, 1, "the data plane runs once used")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	testredis.WaitSubscribers(t, channel, 0, "Close ends the data plane")
}
