--- internal/engine/breaker/lua/configure.lua
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
--- ARGV[11] new failure_threshold; "" = unchanged
--- ARGV[12] new success_threshold; "" = unchanged
--- ARGV[13] new recovery_timeout_ms; "" = unchanged
--- ARGV[14] new max_probes; "" = unchanged
--- ARGV[15] new probe_lease_ms; "" = unchanged
--- ARGV[16] reason, recorded in the event
--- ARGV[17] action: configure or apply
--- ARGV[18] new min_reporters; "" or absent = unchanged
--- ARGV[19] new reporter_window_ms; "" or absent = unchanged
---   (new values are whole numbers in range, checked by the caller: the script does not)
--- reply: {verdict, state, generation, failures, successes, wait_ms,
---   opened_at, last_failure, now, events_json, failure_threshold,
---   success_threshold, recovery_timeout_ms, max_probes, probe_lease_ms,
---   min_reporters, reporter_window_ms, reporters}: 18 strings, numbers in
---   decimal (times Unix ms); state closed|open|half_open|forced_open|
---   disabled; events_json a JSON array of the events appended, "" none;
---   the seven settings those the breaker runs with; reporters the distinct
---   failure reporters this call counted (0: it did not look)
--- verdicts: ok (changed: an event with action and changes appended and
---   published), unchanged (nothing written)
--- errors: CORRUPT <what is wrong>; INVALID max_probes (<n>) must be at least success_threshold (<n>), ... (nothing written)
-- configureScript changes the settings a breaker runs with: the audited
-- action behind `breaker configure` and `breaker apply`. ARGV[11..15] are
-- the new failure_threshold, success_threshold, recovery_timeout_ms,
-- max_probes and probe_lease_ms, ARGV[18..19] the new min_reporters and
-- reporter_window_ms ("" or absent leaves one as it is; the caller has
-- checked each is in range), ARGV[16] the reason, ARGV[17] the action
-- (configure or apply). The state, counts and generation stay as they are.
-- Verdicts: ok (the event, with its action and its changes as a JSON array
-- of {field, from, to}, from absent when none was stored, is appended and
-- published), unchanged (nothing written). The result must keep max_probes
-- at least success_threshold, or it fails with an error starting "INVALID".
local now = now_ms()
local st, bad = load(false, now)
if not st then return redis.error_reply('CORRUPT ' .. bad) end
-- the argument of each of SETTINGS: the newer two come after the action
local CONFIGURE_ARGV = {11, 12, 13, 14, 15, 18, 19}
local stored = {}
for _, f in ipairs(SETTINGS) do stored[f] = true end
for _, f in ipairs(st.seeded) do stored[f] = false end
local changes = {}
for i, f in ipairs(SETTINGS) do
  local v = ARGV[CONFIGURE_ARGV[i]] or ''
  local n = st.cfg[f]
  if v ~= '' then n = tonumber(v) end
  if n ~= st.cfg[f] or not stored[f] then
    local c = {field=f, to=n}
    if stored[f] then c.from = st.cfg[f] end
    table.insert(changes, c)
    st.cfg[f] = n
  end
end
if st.cfg.max_probes < st.cfg.success_threshold then
  return redis.error_reply('INVALID max_probes (' .. fmt(st.cfg.max_probes) .. ') must be at least success_threshold (' ..
    fmt(st.cfg.success_threshold) .. '), or the breaker could never close')
end
if #changes == 0 then return reply('unchanged', st, 0, now) end
local ev = event(st, st.state, ARGV[16], st.generation, now)
ev.action = ARGV[17]
ev.changes = changes
append(ev, {'action', ARGV[17], 'changes', cjson.encode(changes)})
save(st)
return reply('ok', st, 0, now)
