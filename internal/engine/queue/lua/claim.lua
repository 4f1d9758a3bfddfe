--- internal/engine/queue/lua/claim.lua
--- prelude: prelude.lua
--- KEYS[1] <ns>:queue:{name}          the queue HASH: counters, paused, seq, tp_b*/tp_n*
--- KEYS[2] <ns>:queue:{name}:ready    ZSET of ids, score rank * 1e13 + first-failed Unix ms
--- KEYS[3] <ns>:queue:{name}:delayed  ZSET of ids, score due Unix ms
--- KEYS[4] <ns>:queue:{name}:leased   ZSET of ids, score lease deadline Unix ms
--- KEYS[5] <ns>:queue:{name}:dead     ZSET of ids, score died Unix ms
--- KEYS[6] <ns>:queue:{name}:ops      HASH id -> entry (see enqueue.lua)
--- KEYS[7] <ns>:queue:{name}:lease    HASH id -> fencing token of its lease
--- KEYS[8] <ns>:queue:{name}:errors   HASH id -> last error
--- KEYS[9] <ns>:queue:{name}:done     completion log LIST: "@ <Unix ms>" markers, each then ids
--- ARGV[1] n: operations to lease at most; 0 = only reap and promote
--- ARGV[2] lease, ms
--- ARGV[3] service filter; "" = any service
--- ARGV[4] scan limit: ready ids looked at with a filter (haderctl: 2000)
--- ARGV[5] owner: the drainer's id; the token is "<seq>@<owner>"
--- ARGV[6] max stalls: expired leases before the operation dies
--- ARGV[7] the largest an entry can be, bytes (max_data_bytes + 65536)
--- reply: {status "ok" or "paused", now (Unix ms), lease deadline (Unix ms; 0
---   when paused), token ("" when n is 0 or paused), reaped back to ready,
---   promoted from delayed, buried {id, why, attempts, ...}, claimed
---   {id, entry, ...}}
-- claimScript reaps expired leases and due retries, then leases up to n
-- ready operations under one fencing token. ARGV: n, lease ms, service
-- filter (empty: any), scan limit (with a filter), owner (the drainer's
-- id: the token is "<seq>@<owner>", so a drainer whose claim reply was
-- lost can find what it was given), max stalls, the largest an entry can
-- be (max_data_bytes plus room for its request: it sizes the reads under
-- the byte budget). Reply: {status, now, deadline, token,
-- reaped to ready, promoted, {id, why, attempts} of each operation
-- buried here, {id, entry} of each claimed operation}. An expired lease
-- is a stall, not an attempt (a crashed drainer's prefetched operations
-- were never tried); an operation that stalls more than max stalls times
-- ends dead instead of looping.
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
