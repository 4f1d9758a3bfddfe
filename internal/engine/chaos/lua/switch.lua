--- internal/engine/chaos/lua/switch.lua
--- prelude: prelude.lua
--- KEYS[1] <ns>:{chaos}:state   the switch and halt latch HASH
--- KEYS[2] <ns>:{chaos}:active  experiments index ZSET: member id, score end (Unix ms)
--- KEYS[3] <ns>:{chaos}:starts  starts of the last hour ZSET: member id, score start (Unix ms)
--- KEYS[4] <ns>:{chaos}:audit   audit STREAM (capped at about 10000)
--- ARGV[1] who: the actor in the audit, "<user>@<host>" (haderctl adds " (<CI var>=<id>)" in CI)
--- ARGV[2] pub/sub channel: <ns>:chaos:changed
--- ARGV[3] field: enabled or halted
--- ARGV[4] value: "1" or "0"
--- ARGV[5] audit event, e.g. enabled, resumed
--- reply: "ok"
--- errors: WRONGTYPE chaos key <key> holds a <type>, ... (nothing written)
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
