--- internal/engine/queue/lua/enqueue_one.lua
-- enqueueOneScript enqueues one operation (a push from a failing caller,
-- the common case) with as little as Redis must do: no counter (Stats
-- derives how many were enqueued). KEYS: ready, ops; ARGV: id, ready
-- score, entry. Reply 1, or 0 for a duplicate with nothing changed
-- (enqueueScript then tells its state).
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
