--- internal/engine/gateway/writes/lua/settle.lua
--- KEYS[1] <ns>:gateway:idem:{key}  the Idempotency-Key's record STRING (JSON)
--- ARGV[1] the owner's token (the record's "owner")
--- ARGV[2] the new record JSON; "" = delete the record
--- ARGV[3] the new record's TTL, ms
--- reply: 1 = changed; 0 = the record is gone or another owner's
-- settleScript changes a key's record only for the claim's owner.
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
