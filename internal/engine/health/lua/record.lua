--- internal/engine/health/lua/record.lua
--- prelude: prelude.lua
--- KEYS[1] <ns>:health:{name}         the service's state HASH
--- KEYS[2] <ns>:health:{name}:hours   hourly counters HASH: "<hour>:n", "<hour>:ok", "<hour>:us"
--- KEYS[3] <ns>:health:{name}:recent  latest results LIST, newest first
--- KEYS[4] <ns>:health:{name}:alerts  alerts STREAM (capped at about 500)
--- ARGV[1] ok: "1" healthy, "0" unhealthy
--- ARGV[2] HTTP status code (0: no answer)
--- ARGV[3] latency, µs (integer)
--- ARGV[4] error text; "" = none
--- ARGV[5] alert failure threshold: consecutive failures that fire
--- ARGV[6] alert success threshold: consecutive successes that resolve
--- ARGV[7] remind every, ms; negative = never
--- ARGV[8] recent results kept (haderctl: 60)
--- ARGV[9] hours of counters kept (haderctl: 720)
--- ARGV[10] who: "<host>/<pid>", recorded in alerts
--- ARGV[11] service name, the {name} of KEYS
--- ARGV[12] clock override, Unix ms; "" = Redis TIME
--- reply: {action: "", fired, reminder or resolved; consecutive failures;
---   consecutive successes; now, Unix ms; alert since, Unix ms (0: none)}
-- recordScript stores one result and decides the alert. Only the caller
-- that gets an action sends it, so each alert goes out once.
local ST, HOURS, RECENT, ALERTS = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local ok = ARGV[1] == '1'
local code, us, err = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local FT, SUCC, remind = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local now = now_ms(ARGV[12])
local hour = math.floor(now / 3600000)
local s = redis.call('HMGET', ST, 'consecutive_failures', 'consecutive_successes', 'alert_open', 'alert_since', 'alert_notified', 'pruned_hour')
local cf, cs = tonumber(s[1]) or 0, tonumber(s[2]) or 0
local open, since, notified = s[3] == '1', tonumber(s[4]) or 0, tonumber(s[5]) or 0
if ok then cs = cs + 1; cf = 0 else cf = cf + 1; cs = 0 end
redis.call('HSET', ST, 'status', ok and 'healthy' or 'unhealthy', 'http_code', code, 'latency_us', us,
  'error', err, 'checked_at', now, 'consecutive_failures', cf, 'consecutive_successes', cs, 'name', ARGV[11])
redis.call('HINCRBY', HOURS, hour .. ':n', 1)
if ok then redis.call('HINCRBY', HOURS, hour .. ':ok', 1) end
redis.call('HINCRBY', HOURS, hour .. ':us', us)
if tonumber(s[6]) ~= hour then
  local keep = hour - tonumber(ARGV[9])
  for _, f in ipairs(redis.call('HKEYS', HOURS)) do
    local h = tonumber(string.match(f, '^(%d+):'))
    if not h or h <= keep then redis.call('HDEL', HOURS, f) end
  end
  redis.call('HSET', ST, 'pruned_hour', hour)
end
redis.call('LPUSH', RECENT, (ok and '1' or '0') .. ' ' .. string.format('%.1f', us / 1000) .. ' ' .. code .. ' ' .. now)
redis.call('LTRIM', RECENT, 0, tonumber(ARGV[8]) - 1)
local action = ''
if not open and not ok and cf >= FT then
  action = 'fired'; since = now
  redis.call('HSET', ST, 'alert_open', 1, 'alert_since', now, 'alert_notified', now)
elseif open and not ok and remind >= 0 and now - notified >= remind then
  action = 'reminder'
  redis.call('HSET', ST, 'alert_notified', now)
elseif open and ok and cs >= SUCC then
  action = 'resolved'
  redis.call('HSET', ST, 'alert_open', 0, 'alert_resolved', now)
end
if action ~= '' then
  redis.call('XADD', ALERTS, 'MAXLEN', '~', 500, '*', 'kind', action, 'at', now, 'since', since,
    'consecutive_failures', cf, 'error', err, 'by', ARGV[10])
end
return {action, cf, cs, now, since}
