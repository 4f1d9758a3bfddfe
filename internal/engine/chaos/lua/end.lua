--- internal/engine/chaos/lua/end.lua
--- KEYS[1] <ns>:{chaos}:state   the switch HASH
--- KEYS[2] <ns>:{chaos}:active  experiments index ZSET
--- KEYS[3..] <ns>:{chaos}:exp:<id>  one per id, in the order of ARGV[3..]
--- ARGV[1] pub/sub channel: <ns>:chaos:changed
--- ARGV[2] "1" = also turn chaos off (HDEL enabled); "0" = not
--- ARGV[3..] the experiment ids to end, one per KEYS[3..]
--- reply: {ids stopped (array), ids whose key had expired already (array),
---   error turning chaos off or ""}; an id not in the index is in neither
--- errors: none of its own (it frees memory only: it runs at maxmemory)
-- endScript ends experiments and nothing else. KEYS[1] state hash,
-- KEYS[2] active index, KEYS[3…] the experiments' keys; ARGV[1] channel,
-- ARGV[2] '1' to turn chaos off as well, ARGV[3…] the ids. Reply:
-- {ids stopped, ids whose key had expired already (their end came
-- before the stop), error turning chaos off or ""}; ids not in the index
-- are in neither list.
--
-- It uses only commands that free memory (DEL, ZREM, HDEL) or store
-- nothing (PUBLISH), which Redis runs even at maxmemory with noeviction:
-- an emergency stop must work when Redis is full. The bookkeeping
-- (audit, halt latch) is bookScript's, run after. Turning chaos off is
-- HDEL of "enabled" (the start script wants "1"), so it needs no memory
-- either.
local stopped, expired = {}, {}
for i = 3, #ARGV do
  local existed = redis.call('DEL', KEYS[i]) == 1
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    if existed then
      stopped[#stopped + 1] = ARGV[i]
    else
      expired[#expired + 1] = ARGV[i]
    end
  end
end
local off = ''
if ARGV[2] == '1' then
  local r = redis.pcall('HDEL', KEYS[1], 'enabled')
  if type(r) == 'table' and r.err then off = r.err end
end
redis.call('PUBLISH', ARGV[1], 'stopped')
return {stopped, expired, off}
