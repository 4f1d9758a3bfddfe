--- internal/engine/queue/lua/mark.lua
--- KEYS[1] <ns>:schema  the schema version STRING
--- ARGV[1] the old version
--- ARGV[2] the new version, written only if the stored one is ARGV[1]
--- reply: 1 (always)
-- markScript records the new schema version if the namespace is still at
-- the old one. KEYS: the schema key. ARGV: old, new.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) end
return 1
