--- internal/engine/queue/lua/mark.lua
-- markScript records the new schema version if the namespace is still at
-- the old one. KEYS: the schema key. ARGV: old, new.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) end
return 1
