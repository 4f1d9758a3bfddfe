--- internal/engine/store/lua/mark_schema.lua
--- KEYS[1] <ns>:schema  the schema version STRING
--- ARGV[1] from: the version upgraded from
--- ARGV[2] to: written only if the stored one is still ARGV[1]
--- reply: 1 = written, 0 = not
-- markSchemaScript records a new schema version only if the stored one is
-- still the one upgraded from. KEYS[1] the schema key; ARGV[1] from,
-- ARGV[2] to. Returns 1 if it wrote.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end
return 0
