--- internal/engine/breaker/lua/record.lua
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
--- ARGV[11] outcome: success, failure or release (give a probe slot back, no outcome)
--- ARGV[12] generation the call was admitted in (acquire's reply[3]); "" = untracked report
--- ARGV[13] probe token acquire leased (verdict probe); "" = none
--- reply: {verdict, state, generation, failures, successes, wait_ms,
---   opened_at, last_failure, now, events_json, failure_threshold,
---   success_threshold, recovery_timeout_ms, max_probes, probe_lease_ms,
---   min_reporters, reporter_window_ms, reporters}: 18 strings, numbers in
---   decimal (times Unix ms); state closed|open|half_open|forced_open|
---   disabled; events_json a JSON array of the events appended, "" none;
---   the seven settings those the breaker runs with; reporters the distinct
---   failure reporters this call counted (0: it did not look)
--- verdicts: ok (counted, or nothing to count), stale (ARGV[12] is not the
---   breaker's generation: discarded, the probe slot given back)
--- errors: CORRUPT <what is wrong> (nothing written)
--- also: before a name's first script a process runs SET <ns>:schema <version> NX
---   and SADD <ns>:breakers <name> (not done here): `breaker status` lists
---   the names in that SET
-- recordScript reports the outcome of a call. ARGV[11] is success, failure
-- or release (give a probe slot back without an outcome); ARGV[12] the
-- generation the call was admitted in ("" for an untracked report, e.g.
-- from another language's service or the CLI); ARGV[13] the probe token
-- ("" if none). A result from an older generation is discarded: stale.
-- An untracked outcome on an OPEN breaker past its recovery time is a
-- probe's: the breaker goes HALF_OPEN and the outcome counts there (a
-- success towards closing, a failure reopens it).
--
-- With min_reporters above 1 a failure on a CLOSED breaker also records
-- who's reporter in the reporters set, and the breaker opens only when the
-- failures meet the threshold and at least min_reporters distinct
-- processes failed within the window; otherwise the failures keep
-- counting. A success that clears the failures clears the reporters too:
-- they are those of the current run of failures. A failing probe reopens
-- a HALF_OPEN breaker whatever the reporters.
local now = now_ms()
local st, bad = load(false, now)
if not st then return redis.error_reply('CORRUPT ' .. bad) end
local cfg = st.cfg
local outcome, token = ARGV[11], ARGV[13]
if ARGV[12] ~= '' and tonumber(ARGV[12]) ~= st.generation then
  if token ~= '' then redis.call('ZREM', KEYS[2], token) end
  return reply('stale', st, 0, now)
end
if outcome == 'release' then
  if token ~= '' then redis.call('ZREM', KEYS[2], token) end
  return reply('ok', st, 0, now)
end
if ARGV[12] == '' and st.state == 'open' and now >= st.opened_at + cfg.recovery_timeout_ms then
  transition(st, 'half_open', 'recovery timeout elapsed', now)
end
if outcome == 'failure' then
  st.last_failure = now
  st.failures = st.failures + 1
  if st.state == 'half_open' then
    -- the event keeps the probe successes counted before the failure
    transition(st, 'open', 'probe failed', now)
  else
    st.successes = 0
    if st.state == 'closed' and cfg.min_reporters > 1 and KEYS[4] then
      st.reporters = report_failure(st, now)
      if not st.reporters then return redis.error_reply('CORRUPT the reporters key is not a sorted set') end
      if st.failures >= cfg.failure_threshold and st.reporters >= cfg.min_reporters then
        transition(st, 'open', fmt(st.failures) .. ' consecutive failures from ' .. fmt(st.reporters) ..
          ' processes (min reporters ' .. fmt(cfg.min_reporters) .. ')', now)
      end
    elseif st.state == 'closed' and st.failures >= cfg.failure_threshold then
      transition(st, 'open', fmt(st.failures) .. ' consecutive failures', now)
    end
  end
else
  if st.state == 'open' or st.state == 'forced_open' then return reply('ok', st, 0, now) end
  if st.state == 'closed' and st.failures == 0 then return reply('ok', st, 0, now) end
  st.last_success = now
  st.failures = 0
  if st.state == 'closed' and cfg.min_reporters > 1 and KEYS[4] then redis.call('DEL', KEYS[4]) end
  if st.state == 'half_open' then
    if token ~= '' then redis.call('ZREM', KEYS[2], token) end
    st.successes = st.successes + 1
    if st.successes >= cfg.success_threshold then
      transition(st, 'closed', fmt(st.successes) .. ' consecutive probe successes', now)
    end
  end
end
save(st)
return reply('ok', st, 0, now)
