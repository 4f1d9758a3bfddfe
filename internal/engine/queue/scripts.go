package queue

import "github.com/redis/go-redis/v9"

// Every queue script takes the same eight queue keys first (see
// queueKeys), all under the queue's hash tag, and after them the key of
// each operation hash it touches: no script builds a key itself.
//
//	KEYS[1] queue hash   KEYS[2] ready    KEYS[3] delayed  KEYS[4] leased
//	KEYS[5] dead         KEYS[6] ctl      KEYS[7] lease    KEYS[8] errors
//
// Scores: ready = rank*1e13 + first-failed ms (priority, then age);
// delayed = due ms; leased = lease deadline ms; dead = died ms. Times are
// Redis' clock. ctl holds "<ready score> <attempts> <max> <service>".
const prelude = `
local Q, READY, DELAYED, LEASED, DEAD, CTL, LEASE, ERRS =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local BAND = 1e13

local function ctl_get(id)
  local v = redis.call('HGET', CTL, id)
  if not v then return nil end
  local score, att, max, svc = string.match(v, '^(%d+) (%d+) (%d+) (%S+)$')
  if not score then return nil end
  return {score = tonumber(score), att = tonumber(att), max = tonumber(max), svc = svc}
end
local function ctl_put(id, c)
  redis.call('HSET', CTL, id, string.format('%d %d %d %s', c.score, c.att, c.max, c.svc))
end
local function bury(id, why)
  redis.call('ZADD', DEAD, now, id)
  redis.call('HSET', ERRS, id, why)
  redis.call('HINCRBY', Q, 'died', 1)
end
`

// enqueueScript adds operations. ARGV: n, then per operation: id, rank,
// max attempts, service, field count, fields and values. KEYS[8+i] is
// operation i's hash. Reply per operation: "new" or "dup:<state>".
var enqueueScript = redis.NewScript(prelude + `
local n = tonumber(ARGV[1])
local out = {}
local added = 0
local a = 2
for i = 1, n do
  local id, rank, max, svc, nf = ARGV[a], tonumber(ARGV[a+1]), tonumber(ARGV[a+2]), ARGV[a+3], tonumber(ARGV[a+4])
  local op = KEYS[8 + i]
  local fields = {}
  for j = 0, 2 * nf - 1 do fields[#fields + 1] = ARGV[a + 5 + j] end
  a = a + 5 + 2 * nf
  if redis.call('EXISTS', op) == 1 then
    local st = 'unknown'
    if redis.call('ZSCORE', READY, id) then st = 'ready'
    elseif redis.call('ZSCORE', DELAYED, id) then st = 'delayed'
    elseif redis.call('ZSCORE', LEASED, id) then st = 'leased'
    elseif redis.call('ZSCORE', DEAD, id) then st = 'dead'
    elseif redis.call('TYPE', op).ok == 'hash' and redis.call('HGET', op, 'state') == 'completed' then st = 'completed' end
    redis.call('HINCRBY', Q, 'duplicates', 1)
    out[i] = 'dup:' .. st
  else
    local score = rank * BAND + now
    fields[#fields + 1] = 'created_at'; fields[#fields + 1] = tostring(now)
    redis.call('HSET', op, unpack(fields))
    redis.call('ZADD', READY, score, id)
    ctl_put(id, {score = score, att = 0, max = max, svc = svc})
    added = added + 1
    out[i] = 'new'
  end
end
if added > 0 then redis.call('HINCRBY', Q, 'enqueued', added) end
return out
`)

// claimScript reaps expired leases and due retries, then leases up to n
// ready operations. ARGV: n, lease ms, service filter (empty: any), scan
// limit, owner (the drainer's id: a token is "<seq>@<owner>", so a drainer
// whose claim reply was lost can find what it was given). Reply: {status, now, deadline, reaped to ready, reaped to dead,
// promoted, then id, token, attempts, max for each claimed operation}.
// An expired lease counts as an attempt, so an operation that kills its
// drainer every time ends dead instead of looping.
var claimScript = redis.NewScript(prelude + `
local n, lease, want, scan, owner = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), ARGV[5]
local back, died, promoted = 0, 0, 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', LEASED, '-inf', now, 'LIMIT', 0, 1000)) do
  redis.call('ZREM', LEASED, id)
  redis.call('HDEL', LEASE, id)
  local c = ctl_get(id)
  if not c then
    bury(id, 'control entry missing or corrupt')
    died = died + 1
  else
    c.att = c.att + 1
    ctl_put(id, c)
    local why = 'lease expired: the drainer holding it stopped reporting (attempt ' .. c.att .. ' of ' .. c.max .. ')'
    if c.att >= c.max then
      bury(id, why)
      died = died + 1
    else
      redis.call('HSET', ERRS, id, why)
      redis.call('ZADD', READY, c.score, id)
      back = back + 1
    end
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', DELAYED, '-inf', now, 'LIMIT', 0, 1000)) do
  redis.call('ZREM', DELAYED, id)
  local c = ctl_get(id)
  if c then
    redis.call('ZADD', READY, c.score, id)
    promoted = promoted + 1
  else
    bury(id, 'control entry missing or corrupt')
    died = died + 1
  end
end
if redis.call('HGET', Q, 'paused') then
  return {'paused', now, 0, back, died, promoted}
end
local deadline = now + lease
local out = {'ok', now, deadline, back, died, promoted}
if n <= 0 then return out end
local ids
if want == '' then ids = redis.call('ZRANGE', READY, 0, n - 1) else ids = redis.call('ZRANGE', READY, 0, scan - 1) end
if #ids == 0 then return out end
-- one call per kind of write for the whole batch
local ctls = redis.call('HMGET', CTL, unpack(ids))
local seq = tonumber(redis.call('HGET', Q, 'seq') or '0')
local take, leased, leases = {}, {}, {}
for i, id in ipairs(ids) do
  if #take >= n then break end
  local score, att, max, svc
  if ctls[i] then score, att, max, svc = string.match(ctls[i], '^(%d+) (%d+) (%d+) (%S+)$') end
  if not score then
    redis.call('ZREM', READY, id)
    bury(id, 'control entry missing or corrupt')
  elseif want == '' or svc == want then
    seq = seq + 1
    local token = string.format('%d@%s', seq, owner)
    take[#take + 1] = id
    leased[#leased + 1] = deadline; leased[#leased + 1] = id
    leases[#leases + 1] = id; leases[#leases + 1] = token
    out[#out + 1] = id; out[#out + 1] = token; out[#out + 1] = tonumber(att); out[#out + 1] = tonumber(max)
  end
end
if #take > 0 then
  redis.call('ZREM', READY, unpack(take))
  redis.call('ZADD', LEASED, unpack(leased))
  redis.call('HSET', LEASE, unpack(leases))
  redis.call('HSET', Q, 'seq', seq)
end
return out
`)

// settleScript records the outcomes of claimed operations. ARGV:
// retention ms, backoff base ms, factor, cap ms, then per outcome: id,
// token, kind (done|retry|dead|defer|release), x, text. For retry x is the
// jitter fraction in [0,1); for defer the delay in ms. KEYS[8+i] is outcome
// i's operation hash. An outcome whose token is not the current lease's
// is ignored ("stale"): another drainer owns the operation now. Reply per
// outcome: "done", "retry:<due ms>", "dead", "defer:<due ms>",
// "release" or "stale".
var settleScript = redis.NewScript(prelude + `
local retention, base, factor, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ids, tokens, kinds, xs, texts = {}, {}, {}, {}, {}
for a = 5, #ARGV, 5 do
  ids[#ids + 1] = ARGV[a]; tokens[#tokens + 1] = ARGV[a+1]; kinds[#kinds + 1] = ARGV[a+2]
  xs[#xs + 1] = tonumber(ARGV[a+3]) or 0; texts[#texts + 1] = ARGV[a+4]
end
local out = {}
if #ids == 0 then return out end
local held = redis.call('HMGET', LEASE, unpack(ids))
local ctls = redis.call('HMGET', CTL, unpack(ids))
local mine, finished = {}, {}
local done, retry_ms, after_retry = 0, 0, 0
for i, id in ipairs(ids) do
  if held[i] ~= tokens[i] then
    out[i] = 'stale'
  else
    mine[#mine + 1] = id
    local c
    if ctls[i] then
      local score, att, max, svc = string.match(ctls[i], '^(%d+) (%d+) (%d+) (%S+)$')
      if score then c = {score = tonumber(score), att = tonumber(att), max = tonumber(max), svc = svc} end
    end
    local kind, x, text, op = kinds[i], xs[i], texts[i], KEYS[8 + i]
    if not c then
      bury(id, 'control entry missing or corrupt')
      out[i] = 'dead'
    elseif kind == 'done' then
      finished[#finished + 1] = id
      if c.att > 0 then
        redis.call('HDEL', ERRS, id)
        after_retry = after_retry + 1
      end
      -- pcall: a key that is not a hash (garbage) must not abort the batch
      local r = redis.pcall('HSET', op, 'state', 'completed', 'completed_at', now, 'attempts', c.att + 1)
      if type(r) ~= 'table' or not r.err then redis.call('PEXPIRE', op, retention) end
      done = done + 1
      retry_ms = retry_ms + (now - c.score % BAND)
      out[i] = 'done'
    elseif kind == 'retry' then
      c.att = c.att + 1
      ctl_put(id, c)
      if c.att >= c.max then
        bury(id, text .. ' (attempt ' .. c.att .. ' of ' .. c.max .. ')')
        out[i] = 'dead'
      else
        local ceil = math.min(cap, base * factor ^ (c.att - 1))
        local due = now + math.floor(x * ceil)
        redis.call('ZADD', DELAYED, due, id)
        redis.call('HSET', ERRS, id, text)
        redis.call('HINCRBY', Q, 'retried', 1)
        out[i] = 'retry:' .. due
      end
    elseif kind == 'dead' then
      c.att = c.att + 1
      ctl_put(id, c)
      bury(id, text)
      out[i] = 'dead'
    elseif kind == 'defer' then
      local due = now + math.floor(x)
      redis.call('ZADD', DELAYED, due, id)
      redis.call('HINCRBY', Q, 'deferred', 1)
      out[i] = 'defer:' .. due
    else
      redis.call('ZADD', READY, c.score, id)
      out[i] = 'release'
    end
  end
end
if #mine > 0 then
  redis.call('ZREM', LEASED, unpack(mine))
  redis.call('HDEL', LEASE, unpack(mine))
end
if #finished > 0 then redis.call('HDEL', CTL, unpack(finished)) end
if done > 0 then
  redis.call('HINCRBY', Q, 'completed', done)
  redis.call('HINCRBY', Q, 'retry_ms_total', retry_ms)
  if after_retry > 0 then redis.call('HINCRBY', Q, 'completed_after_retry', after_retry) end
  -- recent throughput: completions in 10 s buckets, a ring of 8
  local bucket = math.floor(now / 10000)
  local slot = bucket % 8
  if tonumber(redis.call('HGET', Q, 'tp_b' .. slot) or '-1') ~= bucket then
    redis.call('HSET', Q, 'tp_b' .. slot, bucket, 'tp_n' .. slot, done)
  else
    redis.call('HINCRBY', Q, 'tp_n' .. slot, done)
  end
end
return out
`)

// renewScript extends the leases still held. ARGV: lease ms, then id,
// token pairs. Reply: the ids whose lease was lost.
var renewScript = redis.NewScript(`
local LEASED, LEASE = KEYS[1], KEYS[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = now + tonumber(ARGV[1])
local lost = {}
for a = 2, #ARGV, 2 do
  local id, token = ARGV[a], ARGV[a+1]
  if redis.call('HGET', LEASE, id) == token and redis.call('ZSCORE', LEASED, id) then
    redis.call('ZADD', LEASED, 'XX', deadline, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
`)

// retryScript moves dead operations back to ready with their attempts
// reset. ARGV: '*' for every dead operation, or the ids. Reply: {moved,
// ids not dead}.
var retryScript = redis.NewScript(prelude + `
local ids = {}
if ARGV[1] == '*' then ids = redis.call('ZRANGE', DEAD, 0, -1) else ids = ARGV end
local moved, missing = 0, {}
for _, id in ipairs(ids) do
  local c = ctl_get(id)
  if redis.call('ZSCORE', DEAD, id) and c then
    redis.call('ZREM', DEAD, id)
    c.att = 0
    ctl_put(id, c)
    redis.call('ZADD', READY, c.score, id)
    redis.call('HINCRBY', Q, 'revived', 1)
    moved = moved + 1
  else
    missing[#missing + 1] = id
  end
end
return {moved, missing}
`)

// removeDeadScript deletes dead operations for good (purge, or the dead
// set's size and age caps). ARGV: counter to bump ('purged' or
// 'dead_trimmed'), then the ids; KEYS[8+i] is id i's hash. Only ids still
// dead are removed. Reply: how many were.
var removeDeadScript = redis.NewScript(prelude + `
local removed = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('ZREM', DEAD, id) == 1 then
    redis.call('HDEL', CTL, id)
    redis.call('HDEL', ERRS, id)
    redis.call('DEL', KEYS[8 + i - 1])
    removed = removed + 1
  end
end
if removed > 0 then redis.call('HINCRBY', Q, ARGV[1], removed) end
return removed
`)
