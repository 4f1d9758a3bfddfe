--- internal/engine/queue/lua/retry.lua
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
--- ARGV[1] "all" = every dead operation; "ids" = those of ARGV[2..]
--- ARGV[2..] the ids, with "ids"
--- reply: {moved (integer), ids not dead (array), ids dead with a corrupt entry (array)}
-- retryScript moves dead operations back to ready with their attempts
-- and stalls reset (and the death reason cleared). ARGV: 'all' for every
-- dead operation, or 'ids' and the ids. Reply: {moved,
-- ids not dead, ids dead but whose entry is corrupt (they stay dead)}.
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
