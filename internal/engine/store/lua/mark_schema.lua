--- internal/engine/store/lua/mark_schema.lua
-- markSchemaScript records a new schema version only if the stored one is
-- still the one upgraded from. KEYS[1] the schema key; ARGV[1] from,
-- ARGV[2] to. Returns 1 if it wrote.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end
return 0
