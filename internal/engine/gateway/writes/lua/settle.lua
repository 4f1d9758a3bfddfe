--- internal/engine/gateway/writes/lua/settle.lua
-- settleScript changes a key's record only for the claim's owner.
--
--   KEYS[1] the key's record (GatewayIdempotency)
--   ARGV[1] the owner's token
--   ARGV[2] the new record, or "" to delete the record
--   ARGV[3] the new record's TTL, ms
--
-- Returns 1 if it changed the record, 0 if the record is gone or another's.
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, rec = pcall(cjson.decode, v)
if not ok or type(rec) ~= 'table' or rec.owner ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
