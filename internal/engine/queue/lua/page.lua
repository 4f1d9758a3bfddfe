--- internal/engine/queue/lua/page.lua
--- KEYS[1] <ns>:queue:{name}:ready  a state's ZSET (or :delayed, :leased, :dead)
--- ARGV[1] the cursor's score ("" with ARGV[2] "")
--- ARGV[2] the cursor's member; "" = start at the top
--- ARGV[3] how many members to return
--- reply: flat {member, score, member, score, ...}, up to ARGV[3] members after the cursor
-- pageScript reads one page of a state's ZSET after a cursor, in the
-- set's own order (score, then member bytes), so a page starts where the
-- last one ended even when operations left or joined the set in between:
-- nothing is skipped or repeated that stayed in place, and there is no
-- cap on how deep one can page (asynq's dash stops at 9,999).
--
-- When the cursor's member is still in the set
-- with that score, the page starts at its rank + 1; when it left (retried,
-- purged, claimed) or moved, at the position it would have: the members
-- with a lower score, then those of equal score ordered before it. Ties
-- are compared byte by byte (as Redis orders them), not with Lua's <,
-- which follows the server's locale.
local Z, score, member, n = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local function before(a, b)
  local la, lb = #a, #b
  for i = 1, math.min(la, lb) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return la < lb
end
local start = 0
if member ~= '' then
  local s = redis.call('ZSCORE', Z, member)
  if s and tonumber(s) == tonumber(score) then
    start = redis.call('ZRANK', Z, member) + 1
  else
    start = redis.call('ZCOUNT', Z, '-inf', '(' .. score)
    local off, chunk, done = 0, 256, false
    while not done do
      local ties = redis.call('ZRANGEBYSCORE', Z, score, score, 'LIMIT', off, chunk)
      for _, m in ipairs(ties) do
        if not before(m, member) then done = true break end
        start = start + 1
      end
      if #ties < chunk then done = true end
      off = off + chunk
    end
  end
end
return redis.call('ZRANGE', Z, start, start + n - 1, 'WITHSCORES')
