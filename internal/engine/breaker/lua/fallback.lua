--- internal/engine/breaker/lua/fallback.lua
--- prelude: prelude.lua
--- KEYS[1] <ns>:breaker:{name}            the breaker HASH
--- KEYS[2] <ns>:breaker:{name}:probes     probe leases ZSET: member a token, score its lease end (Unix ms)
--- KEYS[3] <ns>:breaker:{name}:events     transitions STREAM (capped at ARGV[9])
--- KEYS[4] <ns>:breaker:{name}:reporters  failure reporters ZSET (not omitted here: KEYS[5] follows)
--- KEYS[5] <ns>:breaker:{name}:fallbacks  fallback reporters ZSET: member reporter id, score Unix ms
--- ARGV[1] clock override, Unix ms; "" = Redis TIME (what a service passes)
--- ARGV[2] failure threshold, whole number >= 1: the caller's seed, the stored field wins (haderctl: 3)
--- ARGV[3] success threshold, seed as ARGV[2] (haderctl: 2)
--- ARGV[4] recovery timeout, ms, seed as ARGV[2] (haderctl: 120000)
--- ARGV[5] max probes, seed as ARGV[2] (haderctl: the success threshold)
--- ARGV[6] probe lease, ms, seed as ARGV[2] (haderctl: 30000)
--- ARGV[7] who, JSON: {"host": str, "pid": int, "user": str} and, optional, "reporter" (absent or "": "<host>/<pid>"), "min_reporters" (absent: 1), "reporter_window_ms" (absent: 60000)
--- ARGV[8] pub/sub channel of transitions: <ns>:breaker:transitions
--- ARGV[9] event stream cap, approximate MAXLEN (haderctl: 1000)
--- ARGV[10] breaker name, the {name} of KEYS
--- ARGV[11] outage start, Unix ms on the process' clock
--- ARGV[12] outage end, Unix ms on the process' clock
--- ARGV[13] calls the in-memory breaker answered or counted
--- ARGV[14] window, ms: the set's trim and TTL (haderctl: 600000)
--- ARGV[15] reason, recorded in the event
--- reply: {verdict, state, generation, failures, successes, wait_ms,
---   opened_at, last_failure, now, events_json, failure_threshold,
---   success_threshold, recovery_timeout_ms, max_probes, probe_lease_ms,
---   min_reporters, reporter_window_ms, reporters}: 18 strings, numbers in
---   decimal (times Unix ms); state closed|open|half_open|forced_open|
---   disabled; events_json a JSON array of the events appended, "" none;
---   the seven settings those the breaker runs with; reporters the distinct
---   failure reporters this call counted (0: it did not look)
--- verdicts: ok (the hash is read, never written)
--- errors: CORRUPT <what is wrong>; WRONGTYPE when KEYS[5] holds another type (nothing written)
-- fallbackScript records that this process ran the breaker on its
-- in-memory fallback during an outage that has ended. KEYS[1..4] and
-- ARGV[1..10] as every script (the hash is read, never written), KEYS[5]
-- the fallbacks ZSET <ns>:breaker:{name}:fallbacks. ARGV[11] and ARGV[12]
-- are the outage's start and end in Unix ms on the process' clock,
-- ARGV[13] the calls the in-memory breaker answered or counted, ARGV[14]
-- the window in ms, ARGV[15] the reason. It adds who's reporter to the set
-- with score now, trims the set to the window (also its TTL) and appends
-- and publishes an event with action "fallback", the state unchanged.
-- Verdict ok; a corrupt breaker or a fallbacks key of another type is an
-- error (nothing written for the latter).
local now = now_ms()
local st, bad = load(false, now)
if not st then return redis.error_reply('CORRUPT ' .. bad) end
local w = who()
local id = w.reporter
if type(id) ~= 'string' or id == '' then id = tostring(w.host or '') .. '/' .. tostring(w.pid or 0) end
local window = tonumber(ARGV[14])
redis.call('ZADD', KEYS[5], now, id)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. fmt(now - window))
redis.call('PEXPIRE', KEYS[5], window)
local ev = event(st, st.state, ARGV[15], st.generation, now)
ev.action = 'fallback'
-- until is a Lua keyword: indexed as a string
ev.since, ev['until'], ev.calls, ev.reporter = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]), id
append(ev, {'action', 'fallback', 'since', ARGV[11], 'until', ARGV[12], 'calls', ARGV[13], 'reporter', id})
return reply('ok', st, 0, now)
