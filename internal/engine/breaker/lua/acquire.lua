--- internal/engine/breaker/lua/acquire.lua
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
--- ARGV[11] probe token, leased if the breaker is HALF_OPEN: a string unique to this call
--- reply: {verdict, state, generation, failures, successes, wait_ms,
---   opened_at, last_failure, now, events_json, failure_threshold,
---   success_threshold, recovery_timeout_ms, max_probes, probe_lease_ms,
---   min_reporters, reporter_window_ms, reporters}: 18 strings, numbers in
---   decimal (times Unix ms); state closed|open|half_open|forced_open|
---   disabled; events_json a JSON array of the events appended, "" none;
---   the seven settings those the breaker runs with; reporters the distinct
---   failure reporters this call counted (0: it did not look)
--- verdicts: allow (CLOSED or DISABLED: make the call), probe (a HALF_OPEN
---   slot is leased to ARGV[11]: report with it), reject (OPEN, FORCED_OPEN or
---   no slot free; wait_ms until a probe may be admitted, -1 = until an
---   operator acts)
--- errors: CORRUPT <what is wrong> (a bad hash field, a key of another type; nothing written)
--- also: before a name's first script a process runs SET <ns>:schema <version> NX
---   and SADD <ns>:breakers <name> (not done here): `breaker status` lists
---   the names in that SET
-- acquireScript asks to make a call. ARGV[11] is the probe token to lease
-- if the breaker is HALF_OPEN. Verdicts: allow (CLOSED or DISABLED: the
-- caller reports only what can change something), probe (a HALF_OPEN slot
-- is leased to the token), reject (OPEN, FORCED_OPEN, or no probe slot).
-- A HALF_OPEN breaker whose successes already meet its success threshold
-- (lowered since) closes here, and the call is allowed.
local now = now_ms()
local st, bad = load(false, now)
if not st then return redis.error_reply('CORRUPT ' .. bad) end
local cfg = st.cfg
if st.state == 'closed' or st.state == 'disabled' then return reply('allow', st, 0, now) end
if st.state == 'forced_open' then return reply('reject', st, -1, now) end
if st.state == 'open' then
  local wait = st.opened_at + cfg.recovery_timeout_ms - now
  if wait > 0 then return reply('reject', st, wait, now) end
  transition(st, 'half_open', 'recovery timeout elapsed', now)
  save(st)
end
if st.successes >= cfg.success_threshold then
  transition(st, 'closed', fmt(st.successes) .. ' consecutive probe successes (success threshold ' ..
    fmt(cfg.success_threshold) .. ')', now)
  save(st)
  return reply('allow', st, 0, now)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local inflight = redis.call('ZCARD', KEYS[2])
if inflight + st.successes >= max_probes(cfg) then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  local wait = cfg.probe_lease_ms
  -- no live lease ends later than now + the lease (a renewal sets that), so
  -- a score further out (planted by hand) does not make the wait absurd
  -- (a score that does not parse as a number, e.g. "1e+300" under
  -- gopher-lua, which miniredis runs, counts as such a far-out one)
  if #first == 2 then
    local deadline = tonumber(first[2]) or (now + cfg.probe_lease_ms)
    wait = math.max(0, math.min(deadline - now, cfg.probe_lease_ms))
  end
  return reply('reject', st, wait, now)
end
redis.call('ZADD', KEYS[2], now + cfg.probe_lease_ms, ARGV[11])
redis.call('PEXPIRE', KEYS[2], cfg.probe_lease_ms * 2)
return reply('probe', st, 0, now)
