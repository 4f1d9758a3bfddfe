--- internal/engine/breaker/lua/set.lua
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
--- ARGV[11] target state: closed, forced_open or disabled
--- ARGV[12] reason, recorded in the event
--- reply: {verdict, state, generation, failures, successes, wait_ms,
---   opened_at, last_failure, now, events_json, failure_threshold,
---   success_threshold, recovery_timeout_ms, max_probes, probe_lease_ms,
---   min_reporters, reporter_window_ms, reporters}: 18 strings, numbers in
---   decimal (times Unix ms); state closed|open|half_open|forced_open|
---   disabled; events_json a JSON array of the events appended, "" none;
---   the seven settings those the breaker runs with; reporters the distinct
---   failure reporters this call counted (0: it did not look)
--- verdicts: ok
--- errors: none of its own: a corrupt breaker is repaired
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
