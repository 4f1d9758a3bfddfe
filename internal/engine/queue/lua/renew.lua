--- internal/engine/queue/lua/renew.lua
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
