--- internal/engine/breaker/lua/renew.lua
--- prelude: prelude.lua
--- KEYS[1] <ns>:breaker:{name}            the breaker HASH
--- KEYS[2] <ns>:breaker:{name}:probes     probe leases ZSET: member a token, score its lease end (Unix ms)
--- KEYS[3] <ns>:breaker:{name}:events     transitions STREAM (capped at ARGV[9])
--- KEYS[4] <ns>:breaker:{name}:reporters  failure reporters ZSET; may be omitted (then min_reporters is not applied)
--- ARGV[1] clock override, Unix ms; "" = Redis TIME (what a service passes)
--- ARGV[2] failure threshold, whole number >= 1: the caller's seed, the stored field wins (haderctl: 3)
--- ARGV[3] success threshold, seed as ARGV[2] (haderctl: 2)
--- ARGV[4] recovery timeout, ms, seed as ARGV[2] (haderctl: 120000)
--- ARGV[5] max probes, seed as ARGV[2] (haderctl: the success threshold)
--- ARGV[6] probe lease, ms, seed as ARGV[2] (haderctl: 30000)
--- ARGV[7] who, JSON: {"host": str, "pid": int, "user": str} and, optional, "reporter" (absent or "": "<host>/<pid>"), "min_reporters" (absent: 1), "reporter_window_ms" (absent: 60000)
--- ARGV[8] pub/sub channel of transitions: <ns>:breaker:transitions
--- ARGV[9] event stream cap, approximate MAXLEN (haderctl: 1000)
--- ARGV[10] breaker name, the {name} of KEYS
--- ARGV[11] probe token to renew
--- reply: integer: the lease in force, ms, if renewed; 0 = the probe is gone
--- errors: WRONGTYPE when the probes key holds another type
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
