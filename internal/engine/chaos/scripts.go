package chaos

import "github.com/redis/go-redis/v9"

// Shared by the scripts: KEYS[1] state hash, KEYS[2] active index,
// KEYS[3] starts, KEYS[4] audit stream; ARGV[1] who, ARGV[2] channel.
// sweep moves experiments whose end passed out of the index and audits
// their expiry (their keys expired by TTL already); an expiry it cannot
// audit stays in the index (the data planes ignore it: its key is gone). checkTypes fails the
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
    -- the audit entry first: when Redis refuses it (full, or the audit
    -- key of another type) the expiries stay in the index for a later
    -- sweep, nothing is written, and the caller carries on
    local r = redis.pcall('XADD', AUDIT, 'MAXLEN', '~', 10000, '*', 'event', 'expired', 'id', id, 'by', who, 'detail', 'its duration ended', 'at', now)
    if type(r) == 'table' and r.err then return end
    redis.call('ZREM', ACTIVE, id)
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

// endScript ends experiments and nothing else. KEYS[1] state hash,
// KEYS[2] active index, KEYS[3…] the experiments' keys; ARGV[1] channel,
// ARGV[2] '1' to turn chaos off as well, ARGV[3…] the ids. Reply:
// {ids stopped, ids whose key had expired already (their end came
// before the stop), error turning chaos off or ""}; ids not in the index
// are in neither list.
//
// It uses only commands that free memory (DEL, ZREM, HDEL) or store
// nothing (PUBLISH), which Redis runs even at maxmemory with noeviction:
// an emergency stop must work when Redis is full. The bookkeeping
// (audit, halt latch) is bookScript's, run after. Turning chaos off is
// HDEL of "enabled" (the start script wants "1"), so it needs no memory
// either.
var endScript = redis.NewScript(`
local stopped, expired = {}, {}
for i = 3, #ARGV do
  local existed = redis.call('DEL', KEYS[i]) == 1
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    if existed then
      stopped[#stopped + 1] = ARGV[i]
    else
      expired[#expired + 1] = ARGV[i]
    end
  end
end
local off = ''
if ARGV[2] == '1' then
  local r = redis.pcall('HDEL', KEYS[1], 'enabled')
  if type(r) == 'table' and r.err then off = r.err end
end
redis.call('PUBLISH', ARGV[1], 'stopped')
return {stopped, expired, off}
`)

// bookScript writes a stop's bookkeeping after endScript has ended the
// experiments. ARGV[3] reason, ARGV[4] "halt" (latch the halt: stop-all),
// "disable" (record who turned chaos off) or "", ARGV[5] n, ARGV[6…5+n]
// the ids that were stopped, the rest the ids that had expired; then it
// sweeps the other experiments that ended. Reply: {halt latched "1"/"0", warnings…}: each part that
// could not be written (out of memory, a key of the wrong type) is one
// warning; the others are still written. It writes nothing before its
// first command that needs memory, so at maxmemory Redis refuses each
// part rather than letting the script grow past the limit.
var bookScript = redis.NewScript(prelude + `
local warnings = {}
local function try(what, ...)
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then
    warnings[#warnings + 1] = what .. ': ' .. r.err
    return false
  end
  return true
end
local function tryAudit(event, id, detail, what)
  return try(what or ('audit entry "' .. event .. ' ' .. id .. '" not written'), 'XADD', AUDIT, 'MAXLEN', '~', 10000, '*',
    'event', event, 'id', id, 'by', who, 'detail', detail, 'at', now)
end
local latched = '0'
if ARGV[4] == 'halt' then
  if try('halt not latched (new experiments are not refused until stop-all succeeds)', 'HSET', STATE, 'halted', 1, 'halted_by', who, 'halted_at', now, 'halt_reason', ARGV[3]) then
    latched = '1'
  end
  tryAudit('halted', '*', ARGV[3])
elseif ARGV[4] == 'disable' then
  try('who disabled chaos not recorded', 'HSET', STATE, 'enabled', 0, 'enabled_by', who, 'enabled_at', now)
  tryAudit('disabled', '*', '')
end
local n = tonumber(ARGV[5])
-- one warning for each lot: when one entry fails, the rest would too
local function auditAll(event, from, to, detail)
  for i = from, to do
    local what = nil
    if to > i then what = (to - i + 1) .. ' audit entries "' .. event .. '" not written' end
    if not tryAudit(event, ARGV[i], detail, what) then return end
  end
end
auditAll('stopped', 6, 5 + n, ARGV[3])
auditAll('expired', 6 + n, #ARGV, 'its duration ended')
-- a stop writes anyway: it also audits the other experiments that ended
sweep()
local reply = {latched}
for _, w in ipairs(warnings) do reply[#reply + 1] = w end
return reply
`)

// switchScript sets the enable switch or clears the halt latch. ARGV[3]
// field, ARGV[4] value ('1' or '0'), ARGV[5] audit event. Reply: "ok";
// a WRONGTYPE error, with nothing written, when a chaos key holds
// another type. It writes anyway, so it sweeps the experiments that
// ended too.
var switchScript = redis.NewScript(prelude + `
local bad = checkTypes()
if bad then return bad end
audit(ARGV[5], '*', '')
redis.call('HSET', STATE, ARGV[3], ARGV[4], ARGV[3] .. '_by', who, ARGV[3] .. '_at', now)
sweep()
redis.call('PUBLISH', channel, ARGV[5])
return 'ok'
`)

// sweepScript audits expiries alone (Sweep: the data planes' tick, and the
// audit's readers); the readers of experiments and state never run it.
var sweepScript = redis.NewScript(prelude + `
sweep()
return now
`)
