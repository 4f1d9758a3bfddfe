--- internal/engine/queue/lua/enqueue.lua
--- KEYS[1] <ns>:queue:{name}          the queue HASH (duplicates counter)
--- KEYS[2] <ns>:queue:{name}:ready    ZSET of ids, score rank * 1e13 + first-failed Unix ms
--- KEYS[3] <ns>:queue:{name}:ops      HASH id -> entry
--- KEYS[4] <ns>:queue:{name}:delayed  ZSET, read for a duplicate's state
--- KEYS[5] <ns>:queue:{name}:leased   ZSET, read for a duplicate's state
--- KEYS[6] <ns>:queue:{name}:dead     ZSET, read for a duplicate's state
--- ARGV[1] now, Unix ms on the pushing client's clock
--- ARGV[2] retention, ms: the deduplication window (haderctl: 86400000)
--- ARGV[3..] per operation, three each: id, ready score, entry
---   id: 1-200 bytes of printable ASCII, no space or brace (queue.ValidID);
---   ready score: rank * 1e13 + now ms, rank
---   0 critical, 1 high, 2 normal, 3 low; entry: "<ready score> 0 <max
---   attempts> <service>\n<meta JSON>\n<data JSON>", meta {"operation":
---   name, "error": text (optional), "request": {...} (optional)}
--- reply: per operation, in order, "new" or "dup:<state>", state ready,
---   delayed, leased, dead, completed or unknown
--- also: once per process before the first push, SADD <ns>:queues <name> and
---   SET <ns>:schema <version> NX (not done here)
-- enqueueScript adds operations. KEYS (enqueueKeys): queue hash, ready,
-- ops, and for the state of a duplicate delayed, leased, dead.
-- ARGV: now ms (the pushing client's clock), retention ms, then per
-- operation: id, ready score, entry (built by the client). Reply per
-- operation: "new" or "dup:<state>". An id completed within the retention
-- is a duplicate too. It runs no TIME and no string work: an enqueue is
-- the one Redis call on a caller's failure path.
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
