--- internal/engine/chaos/lua/prelude.lua
--- shared code: a script naming this file as its prelude runs as this file's text followed by its own
--- reads (every script built on it passes them):
--- KEYS[1] <ns>:{chaos}:state   the switch and halt latch HASH
--- KEYS[2] <ns>:{chaos}:active  experiments index ZSET: member id, score end (Unix ms)
--- KEYS[3] <ns>:{chaos}:starts  starts of the last hour ZSET: member id, score start (Unix ms)
--- KEYS[4] <ns>:{chaos}:audit   audit STREAM (capped at about 10000)
--- ARGV[1] who: the actor in the audit, "<user>@<host>" (haderctl adds " (<CI var>=<id>)" in CI)
--- ARGV[2] pub/sub channel: <ns>:chaos:changed
--- defines: STATE, ACTIVE, STARTS, AUDIT, who, channel, now (Redis TIME, Unix ms), checkTypes(), audit(), sweep()
-- sweep moves experiments whose end passed out of the index and audits
-- their expiry (their keys expired by TTL already); an expiry it cannot
-- audit stays in the index (the data planes ignore it: its key is gone). checkTypes fails the
-- script, before it writes anything, when one of the chaos keys holds
-- another type (a WRONGTYPE error, which no write may follow: Redis does
-- not roll back what a script wrote before an error).
local STATE, ACTIVE, STARTS, AUDIT = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local who, channel = ARGV[1], ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function checkTypes()
  for _, kt in ipairs({{STATE, 'hash'}, {ACTIVE, 'zset'}, {STARTS, 'zset'}, {AUDIT, 'stream'}}) do
    local got = redis.call('TYPE', kt[1]).ok
    if got ~= 'none' and got ~= kt[2] then
      return redis.error_reply('WRONGTYPE chaos key ' .. kt[1] .. ' holds a ' .. got .. ', not a ' .. kt[2] .. ': nothing was written')
    end
  end
end
local function audit(event, id, detail)
  redis.call('XADD', AUDIT, 'MAXLEN', '~', 10000, '*', 'event', event, 'id', id, 'by', who, 'detail', detail, 'at', now)
end
local function sweep()
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', ACTIVE, '-inf', now)) do
    -- the audit entry first: when Redis refuses it (full, or the audit
    -- key of another type) the expiries stay in the index for a later
    -- sweep, nothing is written, and the caller carries on
    local r = redis.pcall('XADD', AUDIT, 'MAXLEN', '~', 10000, '*', 'event', 'expired', 'id', id, 'by', who, 'detail', 'its duration ended', 'at', now)
    if type(r) == 'table' and r.err then return end
    redis.call('ZREM', ACTIVE, id)
  end
end
