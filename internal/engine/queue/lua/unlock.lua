--- internal/engine/queue/lua/unlock.lua
--- KEYS[1] <ns>:schema:upgrading  the upgrade lock STRING
--- ARGV[1] the holder's value, written with SET NX
--- reply: 1 (always); the lock is deleted only if it still holds ARGV[1]
-- unlockScript deletes the upgrade lock if this process still holds it.
-- KEYS: the lock. ARGV: its value.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
