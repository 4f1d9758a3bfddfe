package breaker

import "github.com/redis/go-redis/v9"

// Every breaker script takes the same three keys, all under the breaker's
// hash tag so they share one Cluster slot:
//
//	KEYS[1] the breaker HASH      <ns>:breaker:{name}
//	KEYS[2] the probes ZSET       <ns>:breaker:{name}:probes
//	KEYS[3] the events STREAM     <ns>:breaker:{name}:events
//
// and the same first ten arguments:
//
//	ARGV[1]  clock override in Unix ms, "" = Redis TIME (tests inject a clock)
//	ARGV[2]  failure threshold        ARGV[3] success threshold
//	ARGV[4]  recovery timeout (ms)    ARGV[5] max probes
//	ARGV[6]  probe lease (ms)         ARGV[7] who: JSON {"host","pid","user"}
//	ARGV[8]  pub/sub channel          ARGV[9] event stream cap (approximate)
//	ARGV[10] breaker name
//
// Each returns the flat reply described at reply() below. A hash that does
// not hold a valid breaker makes acquire and record fail with an error
// starting "CORRUPT"; the operator scripts repair it.
const prelude = `
local FT, ST = tonumber(ARGV[2]), tonumber(ARGV[3])
local RECOVERY, MAXPROBES, LEASE = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local NAME = ARGV[10]

local function now_ms()
  if ARGV[1] ~= '' then return tonumber(ARGV[1]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function fmt(n) return string.format('%d', n) end

local STATES = {closed=true, open=true, half_open=true, forced_open=true, disabled=true}
local COUNTS = {'failures', 'successes', 'generation', 'opened_at', 'last_failure', 'last_success', 'changed_at'}

-- load reads the breaker. With lenient set a corrupt hash loads as a fresh
-- one whose state is 'corrupt' (the operator scripts overwrite it);
-- otherwise it returns nil and what is wrong.
local function load(lenient)
  local ok, h = pcall(redis.call, 'HGETALL', KEYS[1])
  if not ok then
    if lenient then return {state='corrupt', failures=0, successes=0, generation=0, opened_at=0, last_failure=0, last_success=0, changed_at=0} end
    return nil, 'the key is not a hash'
  end
  local raw = {}
  for i = 1, #h, 2 do raw[h[i]] = h[i + 1] end
  local st = {state = raw.state or 'closed'}
  local bad
  if not STATES[st.state] then bad = "field 'state' holds '" .. st.state .. "'" end
  for _, f in ipairs(COUNTS) do
    local v = raw[f]
    local n = 0
    if v ~= nil and v ~= '' then
      n = tonumber(v)
      if n == nil or n < 0 or n ~= math.floor(n) then
        bad = bad or ("field '" .. f .. "' holds '" .. v .. "'")
        n = 0
      end
    end
    st[f] = n
  end
  if bad then
    if not lenient then return nil, bad end
    st.state = 'corrupt'
  end
  return st
end

-- save writes every known field; fields it does not know are left alone,
-- so a newer schema's additions survive an older writer.
local function save(st)
  redis.call('HSET', KEYS[1], 'name', NAME, 'state', st.state,
    'failures', fmt(st.failures), 'successes', fmt(st.successes), 'generation', fmt(st.generation),
    'opened_at', fmt(st.opened_at), 'last_failure', fmt(st.last_failure), 'last_success', fmt(st.last_success),
    'changed_at', fmt(st.changed_at),
    'failure_threshold', ARGV[2], 'success_threshold', ARGV[3], 'recovery_timeout_ms', ARGV[4],
    'max_probes', ARGV[5], 'probe_lease_ms', ARGV[6])
end

-- transition moves st to a new state, bumps the generation, appends the
-- event to the stream and publishes it. It returns the event as JSON.
local function transition(st, to, reason, now)
  local who = cjson.decode(ARGV[7])
  local ev = {name=NAME, from=st.state, to=to, reason=reason, generation=st.generation + 1,
    failures=st.failures, successes=st.successes, at=now,
    host=who.host or '', pid=who.pid or 0, user=who.user or ''}
  ev.id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[9], '*',
    'name', NAME, 'from', ev.from, 'to', to, 'reason', reason, 'generation', fmt(ev.generation),
    'failures', fmt(ev.failures), 'successes', fmt(ev.successes), 'at', fmt(now),
    'host', ev.host, 'pid', tostring(ev.pid), 'user', ev.user)
  local json = cjson.encode(ev)
  redis.call('PUBLISH', ARGV[8], json)
  st.state = to
  st.generation = st.generation + 1
  st.changed_at = now
  if to == 'open' or to == 'forced_open' then
    st.opened_at = now
    st.successes = 0
    redis.call('DEL', KEYS[2])
  elseif to == 'half_open' then
    st.successes = 0
    redis.call('DEL', KEYS[2])
  else
    st.failures = 0
    st.successes = 0
    redis.call('DEL', KEYS[2])
  end
  return json
end

-- reply: {verdict, state, generation, failures, successes, wait_ms,
--         opened_at, last_failure, now, event_json}
-- verdict is allow, probe, reject, ok or stale; wait_ms is the time until
-- the next probe may be admitted (-1: not until an operator acts).
local function reply(verdict, st, wait, now, ev)
  return {verdict, st.state, fmt(st.generation), fmt(st.failures), fmt(st.successes), fmt(wait),
    fmt(st.opened_at), fmt(st.last_failure), fmt(now), ev or ''}
end
`

// acquireScript asks to make a call. ARGV[11] is the probe token to lease
// if the breaker is HALF_OPEN. Verdicts: allow (CLOSED or DISABLED: the
// caller reports only what can change something), probe (a HALF_OPEN slot
// is leased to the token), reject (OPEN, FORCED_OPEN, or no probe slot).
var acquireScript = redis.NewScript(prelude + `
local now = now_ms()
local st, bad = load(false)
if not st then return redis.error_reply('CORRUPT ' .. bad) end
if st.state == 'closed' or st.state == 'disabled' then return reply('allow', st, 0, now) end
if st.state == 'forced_open' then return reply('reject', st, -1, now) end
local ev
if st.state == 'open' then
  local wait = st.opened_at + RECOVERY - now
  if wait > 0 then return reply('reject', st, wait, now) end
  ev = transition(st, 'half_open', 'recovery timeout elapsed', now)
  save(st)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local inflight = redis.call('ZCARD', KEYS[2])
if inflight + st.successes >= MAXPROBES then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  local wait = LEASE
  if #first == 2 then wait = tonumber(first[2]) - now end
  return reply('reject', st, wait, now, ev)
end
redis.call('ZADD', KEYS[2], now + LEASE, ARGV[11])
redis.call('PEXPIRE', KEYS[2], LEASE * 2)
return reply('probe', st, 0, now, ev)
`)

// recordScript reports the outcome of a call. ARGV[11] is success, failure
// or release (give a probe slot back without an outcome); ARGV[12] the
// generation the call was admitted in ("" for an untracked report, e.g.
// from another language's service or the CLI); ARGV[13] the probe token
// ("" if none). A result from an older generation is discarded: stale.
var recordScript = redis.NewScript(prelude + `
local now = now_ms()
local st, bad = load(false)
if not st then return redis.error_reply('CORRUPT ' .. bad) end
local outcome, token = ARGV[11], ARGV[13]
if ARGV[12] ~= '' and tonumber(ARGV[12]) ~= st.generation then
  if token ~= '' then redis.call('ZREM', KEYS[2], token) end
  return reply('stale', st, 0, now)
end
if outcome == 'release' then
  if token ~= '' then redis.call('ZREM', KEYS[2], token) end
  return reply('ok', st, 0, now)
end
local ev
if outcome == 'failure' then
  st.last_failure = now
  st.failures = st.failures + 1
  if st.state == 'half_open' then
    -- the event keeps the probe successes counted before the failure
    ev = transition(st, 'open', 'probe failed', now)
  else
    st.successes = 0
    if st.state == 'closed' and st.failures >= FT then
      ev = transition(st, 'open', fmt(st.failures) .. ' consecutive failures', now)
    end
  end
else
  if st.state == 'open' or st.state == 'forced_open' then return reply('ok', st, 0, now) end
  if st.state == 'closed' and st.failures == 0 then return reply('ok', st, 0, now) end
  st.last_success = now
  st.failures = 0
  if st.state == 'half_open' then
    if token ~= '' then redis.call('ZREM', KEYS[2], token) end
    st.successes = st.successes + 1
    if st.successes >= ST then
      ev = transition(st, 'closed', fmt(st.successes) .. ' consecutive probe successes', now)
    end
  end
end
save(st)
return reply('ok', st, 0, now, ev)
`)

// renewScript extends a live probe's lease while its call is still running,
// so a long call keeps its slot (the lease is for probes whose process
// died). ARGV[11] is the probe token. Returns 1 if renewed, 0 if the probe
// is gone (its lease expired or the breaker changed state).
var renewScript = redis.NewScript(prelude + `
local now = now_ms()
if not redis.call('ZSCORE', KEYS[2], ARGV[11]) then return 0 end
redis.call('ZADD', KEYS[2], 'XX', now + LEASE, ARGV[11])
redis.call('PEXPIRE', KEYS[2], LEASE * 2)
return 1
`)

// setScript is an operator override. ARGV[11] is the target state (closed,
// forced_open or disabled), ARGV[12] the reason. It clears the counts,
// bumps the generation (so results of calls admitted before are discarded)
// and always records an event, even when the state does not change, so the
// reason is on record. It repairs a corrupt hash.
var setScript = redis.NewScript(prelude + `
local now = now_ms()
local st = load(true)
local ev = transition(st, ARGV[11], ARGV[12], now)
st.failures, st.successes = 0, 0
save(st)
return reply('ok', st, 0, now, ev)
`)
