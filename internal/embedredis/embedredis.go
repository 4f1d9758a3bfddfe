// Package embedredis runs a Redis-compatible server inside the process:
// miniredis on a loopback port, for `haderctl demo` when no Redis answers,
// and for the tests' fallback when no redis-server is installed. Any
// client reaches it by its URL, so a second terminal can point haderctl at
// it. miniredis runs the engine's Lua, pub/sub, streams and TIME; what it
// needs to behave like Redis for the engine is a clock.
//
// # The clock
//
// Left alone, miniredis answers TIME with the wall clock (to the
// microsecond) but never expires a key: a TTL only shrinks when the program
// calls FastForward. Chaos experiments, health-check slots and locks
// would then never end. The ways to move it, as miniredis v2.40.0 has them:
//
//   - FastForward(d) on a ticker (what the tests did): TTLs shrink in
//     steps of a tick, timed apart from TIME, so a key can outlive the
//     instant TIME says it ends, or vanish before it (this package's tests
//     fail both ways under a 5 ms ticker).
//   - ClockTTL(true) alone: before every command that touches the data,
//     Lua's redis.call's included, TTLs shrink by exactly what the wall
//     clock moved. Exact, but each of those commands then pays a pass over
//     every key (0.3 ms at 1,000 keys, 4 ms at 10,000), and a script that
//     makes thousands of calls over many keys runs for seconds to minutes
//     (the queue's schema-upgrade test timed out).
//   - SetTime(t) pins TIME, EXPIREAT's reference and stream ids to t; with
//     ClockTTL on, moving it moves the TTLs too, in one pass.
//
// Start uses the last two: ClockTTL on, and SetTime(time.Now()) when a
// command arrives while nothing else runs, at most once per step (1 ms;
// four times a pass's cost when the keyspace is large, so passes take at
// most a fifth of the time), with a 5 ms backstop for commands that find
// the server busy. TIME and TTLs run on that one clock, so a key never
// outlives the instant TIME says it ends nor vanishes before it; TIME lags
// the wall clock by less than a step (on a busy server, the backstop's),
// and a script runs at the one instant it started, as Redis 7 expires keys
// during a script. An expired key is removed when the next command touches
// the data, which no client can tell from Redis' own expiry.
//
// # What still differs from Redis
//
// Checked against redis-server 7.0 (the luascript conformance test runs
// each case on both, and passes on both):
//
//   - a failing redis.call raises "ERR Error compiling script (new
//     function): :1: WRONGTYPE … stack traceback …" where Redis replies
//     "WRONGTYPE … script: <sha>, on @user_script:1.": the code is ERR, so
//     store.Classify cannot name a wrong-typed key on miniredis (a
//     redis.pcall's err field and redis.error_reply are the same on both);
//   - TIME within a script is the instant the script started; Redis
//     answers the time it is (only its key expiry stands still), so a
//     script that waited on TIME would never end here (none of ours does);
//   - XADD MAXLEN ~ N trims to exactly N; Redis trims whole nodes only
//     (300 entries under ~ 10 leave 100);
//   - its Lua's tonumber takes decimals only ("1e3" and "0x10" are nil;
//     Redis: 1000 and 16); tostring of a fraction may use an exponent
//     (1796248872210.5 → "1.7962488722105e+12"), of a whole number from
//     1e14 up it does not (Redis: "1e+15"); cjson encodes an empty table
//     as [] (Redis: {}). The scripts pass decimal ARGV and encode no empty
//     table, so none of this reaches them today;
//   - INFO knows only the clients and stats sections; CLIENT only SETNAME
//     and GETNAME (no SETINFO, MAINT_NOTIFICATIONS, LIST, ID or KILL);
//     there is no CONFIG, ACL or OBJECT ENCODING, and no maxmemory (no OOM).
//
// store.Open's client sends none of those: it sets DisableIdentity (no
// CLIENT SETINFO) and turns maintenance notifications off, and miniredis
// answers the HELLO 3 go-redis opens each connection with.
package embedredis

import (
	"fmt"
	"sync"

	"github.com/alicebob/miniredis/v2"
)

// Server is an embedded Redis-compatible server listening on loopback.
type Server struct {
	mini  *miniredis.Miniredis
	clock *clock
	// addr is kept from Start: miniredis cannot say it once closed.
	addr      string
	closeOnce sync.Once
}

// Start starts miniredis on 127.0.0.1 (port 0 → a free one) with its
// clock driven by the wall clock (see the package doc).
func Start() (*Server, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded Redis: cannot listen on 127.0.0.1: %w", err)
	}
	// before anyone knows the port, so no command runs unclocked
	c := startClock(m)
	m.Server().SetPreHook(c.hook)
	return &Server{mini: m, clock: c, addr: m.Addr()}, nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL is the server's redis://127.0.0.1:PORT/0 URL.
func (s *Server) URL() string { return "redis://" + s.addr + "/0" }

// Close stops the clock and the server: its listener is closed and its
// clients are disconnected when Close returns, and the data is gone. It is
// idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.clock.close()
		s.mini.Close()
	})
}
