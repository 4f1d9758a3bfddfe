package engine_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/engine/transport"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { testredis.Main(m) }

func options(t *testing.T) engine.Options {
	return engine.Options{Redis: store.Options{URL: testredis.URL(t)}, Namespace: testredis.Namespace(t), Environment: "development"}
}

func TestCloseIsIdempotentAndClosesTheClient(t *testing.T) {
	s, err := engine.Open(context.Background(), options(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Redis.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("an opened system's client answers: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("a second close: %v", err)
	}
	if err := s.Redis.Ping(context.Background()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("after Close the client is closed: %v", err)
	}
	if s.Context().Err() == nil {
		t.Fatal("after Close the system's context is done")
	}
}

// The data plane starts on first use only, and its subscription ends with
// the opener's context, Close or not.
func TestDataPlaneIsLazyAndEndsWithTheContext(t *testing.T) {
	o := options(t)
	channel := store.Keys{Namespace: o.Namespace}.ChaosChannel()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := engine.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.Transport(true) // building the transport starts nothing either
	if n := testredis.Subscribers(t, channel); n != 0 {
		t.Fatalf("opening the engine subscribed %d clients to the chaos channel before any use", n)
	}
	if s.Faults() == nil {
		t.Fatal("no data plane")
	}
	testredis.WaitSubscribers(t, channel, 1, "the data plane listens once used")
	breakers := store.Keys{Namespace: o.Namespace}.BreakerChannel()
	if _, err := s.Breakers.Allow(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	testredis.WaitSubscribers(t, breakers, 1, "the breakers listen once used")
	cancel()
	testredis.WaitSubscribers(t, channel, 0, "the data plane stops when the opener's context ends")
	testredis.WaitSubscribers(t, breakers, 0, "the breakers' listener stops when the opener's context ends")
	if s.Context().Err() == nil {
		t.Fatal("the system's context ends with the opener's")
	}
}

func TestCloseStopsTheDataPlane(t *testing.T) {
	o := options(t)
	channel := store.Keys{Namespace: o.Namespace}.ChaosChannel()
	s, err := engine.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	s.Faults()
	testredis.WaitSubscribers(t, channel, 1, "the data plane listens once used")
	s.Close()
	testredis.WaitSubscribers(t, channel, 0, "Close stops the data plane")
}

// Close waits for the data plane, whose last impact counts (made since
// its last one-second flush) reach Redis before the client closes: a
// one-shot drain's calls under an experiment are not lost.
func TestCloseFlushesTheDataPlanesLastImpactCounts(t *testing.T) {
	o := options(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	s, err := engine.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Chaos.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	x, err := s.Chaos.Start(ctx, chaos.Experiment{Kind: "error", Services: []string{"shop"}, Probability: 1, Status: 503,
		Duration: 10 * time.Minute, By: "test", Reason: "flush on close"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Faults().Active(); len(got) != 1 || got[0].ID != x.ID {
		t.Fatalf("the data plane starts with the experiment active: %+v", got)
	}
	req, _ := http.NewRequestWithContext(transport.WithService(ctx, "shop"), http.MethodGet, srv.URL, nil)
	resp, err := (&http.Client{Transport: s.Transport(false)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("the injected error: status %d", resp.StatusCode)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	calls, err := testredis.Client(t).HGet(ctx, s.Keys.ChaosImpact(x.ID), "calls").Int()
	if err != nil || calls != 1 {
		t.Fatalf("impact calls after Close: %d, %v; want 1", calls, err)
	}
}

func TestANewerSchemaIsRefused(t *testing.T) {
	o := options(t)
	keys := store.Keys{Namespace: o.Namespace}
	if err := testredis.Client(t).Set(context.Background(), keys.Schema(), store.SchemaVersion+1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	s, err := engine.Open(context.Background(), o)
	var se *store.SchemaError
	if !errors.As(err, &se) || s != nil {
		t.Fatalf("want a SchemaError and no system, got %v, %v", s, err)
	}
}

func TestABadURLIsAnOptionsError(t *testing.T) {
	_, err := engine.Open(context.Background(), engine.Options{Redis: store.Options{URL: "nope://x"}})
	var oe *engine.OptionsError
	if !errors.As(err, &oe) {
		t.Fatalf("want an OptionsError, got %v", err)
	}
}

// The system's reader lists the configured services before Redis has
// heard of them, and their breakers with this process' own settings.
func TestTheReaderListsConfiguredServicesWithTheirOwnSettings(t *testing.T) {
	o := options(t)
	o.Services, o.HealthServices = []string{"aramex", "smsa"}, []string{"smsa"}
	o.BreakerSettings = func(name string) breaker.Settings {
		s := breaker.Settings{}.WithDefaults()
		if name == "aramex" {
			s.FailureThreshold = 7
		}
		return s
	}
	s, err := engine.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snap, err := s.Reader().Snapshot(context.Background(), snapshot.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Breakers) != 2 || snap.Breakers[0].Name != "aramex" || snap.Breakers[0].Settings.FailureThreshold != 7 ||
		snap.Breakers[1].Name != "smsa" || snap.Breakers[1].Settings.FailureThreshold != 3 {
		t.Fatalf("breakers %+v, want aramex (threshold 7) and smsa (3)", snap.Breakers)
	}
	if len(snap.Services) != 1 || snap.Services[0].Service != "smsa" {
		t.Fatalf("services %+v, want smsa, the one with a health check", snap.Services)
	}
}
