--- internal/engine/queue/lua/remove_dead.lua
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
--- ARGV[1] counter of the queue HASH to add to: purged or dead_trimmed
--- ARGV[2..] the ids to delete (only those still dead are)
--- reply: integer: how many were deleted
-- removeDeadScript deletes dead operations for good (purge, or the dead
-- set's size and age caps). ARGV: counter to bump ('purged' or
-- 'dead_trimmed'), then the ids. Only ids still dead are removed. Reply:
-- how many were.
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
