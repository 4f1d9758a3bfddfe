--- internal/engine/chaos/lua/sweep.lua
--- prelude: prelude.lua
--- KEYS[1] <ns>:{chaos}:state   the switch and halt latch HASH
--- KEYS[2] <ns>:{chaos}:active  experiments index ZSET: member id, score end (Unix ms)
--- KEYS[3] <ns>:{chaos}:starts  starts of the last hour ZSET: member id, score start (Unix ms)
--- KEYS[4] <ns>:{chaos}:audit   audit STREAM (capped at about 10000)
--- ARGV[1] who: the actor in the audit, "<user>@<host>" (haderctl adds " (<CI var>=<id>)" in CI)
--- ARGV[2] pub/sub channel: <ns>:chaos:changed
--- reply: integer: now, Unix ms on Redis' clock
--- errors: none of its own: an expiry it cannot audit stays in the index
-- sweepScript audits expiries alone (Sweep: the data planes' tick, and the
-- audit's readers); the readers of experiments and state never run it.
sweep()
return now
