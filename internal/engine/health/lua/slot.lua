--- internal/engine/health/lua/slot.lua
--- prelude: prelude.lua
--- KEYS[1] <ns>:health:{name}:slot  the probe lock STRING: the last slot, floor(now / interval)
--- ARGV[1] check interval, ms (>= 1)
--- ARGV[2] clock override, Unix ms; "" = Redis TIME
--- reply: {1 = this caller probes now, 0 = another took this interval; now, Unix ms}
-- slotScript is the probe lock. KEYS[1] the service's slot key. ARGV:
-- interval ms, now ms ('' for Redis' clock). The interval slot is
-- floor(now / interval); the first watcher to ask in a slot gets it.
-- Reply: {1 if this caller probes, now ms}.
local now = now_ms(ARGV[2])
local interval = tonumber(ARGV[1])
local slot = tostring(math.floor(now / interval))
if redis.call('GET', KEYS[1]) == slot then return {0, now} end
redis.call('SET', KEYS[1], slot, 'PX', 2 * interval)
return {1, now}
