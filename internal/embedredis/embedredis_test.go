package embedredis_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/embedredis"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// start starts a server of the test's own and a client of it; both end
// with the test.
func start(t *testing.T) (*embedredis.Server, *redis.Client) {
	t.Helper()
	s, err := embedredis.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	opt, err := redis.ParseURL(s.URL())
	if err != nil {
		t.Fatalf("URL %q does not parse: %v", s.URL(), err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return s, c
}

// redisTime is the server's TIME.
func redisTime(t *testing.T, c *redis.Client) time.Time {
	t.Helper()
	now, err := c.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return now
}

func TestStartListensOnLoopbackAtItsURL(t *testing.T) {
	s, c := start(t)
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" || port == "" {
		t.Fatalf("Addr %q, %v: want 127.0.0.1 and the port it took", s.Addr(), err)
	}
	if want := "redis://" + s.Addr() + "/0"; s.URL() != want {
		t.Fatalf("URL %q, want %q", s.URL(), want)
	}
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING at the URL: %v", err)
	}
	other, err := embedredis.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if other.Addr() == s.Addr() {
		t.Fatalf("two servers share %s", s.Addr())
	}
}

// A key with a TTL ends by itself, when TIME says it does and never
// before; meanwhile a longer TTL counts down on TIME's clock, not a step
// behind or ahead of it.
func TestTTLExpiresOnTheClockTIMEKeeps(t *testing.T) {
	_, c := start(t)
	ctx := context.Background()
	const ttl, long = 300 * time.Millisecond, time.Minute
	const slack = 2 * time.Millisecond // PTTL's and the expiry's whole milliseconds
	set := func(key string, ttl time.Duration) (before, after time.Time) {
		before = redisTime(t, c)
		if err := c.Set(ctx, key, "held", ttl).Err(); err != nil {
			t.Fatal(err)
		}
		return before, redisTime(t, c)
	}
	shortSet, _ := set("lease", ttl)
	longFrom, longTo := set("lock", long)
	testredis.Eventually(t, 10*time.Second, "the key with PX 300 expires", func() bool {
		from := redisTime(t, c)
		left, err := c.PTTL(ctx, "lock").Result()
		if err != nil {
			t.Fatal(err)
		}
		exists, err := c.Exists(ctx, "lease").Result()
		if err != nil {
			t.Fatal(err)
		}
		to := redisTime(t, c)
		// "lock" was set at an instant in [longFrom, longTo], read in [from, to]
		if most := longTo.Add(long).Sub(from) + slack; left > most {
			t.Fatalf("PTTL %s, but by TIME at most %s can be left: the TTL lags the clock", left, most)
		}
		if least := longFrom.Add(long).Sub(to) - slack; left < least {
			t.Fatalf("PTTL %s, but by TIME at least %s is left: the TTL runs ahead of the clock", left, least)
		}
		if exists != 0 {
			return false
		}
		if lived := to.Sub(shortSet); lived < ttl-slack {
			t.Fatalf("the key expired after %s of TIME, before its %s", lived, ttl)
		}
		return true
	})
}

// TIME follows the wall clock: it never goes back, and it moves as far as
// the wall clock does between two reads, but for the clock's step.
func TestTIMEFollowsTheWallClock(t *testing.T) {
	s, c := start(t)
	first := redisTime(t, c)
	firstRead := time.Now() // the first TIME was taken before this
	last := first
	testredis.Eventually(t, 10*time.Second, "50 ms of the wall clock pass", func() bool {
		polled := time.Now() // the next TIME is taken after this
		now := redisTime(t, c)
		if now.Before(last) {
			t.Fatalf("TIME went back from %s to %s", last.Format(time.StampMicro), now.Format(time.StampMicro))
		}
		last = now
		slack := s.Step() + time.Millisecond // TIME lags the wall clock by less than a step
		if moved, wall := now.Sub(first), polled.Sub(firstRead); moved < wall-slack {
			t.Fatalf("TIME moved %s while the wall clock moved %s", moved, wall)
		}
		return polled.Sub(firstRead) >= 50*time.Millisecond
	})
}

// A script runs at the instant it started, as Redis 7 expires keys
// during one: TIME stands still and a key set with PX 1 outlives a loop of
// calls; the next command sees the time move on.
func TestAScriptRunsAtOneInstant(t *testing.T) {
	_, c := start(t)
	ctx := context.Background()
	got, err := c.Eval(ctx, `
local t0 = redis.call('TIME')
redis.call('SET', KEYS[1], 'v', 'PX', 1)
for i = 1, 5000 do redis.call('INCR', KEYS[2]) end
local t1 = redis.call('TIME')
return {t0[1], t0[2], t1[1], t1[2], tostring(redis.call('EXISTS', KEYS[1]))}`, []string{"brief", "count"}).StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != got[2] || got[1] != got[3] || got[4] != "1" {
		t.Fatalf("script saw TIME %s.%s then %s.%s and the PX 1 key exists=%s; want one instant, the key there", got[0], got[1], got[2], got[3], got[4])
	}
	testredis.Eventually(t, 10*time.Second, "the PX 1 key expires after the script", func() bool {
		return c.Exists(ctx, "brief").Val() == 0
	})
}

func TestCloseLeavesNothingListening(t *testing.T) {
	s, _ := start(t)
	ctx := context.Background()
	// no retries: the question is whether the connection still answers
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	s.Close()
	s.Close() // idempotent
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Close", addr)
	}
	err := c.Ping(ctx).Err()
	if err == nil {
		t.Fatal("a client connected before Close still gets answers")
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		t.Fatalf("after Close a client gets a Redis reply (%v), want a connection error", err)
	}
	if s.Addr() != addr || s.URL() != "redis://"+addr+"/0" {
		t.Fatalf("after Close Addr/URL changed: %s %s", s.Addr(), s.URL())
	}
}
