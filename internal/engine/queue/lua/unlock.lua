--- internal/engine/queue/lua/unlock.lua
-- unlockScript deletes the upgrade lock if this process still holds it.
-- KEYS: the lock. ARGV: its value.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
