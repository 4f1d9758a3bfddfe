--- internal/engine/queue/lua/renew.lua
--- KEYS[1] <ns>:queue:{name}:leased  ZSET of ids, score lease deadline Unix ms
--- KEYS[2] <ns>:queue:{name}:lease   HASH id -> fencing token
--- ARGV[1] lease, ms from now (Redis TIME)
--- ARGV[2..] pairs: id, token
--- reply: array of the ids whose lease was lost
-- renewScript extends the leases still held. KEYS: leased, lease. ARGV:
-- lease ms, then id, token pairs. Reply: the ids whose lease was lost.
local LEASED, LEASE = KEYS[1], KEYS[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = now + tonumber(ARGV[1])
local lost = {}
for a = 2, #ARGV, 2 do
  local id, token = ARGV[a], ARGV[a+1]
  if redis.call('HGET', LEASE, id) == token and redis.call('ZSCORE', LEASED, id) then
    redis.call('ZADD', LEASED, 'XX', deadline, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
