--- internal/engine/breaker/lua/acquire.lua
--- prelude: prelude.lua
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
