--- internal/engine/breaker/lua/prelude.lua
--- shared code: a script naming this file as its prelude runs as this file's text followed by its own
--- reads (every breaker script passes them):
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
--- defines: SETTINGS, OWN, MAX_SETTING, who(), own(), now_ms(), fmt(), count(), load(), max_probes(), save(), report_failure(), append(), event(), transition(), reply()
-- Every breaker script takes the same four keys, all under the breaker's
-- hash tag so they share one Cluster slot, and the same first ten
-- arguments (the header above; tests inject a clock with ARGV[1]).
--
-- who is {"host","pid","user"} (recorded in events) and, optional,
-- "reporter" (this process' id among the breaker's failure reporters;
-- absent: "<host>/<pid>"), "min_reporters" and "reporter_window_ms" (the
-- caller's own; absent: 1 and 60000). The newer fields ride in who so the
-- positions of the arguments stay those of schema 3: a caller written
-- before them still works.
--
-- ARGV[2..6] and who's min_reporters and reporter_window_ms are the
-- caller's own settings, and only a seed: a breaker runs with the settings
-- stored in its hash (failure_threshold, success_threshold,
-- recovery_timeout_ms, max_probes, probe_lease_ms, min_reporters,
-- reporter_window_ms). A
-- field that is not stored (a new breaker, or one an older haderctl wrote)
-- takes the caller's value, and the script's next write stores it. Only the
-- configure script changes a stored setting.
--
-- The reporters set is touched only when min_reporters is above 1, so with
-- it off the scripts issue the same commands as before it existed (and a
-- transition's DEL of it is a no-op). A caller that passes only the first
-- three keys (written before the set existed) is served as then: its
-- failures open on the threshold alone.
--
-- Each returns the flat reply described at reply() below. A hash that does
-- not hold a valid breaker makes acquire, record and configure fail with an
-- error starting "CORRUPT"; the operator scripts (set) repair it.
local NAME = ARGV[10]
local SETTINGS = {'failure_threshold', 'success_threshold', 'recovery_timeout_ms', 'max_probes', 'probe_lease_ms',
  'min_reporters', 'reporter_window_ms'}
local OWN = {failure_threshold=tonumber(ARGV[2]), success_threshold=tonumber(ARGV[3]),
  recovery_timeout_ms=tonumber(ARGV[4]), max_probes=tonumber(ARGV[5]), probe_lease_ms=tonumber(ARGV[6])}
-- upper bounds of the settings (Settings.Validate has the same)
local MAX_SETTING = {failure_threshold=2147483647, success_threshold=2147483647, max_probes=2147483647,
  recovery_timeout_ms=604800000, probe_lease_ms=604800000, min_reporters=2147483647, reporter_window_ms=604800000}
-- an opened_at more than this far ahead of the clock was not written by a
-- script (it would keep the breaker open for good); other times only show
local FUTURE_MS = 3600000

-- who is ARGV[7] decoded, once, and only by a call that needs it (an
-- event, a seed of the newer settings, a reporter): not on every call
local WHO
local function who()
  if not WHO then WHO = cjson.decode(ARGV[7]) end
  return WHO
end

-- own is the caller's own value of a setting: from ARGV[2..6], or, for
-- the newer ones, from who (a caller that does not send them: the default)
local OWN_DEFAULT = {min_reporters=1, reporter_window_ms=60000}
local function own(f)
  if OWN[f] == nil then
    local n = tonumber(who()[f])
    if not n or n < 1 or n > MAX_SETTING[f] or n ~= math.floor(n) then n = OWN_DEFAULT[f] end
    OWN[f] = n
  end
  return OWN[f]
end

local function now_ms()
  if ARGV[1] ~= '' then return tonumber(ARGV[1]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function fmt(n) return string.format('%d', n) end

-- count parses a stored count: decimal digits only (tonumber alone takes
-- '1e5', '0x10' and ' 5'), at most 15 of them so it is exact in a double.
local function count(v)
  if type(v) ~= 'string' or #v > 15 or not string.match(v, '^%d+$') then return nil end
  return tonumber(v)
end

local STATES = {closed=true, open=true, half_open=true, forced_open=true, disabled=true}
local COUNTS = {'failures', 'successes', 'generation', 'last_failure', 'last_success', 'changed_at'}
local KINDS = {{KEYS[1], 'hash', 'the key is not a hash'}, {KEYS[2], 'zset', 'the probes key is not a sorted set'},
  {KEYS[3], 'stream', 'the events key is not a stream'}}

-- load reads the breaker and the settings it runs with (st.cfg; the names
-- of those taken from the caller because none is stored are in st.seeded).
-- With lenient set a corrupt breaker loads as a fresh one whose state is
-- 'corrupt' and a key of the wrong type is deleted (the operator scripts
-- overwrite it); otherwise it returns nil and what is wrong.
local function load(lenient, now)
  local bad
  for _, k in ipairs(KINDS) do
    local t = redis.call('TYPE', k[1])['ok']
    if t ~= 'none' and t ~= k[2] then
      if not lenient then return nil, k[3] end
      redis.call('DEL', k[1])
      bad = bad or k[3]
    end
  end
  local h = redis.call('HGETALL', KEYS[1])
  local raw = {}
  for i = 1, #h, 2 do raw[h[i]] = h[i + 1] end
  local st = {state = raw.state or 'closed', cfg = {}, seeded = {}}
  if not STATES[st.state] then bad = bad or ("field 'state' holds '" .. st.state .. "'") end
  local function field(f, max)
    local v = raw[f]
    if v == nil or v == '' then return nil end
    local n = count(v)
    if n == nil or (max and n > max) then
      bad = bad or ("field '" .. f .. "' holds '" .. v .. "'")
      return nil
    end
    return n
  end
  for _, f in ipairs(COUNTS) do st[f] = field(f) or 0 end
  st.opened_at = field('opened_at', now + FUTURE_MS) or 0
  for _, f in ipairs(SETTINGS) do
    local n = field(f, MAX_SETTING[f])
    if n == 0 then
      bad = bad or ("field '" .. f .. "' holds '0'")
      n = nil
    end
    if n == nil then
      n = own(f)
      table.insert(st.seeded, f)
    end
    st.cfg[f] = n
  end
  if bad then
    if not lenient then return nil, bad end
    st = {state='corrupt', failures=0, successes=0, generation=st.generation, opened_at=0, last_failure=0,
      last_success=0, changed_at=0, cfg=st.cfg, seeded=st.seeded}
  end
  return st
end

-- max_probes below success_threshold (set by hand, or by a haderctl from
-- before settings lived in Redis) would keep a half-open breaker from ever
-- closing: the cap is never below the threshold.
local function max_probes(cfg) return math.max(cfg.max_probes, cfg.success_threshold) end

-- save writes every known field; fields it does not know are left alone,
-- so a newer schema's additions survive an older writer.
local function save(st)
  redis.call('HSET', KEYS[1], 'name', NAME, 'state', st.state,
    'failures', fmt(st.failures), 'successes', fmt(st.successes), 'generation', fmt(st.generation),
    'opened_at', fmt(st.opened_at), 'last_failure', fmt(st.last_failure), 'last_success', fmt(st.last_success),
    'changed_at', fmt(st.changed_at),
    'failure_threshold', fmt(st.cfg.failure_threshold), 'success_threshold', fmt(st.cfg.success_threshold),
    'recovery_timeout_ms', fmt(st.cfg.recovery_timeout_ms), 'max_probes', fmt(st.cfg.max_probes),
    'probe_lease_ms', fmt(st.cfg.probe_lease_ms), 'min_reporters', fmt(st.cfg.min_reporters),
    'reporter_window_ms', fmt(st.cfg.reporter_window_ms))
end

-- report_failure adds this process to the reporters of a failure at now,
-- drops those whose last failure is older than the window, and returns
-- how many distinct processes are left; nil when the key holds another
-- type. Only called with min_reporters above 1 and the key passed.
local function report_failure(st, now)
  local t = redis.call('TYPE', KEYS[4])['ok']
  if t ~= 'none' and t ~= 'zset' then return nil end
  local window = st.cfg.reporter_window_ms
  local w = who()
  local id = w.reporter
  if type(id) ~= 'string' or id == '' then id = tostring(w.host or '') .. '/' .. tostring(w.pid or 0) end
  redis.call('ZADD', KEYS[4], now, id)
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. fmt(now - window))
  redis.call('PEXPIRE', KEYS[4], window)
  return redis.call('ZCARD', KEYS[4])
end

-- EVENTS are the events this script call appended, for its reply.
local EVENTS = {}

-- append adds ev to the stream (with extra fields) and publishes it.
local function append(ev, extra)
  local fields = {'name', NAME, 'from', ev.from, 'to', ev.to, 'reason', ev.reason, 'generation', fmt(ev.generation),
    'failures', fmt(ev.failures), 'successes', fmt(ev.successes), 'at', fmt(ev.at),
    'host', ev.host, 'pid', tostring(ev.pid), 'user', ev.user}
  for _, x in ipairs(extra or {}) do table.insert(fields, x) end
  ev.id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[9], '*', unpack(fields))
  redis.call('PUBLISH', ARGV[8], cjson.encode(ev))
  table.insert(EVENTS, ev)
end

local function event(st, to, reason, generation, now)
  local w = who()
  return {name=NAME, from=st.state, to=to, reason=reason, generation=generation,
    failures=st.failures, successes=st.successes, at=now,
    host=w.host or '', pid=w.pid or 0, user=w.user or ''}
end

-- transition moves st to a new state, bumps the generation, appends the
-- event to the stream and publishes it.
local function transition(st, to, reason, now)
  append(event(st, to, reason, st.generation + 1, now))
  st.state = to
  st.generation = st.generation + 1
  st.changed_at = now
  if to == 'open' or to == 'forced_open' then
    st.opened_at = now
    st.successes = 0
  elseif to == 'half_open' then
    st.successes = 0
  else
    st.failures = 0
    st.successes = 0
  end
  redis.call('DEL', KEYS[2])
  if KEYS[4] then redis.call('DEL', KEYS[4]) end
end

-- reply: {verdict, state, generation, failures, successes, wait_ms,
--         opened_at, last_failure, now, events_json,
--         failure_threshold, success_threshold, recovery_timeout_ms,
--         max_probes, probe_lease_ms, min_reporters, reporter_window_ms,
--         reporters}
-- verdict is allow, probe, reject, ok, stale or unchanged; wait_ms is the
-- time until the next probe may be admitted (-1: not until an operator
-- acts); events_json is a JSON array of the events this call appended ("",
-- none); then the seven settings the breaker runs with; reporters is the
-- count of distinct failure reporters this call saw (0 when it did not
-- look: min_reporters off, or no failure recorded).
local function reply(verdict, st, wait, now)
  local evs = ''
  if #EVENTS > 0 then evs = cjson.encode(EVENTS) end
  local c = st.cfg
  return {verdict, st.state, fmt(st.generation), fmt(st.failures), fmt(st.successes), fmt(wait),
    fmt(st.opened_at), fmt(st.last_failure), fmt(now), evs,
    fmt(c.failure_threshold), fmt(c.success_threshold), fmt(c.recovery_timeout_ms), fmt(c.max_probes),
    fmt(c.probe_lease_ms), fmt(c.min_reporters), fmt(c.reporter_window_ms), fmt(st.reporters or 0)}
end
