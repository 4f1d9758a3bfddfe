--- internal/engine/queue/lua/remove_dead.lua
--- prelude: prelude.lua
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
