--- internal/engine/breaker/lua/configure.lua
--- prelude: prelude.lua
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
