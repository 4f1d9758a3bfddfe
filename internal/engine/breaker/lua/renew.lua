--- internal/engine/breaker/lua/renew.lua
--- prelude: prelude.lua
-- renewScript extends a live probe's lease while its call is still running,
-- so a long call keeps its slot (the lease is for probes whose process
-- died). ARGV[11] is the probe token. Returns the lease in force in ms if
-- renewed (the renewer ticks every third of it, so a lease lowered by
-- `breaker configure` mid-probe is followed), 0 if the probe is gone (its
-- lease expired or the breaker changed state).
local now = now_ms()
if not redis.call('ZSCORE', KEYS[2], ARGV[11]) then return 0 end
local ok, v = pcall(redis.call, 'HGET', KEYS[1], 'probe_lease_ms')
local lease = ok and count(v)
if not lease or lease < 1 or lease > MAX_SETTING.probe_lease_ms then lease = OWN.probe_lease_ms end
redis.call('ZADD', KEYS[2], 'XX', now + lease, ARGV[11])
-- only ever extend the set's expiry: after the lease was lowered, another
-- probe may still hold a deadline from the longer one
if redis.call('PTTL', KEYS[2]) < lease * 2 then redis.call('PEXPIRE', KEYS[2], lease * 2) end
return lease
