--- internal/engine/breaker/lua/fallback.lua
--- prelude: prelude.lua
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
