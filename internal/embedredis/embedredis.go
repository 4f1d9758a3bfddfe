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
//   - SetTime(t) pins TIME, EXPIREAT's reference and stream ids to t. It
//     does not move TTLs by itself, and set from a ticker it makes TIME
//     stand still between ticks and lag the wall clock: a 1 ms recovery
//     timeout looks unexpired to a caller in the same tick.
//   - ClockTTL(true): before every command that touches the data (Lua's
//     redis.call included) TTLs shrink by exactly the time TIME moved
//     since the last one. Without SetTime, TIME is the wall clock.
//
// Start uses ClockTTL and never calls SetTime: TIME and TTL expiry follow
// the one wall clock with no steps, and nothing runs in the background. An
// expired key is removed when the next command touches the data, which no
// client can tell from Redis' own expiry. Like Redis, whose deadlines are
// wall-clock instants, a step of the system clock moves them: a step back
// holds every TTL until the clock catches up, a step forward ends them early.
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
//   - Redis 7 expires keys by the time a script started, for its whole
//     run (a key set with PX 5 still exists 30 ms later in that script);
//     miniredis' TTLs keep moving between redis.call's;
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
	mini *miniredis.Miniredis
	// addr is kept from Start: miniredis cannot say it once closed.
	addr      string
	closeOnce sync.Once
}

// Start starts miniredis on 127.0.0.1 (port 0 → a free one) with its
// clock driven by the wall clock (see the package doc).
func Start() (*Server, error) {
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded Redis: cannot listen on 127.0.0.1: %w", err)
	}
	return &Server{mini: m, addr: m.Addr()}, nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL is the server's redis://127.0.0.1:PORT/0 URL.
func (s *Server) URL() string { return "redis://" + s.addr + "/0" }

// Close stops the server: its listener is closed and its clients are
// disconnected when Close returns, and the data is gone. It is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(s.mini.Close)
}
