package queue

import "github.com/redis/go-redis/v9"

// The scripts built on prelude (claim, settle, retry, removeDead) take the
// nine queue keys of queueKeys, in this order:
//
//	KEYS[1] queue hash  KEYS[2] ready  KEYS[3] delayed  KEYS[4] leased
//	KEYS[5] dead        KEYS[6] ops    KEYS[7] lease    KEYS[8] errors
//	KEYS[9] done
//
// The others take fewer, each listed in its comment: enqueueScript six
// (enqueueKeys), enqueueOneScript two (ready, ops) and renewScript two
// (leased, lease); the schema upgrade's scripts are in upgrade.go. Every
// key is one queue's, under its hash tag, and comes in KEYS: no script
// builds a key itself.
//
// Scores: ready = rank*1e13 + first-failed ms (priority, then age);
// delayed = due ms; leased = lease deadline ms; dead = died ms. done is a
// LIST: "@ <completed ms>" markers (ids have no spaces), each followed by
// the ids completed then.
// Times are Redis' clock. An operation's entry in ops is
// "<ready score> <attempts> <max attempts> <service>[ <stalls>]\n<meta
// JSON>\n<data>": the first line is all a script parses, and only on the
// slow paths (retry, reap, release, the service filter); the drainer
// parses the rest.
const prelude = `
local Q, READY, DELAYED, LEASED, DEAD, OPS, LEASE, ERRS, DONE =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local BAND = 1e13

local function parse(v)
  if not v then return nil end
  local score, att, max, svc, st, pos = string.match(v, '^(%d+) (%d+) (%d+) (%S+) ?(%d*)\n()')
  if not score or tonumber(score) >= 4 * BAND then return nil end
  return {st = tonumber(st) or 0, score = tonumber(score), att = tonumber(att), max = tonumber(max), svc = svc, v = v, pos = pos}
end
local function put(id, c)
  local line = string.format('%d %d %d %s', c.score, c.att, c.max, c.svc)
  if c.st > 0 then line = line .. ' ' .. c.st end
  redis.call('HSET', OPS, id, line .. '\n' .. string.sub(c.v, c.pos))
end
local function unreadable(v)
  if not v then return "the operation's entry is missing" end
  return "the operation's entry is corrupt: no readable control line"
end
-- chunk is how many entries one HMGET may read with left bytes of budget
-- left, when an entry holds up to ENTRYMAX bytes (1 to 64).
local ENTRYMAX = 1
local function chunk(left)
  return math.max(1, math.min(64, math.floor(left / ENTRYMAX)))
end
-- fetch reads the entries of ids in chunks, stopping once about budget
-- bytes are read (at most budget plus one entry): it returns the entries
-- of the first k ids (k >= 1 when ids is not empty). A missing entry is
-- false.
local function fetch(ids, budget)
  local vs, bytes, k = {}, 0, 0
  while k < #ids and bytes < budget do
    local got = redis.call('HMGET', OPS, unpack(ids, k + 1, math.min(k + chunk(budget - bytes), #ids)))
    for x = 1, #got do
      k = k + 1
      vs[k] = got[x]
      if got[x] then bytes = bytes + #got[x] end
      if bytes >= budget then break end
    end
  end
  return vs, k
end
local function bury(id, why)
  redis.call('ZADD', DEAD, now, id)
  redis.call('HSET', ERRS, id, why)
  redis.call('HINCRBY', Q, 'died', 1)
end
`

// enqueueScript adds operations. KEYS (enqueueKeys): queue hash, ready,
// ops, and for the state of a duplicate delayed, leased, dead.
// ARGV: now ms (the pushing client's clock), retention ms, then per
// operation: id, ready score, entry (built by the client). Reply per
// operation: "new" or "dup:<state>". An id completed within the retention
// is a duplicate too. It runs no TIME and no string work: an enqueue is
// the one Redis call on a caller's failure path.
var enqueueScript = redis.NewScript(`
local Q, READY, OPS = KEYS[1], KEYS[2], KEYS[3]
local now, retention = tonumber(ARGV[1]), tonumber(ARGV[2])
local out, ready, seen = {}, {}, {}
local dups = 0
for a = 3, #ARGV, 3 do
  local id, score, e = ARGV[a], ARGV[a+1], ARGV[a+2]
  local st
  if seen[id] then
    st = 'ready' -- the same id earlier in this batch
  elseif redis.call('HSETNX', OPS, id, e) == 0 then
    local v = redis.call('HGET', OPS, id)
    local at = tonumber(string.match(v, '^done (%d+)') or '')
    if at and at <= now - retention then
      redis.call('HSET', OPS, id, e)
    elseif at then
      st = 'completed'
    elseif redis.call('ZSCORE', READY, id) then st = 'ready'
    elseif redis.call('ZSCORE', KEYS[4], id) then st = 'delayed'
    elseif redis.call('ZSCORE', KEYS[5], id) then st = 'leased'
    elseif redis.call('ZSCORE', KEYS[6], id) then st = 'dead'
    else st = 'unknown' end
  end
  if st then
    out[#out + 1] = 'dup:' .. st
    dups = dups + 1
  else
    ready[#ready + 1] = score; ready[#ready + 1] = id
    seen[id] = true
    out[#out + 1] = 'new'
  end
end
if #ready > 0 then redis.call('ZADD', READY, unpack(ready)) end
if dups > 0 then redis.call('HINCRBY', Q, 'duplicates', dups) end
return out
`)

// enqueueOneScript enqueues one operation (a push from a failing caller,
// the common case) with as little as Redis must do: no counter (Stats
// derives how many were enqueued). KEYS: ready, ops; ARGV: id, ready
// score, entry. Reply 1, or 0 for a duplicate with nothing changed
// (enqueueScript then tells its state).
var enqueueOneScript = redis.NewScript(`
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
`)

// claimScript reaps expired leases and due retries, then leases up to n
// ready operations under one fencing token. ARGV: n, lease ms, service
// filter (empty: any), scan limit (with a filter), owner (the drainer's
// id: the token is "<seq>@<owner>", so a drainer whose claim reply was
// lost can find what it was given), max stalls, the largest an entry can
// be (max_data_bytes plus room for its request: it sizes the reads under
// the byte budget). Reply: {status, now, deadline, token,
// reaped to ready, promoted, {id, why, attempts} of each operation
// buried here, {id, entry} of each claimed operation}. An expired lease
// is a stall, not an attempt (a crashed drainer's prefetched operations
// were never tried); an operation that stalls more than max stalls times
// ends dead instead of looping.
var claimScript = redis.NewScript(prelude + `
local n, lease, want, scan, owner, maxstalls = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
ENTRYMAX = tonumber(ARGV[7])
local back, promoted, buried = 0, 0, {}
local function lay(id, why, att)
  bury(id, why)
  buried[#buried + 1] = id; buried[#buried + 1] = why; buried[#buried + 1] = att
end
local BUDGET = 32 * 1024 * 1024
local expired = redis.call('ZRANGEBYSCORE', LEASED, '-inf', now, 'LIMIT', 0, 1000)
if #expired > 0 then
  local vs, k = fetch(expired, BUDGET)
  if k < #expired then expired = {unpack(expired, 1, k)} end -- the rest next time
  redis.call('ZREM', LEASED, unpack(expired))
  redis.call('HDEL', LEASE, unpack(expired))
  for i, id in ipairs(expired) do
    local c = parse(vs[i])
    if not c then
      lay(id, unreadable(vs[i]), 0)
    else
      -- a stall, not an attempt: a crashed drainer's prefetched
      -- operations were never tried; one that stalls more than max_stalls
      -- times is taken to kill its drainers
      c.st = c.st + 1
      put(id, c)
      local why = 'lease expired: the drainer holding it stopped reporting (stall ' .. c.st .. ' of at most ' .. maxstalls .. ')'
      if c.st > maxstalls then
        lay(id, 'lease expired ' .. c.st .. ' times: its drainers stopped reporting while holding it (it may be killing them)', c.att)
      else
        redis.call('HSET', ERRS, id, why)
        redis.call('ZADD', READY, c.score, id)
        back = back + 1
      end
    end
  end
end
local due = redis.call('ZRANGEBYSCORE', DELAYED, '-inf', now, 'LIMIT', 0, 1000)
if #due > 0 then
  local vs, k = fetch(due, BUDGET)
  if k < #due then due = {unpack(due, 1, k)} end -- the rest next time
  redis.call('ZREM', DELAYED, unpack(due))
  local ready = {}
  for i, id in ipairs(due) do
    local c = parse(vs[i])
    if c then
      ready[#ready + 1] = c.score; ready[#ready + 1] = id
    else
      lay(id, unreadable(vs[i]), 0)
    end
  end
  if #ready > 0 then redis.call('ZADD', READY, unpack(ready)) end
  promoted = #ready / 2
end
if redis.call('HGET', Q, 'paused') then
  return {'paused', now, 0, '', back, promoted, buried, {}}
end
local deadline = now + lease
local claimed = {}
local out = {'ok', now, deadline, '', back, promoted, buried, claimed}
if n <= 0 then return out end
local token = redis.call('HINCRBY', Q, 'seq', 1) .. '@' .. owner
out[4] = token
-- one call per kind of write for the whole batch
local take, leased, leases = {}, {}, {}
local function lease_it(id, v)
  take[#take + 1] = id
  leased[#leased + 1] = deadline; leased[#leased + 1] = id
  leases[#leases + 1] = id; leases[#leases + 1] = token
  claimed[#claimed + 1] = id; claimed[#claimed + 1] = v
end
if want == '' then
  -- the head of ready: ZPOPMIN takes it off without a search per id
  local popped = redis.call('ZPOPMIN', READY, n)
  local ids = {}
  for j = 1, #popped, 2 do ids[#ids + 1] = popped[j] end
  -- a reply of at most about BUDGET bytes of operations (at least one);
  -- the rest go back with their scores
  local vs, k = fetch(ids, BUDGET)
  if k < #ids then
    local back = {}
    for j = 2 * k + 1, #popped, 2 do back[#back + 1] = popped[j + 1]; back[#back + 1] = popped[j] end
    redis.call('ZADD', READY, unpack(back))
  end
  for i = 1, k do
    if vs[i] then lease_it(ids[i], vs[i]) else lay(ids[i], unreadable(vs[i]), 0) end
  end
else
  -- the first scan ready ids, read a chunk at a time: this service's are
  -- taken while the reply stays under BUDGET; other services' entries
  -- are read too (up to 4 x BUDGET) to find the service's control line
  local ids = redis.call('ZRANGE', READY, 0, scan - 1)
  local gone = {}
  local pos, reply, scanned = 0, 0, 0
  while pos < #ids and #take < n and reply < BUDGET and scanned < 4 * BUDGET do
    local j = math.min(pos + chunk(BUDGET - reply), #ids)
    local got = redis.call('HMGET', OPS, unpack(ids, pos + 1, j))
    for x = 1, #got do
      local id, v = ids[pos + x], got[x]
      local svc
      if v then
        scanned = scanned + #v
        svc = string.match(v, '^%d+ %d+ %d+ (%S+) ?%d*\n')
      end
      if not svc then
        gone[#gone + 1] = id
        lay(id, unreadable(v), 0)
      elseif svc == want and #take < n and reply < BUDGET then
        lease_it(id, v)
        reply = reply + #v
      end
    end
    pos = j
  end
  if #gone > 0 then redis.call('ZREM', READY, unpack(gone)) end
  if #take > 0 then redis.call('ZREM', READY, unpack(take)) end
end
if #take > 0 then
  redis.call('ZADD', LEASED, unpack(leased))
  redis.call('HSET', LEASE, unpack(leases))
end
return out
`)

// settleScript records the outcomes of claimed operations. ARGV:
// retention ms, backoff base ms, factor, cap ms, the number of done
// outcomes, then per done outcome: id, token, first-failed ms (followed
// by ":<attempts>" if it had failed attempts); then per other outcome: id, token,
// kind (retry|dead|defer|release), x, text. For retry x is the jitter
// fraction in [0,1); for defer the delay in ms. An outcome whose token is
// not the current lease's is ignored ("stale"): another drainer owns the
// operation now. Reply per outcome, in that order: "done",
// "retry:<due ms>", "dead", "defer:<due ms>", "release" or "stale".
var settleScript = redis.NewScript(prelude + `
local retention, base, factor, cap, ndone = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local ids, tokens = {}, {}
for a = 6, 5 + 3 * ndone, 3 do
  ids[#ids + 1] = ARGV[a]; tokens[#tokens + 1] = ARGV[a+1]
end
for a = 6 + 3 * ndone, #ARGV, 5 do
  ids[#ids + 1] = ARGV[a]; tokens[#tokens + 1] = ARGV[a+1]
end
local out = {}
if #ids == 0 then return out end
local held = redis.call('HMGET', LEASE, unpack(ids))
local mark = 'done ' .. now
local mine, marks, log, cleared = {}, {}, {'@ ' .. now}, {}
local done, retry_ms = 0, 0
for i = 1, ndone do
  local id = ids[i]
  if held[i] ~= tokens[i] then
    out[i] = 'stale'
  else
    mine[#mine + 1] = id
    local f = ARGV[5 + 3 * i]
    local first = tonumber(f)
    if first then
      marks[#marks + 1] = id; marks[#marks + 1] = mark
    else
      local ms, att = string.match(f, '^(%d+):(%d+)$')
      first = tonumber(ms)
      cleared[#cleared + 1] = id
      marks[#marks + 1] = id; marks[#marks + 1] = mark .. ' ' .. (tonumber(att) + 1)
    end
    log[#log + 1] = id
    done = done + 1
    retry_ms = retry_ms + (now - first)
    out[i] = 'done'
  end
end
for i = ndone + 1, #ids do
  local id = ids[i]
  local a = 6 + 3 * ndone + (i - ndone - 1) * 5
  local kind, x, text = ARGV[a+2], tonumber(ARGV[a+3]) or 0, ARGV[a+4]
  if held[i] ~= tokens[i] then
    out[i] = 'stale'
  else
    mine[#mine + 1] = id
    if kind == 'defer' then
      local due = now + math.floor(x)
      redis.call('ZADD', DELAYED, due, id)
      redis.call('HINCRBY', Q, 'deferred', 1)
      out[i] = 'defer:' .. due
    else
      local v = redis.call('HGET', OPS, id)
      local c = parse(v)
      if not c then
        if kind == 'release' then text = unreadable(v) end
        bury(id, text)
        out[i] = 'dead'
      elseif kind == 'retry' then
        c.att = c.att + 1
        put(id, c)
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
        put(id, c)
        bury(id, text)
        out[i] = 'dead'
      else
        redis.call('ZADD', READY, c.score, id)
        out[i] = 'release'
      end
    end
  end
end
if #mine > 0 then
  redis.call('ZREM', LEASED, unpack(mine))
  redis.call('HDEL', LEASE, unpack(mine))
end
if done > 0 then
  -- a completed operation's entry shrinks to "done <ms>[ <attempts>]",
  -- attempts when more than one (for deduplication and inspect),
  -- and its id goes to the done log after a time marker "@<ms>"; entries
  -- older than the retention are deleted from the head of the log
  redis.call('HSET', OPS, unpack(marks))
  redis.call('RPUSH', DONE, unpack(log))
  local cutoff = now - retention
  local first = redis.call('LINDEX', DONE, 0)
  local head = {}
  if string.sub(first, 1, 2) ~= '@ ' or (tonumber(string.sub(first, 3)) or 0) <= cutoff then
    head = redis.call('LRANGE', DONE, 0, 2047)
  end
  local cut, old = 0, {}
  for j, e in ipairs(head) do
    if string.sub(e, 1, 2) == '@ ' then
      local t = tonumber(string.sub(e, 3))
      if not t or t > cutoff then break end
    else
      old[#old + 1] = e
    end
    cut = j
  end
  if cut > 0 then
    -- only ids still completed then: one pushed again since is kept
    if #old > 0 then
      local vs = redis.call('HMGET', OPS, unpack(old))
      local del = {}
      for j, v in ipairs(vs) do
        local at = v and tonumber(string.match(v, '^done (%d+)') or '')
        if at and at <= cutoff then del[#del + 1] = old[j] end
      end
      if #del > 0 then redis.call('HDEL', OPS, unpack(del)) end
    end
    redis.call('LTRIM', DONE, cut, -1)
  end
  -- a completed operation's last error goes (a failed attempt's, or a
  -- stall's: a stall is no attempt, so any completion may have one)
  redis.call('HDEL', ERRS, unpack(log, 2))
  if #cleared > 0 then redis.call('HINCRBY', Q, 'completed_after_retry', #cleared) end
  redis.call('HINCRBY', Q, 'completed', done)
  redis.call('HINCRBY', Q, 'retry_ms_total', retry_ms)
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

// renewScript extends the leases still held. KEYS: leased, lease. ARGV:
// lease ms, then id, token pairs. Reply: the ids whose lease was lost.
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
// and stalls reset (and the death reason cleared). ARGV: 'all' for every
// dead operation, or 'ids' and the ids. Reply: {moved,
// ids not dead, ids dead but whose entry is corrupt (they stay dead)}.
var retryScript = redis.NewScript(prelude + `
local ids = {}
if ARGV[1] == 'all' then
  ids = redis.call('ZRANGE', DEAD, 0, -1)
else
  for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local moved, missing, corrupt = 0, {}, {}
for _, id in ipairs(ids) do
  if not redis.call('ZSCORE', DEAD, id) then
    missing[#missing + 1] = id
  else
    local c = parse(redis.call('HGET', OPS, id))
    if not c then
      corrupt[#corrupt + 1] = id
    else
      redis.call('ZREM', DEAD, id)
      redis.call('HDEL', ERRS, id)
      c.att, c.st = 0, 0
      put(id, c)
      redis.call('ZADD', READY, c.score, id)
      redis.call('HINCRBY', Q, 'revived', 1)
      moved = moved + 1
    end
  end
end
return {moved, missing, corrupt}
`)

// removeDeadScript deletes dead operations for good (purge, or the dead
// set's size and age caps). ARGV: counter to bump ('purged' or
// 'dead_trimmed'), then the ids. Only ids still dead are removed. Reply:
// how many were.
var removeDeadScript = redis.NewScript(prelude + `
local removed = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('ZREM', DEAD, id) == 1 then
    redis.call('HDEL', OPS, id)
    redis.call('HDEL', ERRS, id)
    removed = removed + 1
  end
end
if removed > 0 then redis.call('HINCRBY', Q, ARGV[1], removed) end
return removed
`)
