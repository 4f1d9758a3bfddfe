--- internal/engine/chaos/lua/switch.lua
--- prelude: prelude.lua
-- switchScript sets the enable switch or clears the halt latch. ARGV[3]
-- field, ARGV[4] value ('1' or '0'), ARGV[5] audit event. Reply: "ok";
-- a WRONGTYPE error, with nothing written, when a chaos key holds
-- another type. It writes anyway, so it sweeps the experiments that
-- ended too.
local bad = checkTypes()
if bad then return bad end
audit(ARGV[5], '*', '')
redis.call('HSET', STATE, ARGV[3], ARGV[4], ARGV[3] .. '_by', who, ARGV[3] .. '_at', now)
sweep()
redis.call('PUBLISH', channel, ARGV[5])
return 'ok'
