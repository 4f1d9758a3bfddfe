--- internal/engine/chaos/lua/book.lua
--- prelude: prelude.lua
--- KEYS[1] <ns>:{chaos}:state   the switch and halt latch HASH
--- KEYS[2] <ns>:{chaos}:active  experiments index ZSET: member id, score end (Unix ms)
--- KEYS[3] <ns>:{chaos}:starts  starts of the last hour ZSET: member id, score start (Unix ms)
--- KEYS[4] <ns>:{chaos}:audit   audit STREAM (capped at about 10000)
--- ARGV[1] who: the actor in the audit, "<user>@<host>" (haderctl adds " (<CI var>=<id>)" in CI)
--- ARGV[2] pub/sub channel: <ns>:chaos:changed
--- ARGV[3] reason
--- ARGV[4] mode: "halt" (latch the halt: stop-all), "disable" (record who turned chaos off) or ""
--- ARGV[5] n: how many of ARGV[6..] were stopped
--- ARGV[6..] the ids end.lua stopped (n of them), then those it found expired
--- reply: {halt latched "1" or "0", warning...}: one warning per part not written
--- errors: none of its own: a part Redis refuses is a warning
-- bookScript writes a stop's bookkeeping after endScript has ended the
-- experiments. ARGV[3] reason, ARGV[4] "halt" (latch the halt: stop-all),
-- "disable" (record who turned chaos off) or "", ARGV[5] n, ARGV[6…5+n]
-- the ids that were stopped, the rest the ids that had expired; then it
-- sweeps the other experiments that ended. Reply: {halt latched "1"/"0", warnings…}: each part that
-- could not be written (out of memory, a key of the wrong type) is one
-- warning; the others are still written. It writes nothing before its
-- first command that needs memory, so at maxmemory Redis refuses each
-- part rather than letting the script grow past the limit.
local warnings = {}
local function try(what, ...)
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then
    warnings[#warnings + 1] = what .. ': ' .. r.err
    return false
  end
  return true
end
local function tryAudit(event, id, detail, what)
  return try(what or ('audit entry "' .. event .. ' ' .. id .. '" not written'), 'XADD', AUDIT, 'MAXLEN', '~', 10000, '*',
    'event', event, 'id', id, 'by', who, 'detail', detail, 'at', now)
end
local latched = '0'
if ARGV[4] == 'halt' then
  if try('halt not latched (new experiments are not refused until stop-all succeeds)', 'HSET', STATE, 'halted', 1, 'halted_by', who, 'halted_at', now, 'halt_reason', ARGV[3]) then
    latched = '1'
  end
  tryAudit('halted', '*', ARGV[3])
elseif ARGV[4] == 'disable' then
  try('who disabled chaos not recorded', 'HSET', STATE, 'enabled', 0, 'enabled_by', who, 'enabled_at', now)
  tryAudit('disabled', '*', '')
end
local n = tonumber(ARGV[5])
-- one warning for each lot: when one entry fails, the rest would too
local function auditAll(event, from, to, detail)
  for i = from, to do
    local what = nil
    if to > i then what = (to - i + 1) .. ' audit entries "' .. event .. '" not written' end
    if not tryAudit(event, ARGV[i], detail, what) then return end
  end
end
auditAll('stopped', 6, 5 + n, ARGV[3])
auditAll('expired', 6 + n, #ARGV, 'its duration ended')
-- a stop writes anyway: it also audits the other experiments that ended
sweep()
local reply = {latched}
for _, w in ipairs(warnings) do reply[#reply + 1] = w end
return reply
