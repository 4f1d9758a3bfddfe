--- internal/engine/breaker/lua/set.lua
--- prelude: prelude.lua
-- setScript is an operator override. ARGV[11] is the target state (closed,
-- forced_open or disabled), ARGV[12] the reason. It clears the counts,
-- bumps the generation (so results of calls admitted before are discarded)
-- and always records an event, even when the state does not change, so the
-- reason is on record. It repairs a corrupt breaker: a key of the wrong
-- type is deleted, a bad setting takes the caller's value. The reporters
-- set goes with the transition, whatever its type.
local now = now_ms()
local st = load(true, now)
transition(st, ARGV[11], ARGV[12], now)
st.failures, st.successes = 0, 0
save(st)
return reply('ok', st, 0, now)
