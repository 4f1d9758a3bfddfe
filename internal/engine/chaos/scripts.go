package chaos

import "github.com/redis/go-redis/v9"

// Shared by the scripts: KEYS[1] state hash, KEYS[2] active index,
// KEYS[3] starts, KEYS[4] audit stream; ARGV[1] who, ARGV[2] channel.
// sweep moves experiments whose end passed out of the index and audits
// their expiry (their keys expired by TTL already). checkTypes fails the
// script, before it writes anything, when one of the chaos keys holds
// another type (a WRONGTYPE error, which no write may follow: Redis does
// not roll back what a script wrote before an error).
const prelude = `
local STATE, ACTIVE, STARTS, AUDIT = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local who, channel = ARGV[1], ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function checkTypes()
  for _, kt in ipairs({{STATE, 'hash'}, {ACTIVE, 'zset'}, {STARTS, 'zset'}, {AUDIT, 'stream'}}) do
    local got = redis.call('TYPE', kt[1]).ok
    if got ~= 'none' and got ~= kt[2] then
      return redis.error_reply('WRONGTYPE chaos key ' .. kt[1] .. ' holds a ' .. got .. ', not a ' .. kt[2] .. ': nothing was written')
    end
  end
end
local function audit(event, id, detail)
  redis.call('XADD', AUDIT, 'MAXLEN', '~', 10000, '*', 'event', event, 'id', id, 'by', who, 'detail', detail, 'at', now)
end
local function sweep()
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', ACTIVE, '-inf', now)) do
    redis.call('ZREM', ACTIVE, id)
    audit('expired', id, 'its duration ended')
  end
end
`

// startScript starts an experiment. KEYS[5] its key. ARGV[3] the
// experiment as JSON (start_ms and end_ms are added here, on Redis' clock),
// ARGV[4] duration ms, ARGV[5] max concurrent, ARGV[6] max per hour,
// ARGV[7] id, ARGV[8] ms from now until it starts (a scheduled phase;
// 0: now). The JSON has no start_ms/end_ms; they are appended. Reply:
// {"ok", experiment JSON} or {"refused", why} (a refusal stands even when
// its audit entry cannot be written); an error when a key has the wrong
// type or Redis is out of memory, with nothing written.
//
// Its first write is the audit entry: at maxmemory Redis refuses a
// script's first command that needs memory (XADD), but not the ones after
// a write, so nothing may be written before it. The limits are counted
// without writing (ZCOUNT) for that reason, expiries are swept after the
// start, and the experiment's key is written last: a start that fails
// leaves nothing running.
var startScript = redis.NewScript(prelude + `
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
`)

// stopScript stops experiments. KEYS[5…] their keys. ARGV[3] reason,
// ARGV[4] '1' to latch the halt (stop-all), ARGV[5…] the ids. Reply: the
// ids that were running.
var stopScript = redis.NewScript(prelude + `
sweep()
if ARGV[4] == '1' then
  redis.call('HSET', STATE, 'halted', 1, 'halted_by', who, 'halted_at', now, 'halt_reason', ARGV[3])
  audit('halted', '*', ARGV[3])
end
local stopped = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  redis.call('DEL', KEYS[i])
  if redis.call('ZREM', ACTIVE, id) == 1 then
    stopped[#stopped + 1] = id
    audit('stopped', id, ARGV[3])
  end
end
redis.call('PUBLISH', channel, 'stopped')
return stopped
`)

// switchScript sets the enable switch or clears the halt latch. ARGV[3]
// field, ARGV[4] value ('1' or '0'), ARGV[5] audit event. Reply: "ok";
// a WRONGTYPE error, with nothing written, when a chaos key holds
// another type.
var switchScript = redis.NewScript(prelude + `
local bad = checkTypes()
if bad then return bad end
audit(ARGV[5], '*', '')
redis.call('HSET', STATE, ARGV[3], ARGV[4], ARGV[3] .. '_by', who, ARGV[3] .. '_at', now)
redis.call('PUBLISH', channel, ARGV[5])
return 'ok'
`)

// sweepScript audits expiries (run by readers: list, status, audit).
var sweepScript = redis.NewScript(prelude + `
sweep()
return now
`)
