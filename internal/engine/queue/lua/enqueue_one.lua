--- internal/engine/queue/lua/enqueue_one.lua
--- KEYS[1] <ns>:queue:{name}:ready  ZSET of ids
--- KEYS[2] <ns>:queue:{name}:ops    HASH id -> entry
--- ARGV[1] id
--- ARGV[2] ready score (as enqueue.lua)
--- ARGV[3] entry (as enqueue.lua)
--- reply: 1 = enqueued; 0 = the id exists, nothing changed: run enqueue.lua
---   with the same operation to learn its state (or replace a completion
---   older than the retention)
--- also: once per process before the first push, SADD <ns>:queues <name> and
---   SET <ns>:schema <version> NX (not done here)
-- enqueueOneScript enqueues one operation (a push from a failing caller,
-- the common case) with as little as Redis must do: no counter (Stats
-- derives how many were enqueued). KEYS: ready, ops; ARGV: id, ready
-- score, entry. Reply 1, or 0 for a duplicate with nothing changed
-- (enqueueScript then tells its state).
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
