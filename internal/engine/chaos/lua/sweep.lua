--- internal/engine/chaos/lua/sweep.lua
--- prelude: prelude.lua
-- sweepScript audits expiries alone (Sweep: the data planes' tick, and the
-- audit's readers); the readers of experiments and state never run it.
sweep()
return now
