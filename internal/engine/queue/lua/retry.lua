--- internal/engine/queue/lua/retry.lua
--- prelude: prelude.lua
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
