--- internal/engine/chaos/lua/start.lua
--- prelude: prelude.lua
--- KEYS[1] <ns>:{chaos}:state   the switch and halt latch HASH
--- KEYS[2] <ns>:{chaos}:active  experiments index ZSET: member id, score end (Unix ms)
--- KEYS[3] <ns>:{chaos}:starts  starts of the last hour ZSET: member id, score start (Unix ms)
--- KEYS[4] <ns>:{chaos}:audit   audit STREAM (capped at about 10000)
--- KEYS[5] <ns>:{chaos}:exp:<id>  the experiment STRING (JSON), PX its remaining time
--- ARGV[1] who: the actor in the audit, "<user>@<host>" (haderctl adds " (<CI var>=<id>)" in CI)
--- ARGV[2] pub/sub channel: <ns>:chaos:changed
--- ARGV[3] the experiment as a JSON object without start_ms and end_ms (its last byte "}"):
---   chaos.Experiment's fields: id, kind (latency, error, abort, timeout, cpu,
---   memory), services (["*"] = all), probability (0, 1], delay, jitter and
---   duration in nanoseconds, status, by, reason, ...
--- ARGV[4] duration, ms
--- ARGV[5] max concurrent experiments (chaos.max_concurrent)
--- ARGV[6] max starts in the last hour (chaos.max_per_hour)
--- ARGV[7] experiment id, the <id> of KEYS[5]
--- ARGV[8] delay until it starts, ms; 0 or "" = now
--- reply: {"ok", the stored experiment JSON (start_ms and end_ms added, Redis' clock)}
---   or {"refused", why}
--- also: the environment guard (production refused) and the validation of the
---   experiment are the caller's: the script checks only the switch, the
---   halt latch and the limits
--- errors: WRONGTYPE chaos key <key> holds a <type>, ...; OOM at maxmemory (nothing written either way)
-- startScript starts an experiment. KEYS[5] its key. ARGV[3] the
-- experiment as JSON (start_ms and end_ms are added here, on Redis' clock),
-- ARGV[4] duration ms, ARGV[5] max concurrent, ARGV[6] max per hour,
-- ARGV[7] id, ARGV[8] ms from now until it starts (a scheduled phase;
-- 0: now). The JSON has no start_ms/end_ms; they are appended. Reply:
-- {"ok", experiment JSON} or {"refused", why} (a refusal stands even when
-- its audit entry cannot be written); an error when a key has the wrong
-- type or Redis is out of memory, with nothing written.
--
-- Its first write is the audit entry: at maxmemory Redis refuses a
-- script's first command that needs memory (XADD), but not the ones after
-- a write, so nothing may be written before it. The limits are counted
-- without writing (ZCOUNT) for that reason, expiries are swept after the
-- start, and the experiment's key is written last: a start that fails
-- leaves nothing running.
local function refuse(why)
  -- the refusal stands even when its audit entry cannot be written
  redis.pcall('XADD', AUDIT, 'MAXLEN', '~', 10000, '*', 'event', 'refused', 'id', ARGV[7], 'by', who, 'detail', why, 'at', now)
  return {'refused', why}
end
if redis.call('HGET', STATE, 'enabled') ~= '1' then
  return refuse('chaos is disabled: run haderctl chaos enable')
end
if redis.call('HGET', STATE, 'halted') == '1' then
  return refuse('chaos is halted by stop-all (' .. (redis.call('HGET', STATE, 'halt_reason') or '') .. '): run haderctl chaos resume')
end
if redis.call('ZCOUNT', ACTIVE, '(' .. now, '+inf') >= tonumber(ARGV[5]) then
  return refuse(ARGV[5] .. ' experiments are already running (chaos.max_concurrent)')
end
if redis.call('ZCOUNT', STARTS, '(' .. (now - 3600000), '+inf') >= tonumber(ARGV[6]) then
  return refuse(ARGV[6] .. ' experiments were started in the last hour (chaos.max_per_hour)')
end
local d = tonumber(ARGV[4])
local start = now + (tonumber(ARGV[8]) or 0)
-- the JSON comes without start/end (ARGV[3] ends with '}'); no cjson round
-- trip, which would turn big integers into floats
local js = string.sub(ARGV[3], 1, -2) .. string.format(',"start_ms":%d,"end_ms":%d}', start, start + d)
local id = ARGV[7]
local bad = checkTypes()
if bad then return bad end
audit('started', id, js)
redis.call('ZREMRANGEBYSCORE', STARTS, '-inf', now - 3600000)
redis.call('ZADD', STARTS, now, id)
redis.call('ZADD', ACTIVE, start + d, id)
redis.call('SET', KEYS[5], js, 'PX', start + d - now)
sweep()
redis.call('PUBLISH', channel, 'started ' .. id)
return {'ok', js}
