--- internal/engine/queue/lua/upgrade.lua
--- KEYS[1] <ns>:queue:{name}:ops       HASH id -> entry (schema 2+)
--- KEYS[2] <ns>:queue:{name}:ctl       schema-1 control HASH: id -> "<score> <attempts> <max> <service>"
--- KEYS[3..] <ns>:queue:{name}:op:<id>  schema-1 operation HASH, one per ARGV id, same order
--- ARGV[1..] the ids to move
--- reply: integer: how many were moved
--- writes also: <ns>:queue:{name}:op:<id>:v1 (a damaged old hash, renamed; same slot)
-- upgradeScript moves operations of the schema-1 layout (a control entry
-- "<score> <attempts> <max> <service>" in <queue>:ctl and a hash per
-- operation, <queue>:op:<id>) into the ops hash. KEYS: ops, ctl, then the
-- hash of each id in ARGV. An id no longer in ctl was moved by another
-- upgrader and is left alone. An operation whose old hash is gone or
-- damaged gets an entry whose meta line says so: a drain moves it to dead
-- with that reason, and its old hash, if any, is kept under
-- <queue>:op:<id>:v1 for a person to read. Reply: how many were moved.
local OPS, CTL = KEYS[1], KEYS[2]
local moved = 0
for i, id in ipairs(ARGV) do
  local ctl = redis.call('HGET', CTL, id)
  if ctl then
    local h = {}
    local isHash = redis.call('TYPE', KEYS[2 + i]).ok == 'hash'
    if isHash then
      local kv = redis.call('HGETALL', KEYS[2 + i])
      for j = 1, #kv, 2 do h[kv[j]] = kv[j + 1] end
    end
    local good = string.match(ctl, '^%d+ %d+ %d+ %S+$') and h.operation and h.data
    local m = {operation = h.operation or '?'}
    if h.error and h.error ~= '' then m.error = h.error end
    if good and h.method and h.method ~= '' then
      m.request = {method = h.method, url = h.url or ''}
      if h.headers and h.headers ~= '' then
        local ok, hs = pcall(cjson.decode, h.headers)
        if ok and type(hs) == 'table' then
          if next(hs) ~= nil then m.request.headers = hs end
        else
          good = false
        end
      end
    end
    local e
    if good then
      e = ctl .. '\n' .. cjson.encode(m) .. '\n' .. h.data
      redis.call('DEL', KEYS[2 + i])
    else
      -- a readable control line and a meta line with no operation name:
      -- the drain buries it with this reason
      local line = string.match(ctl, '^%d+ %d+ %d+ %S+$') and ctl or '20000000000000 0 1 unknown'
      local why = 'unreadable after the upgrade from schema 1: its operation hash was gone'
      if redis.call('EXISTS', KEYS[2 + i]) == 1 then
        redis.call('RENAME', KEYS[2 + i], KEYS[2 + i] .. ':v1')
        why = 'unreadable after the upgrade from schema 1: see the key ' .. KEYS[2 + i] .. ':v1'
      end
      e = line .. '\n' .. cjson.encode({error = why}) .. '\nnull'
    end
    redis.call('HSET', OPS, id, e)
    redis.call('HDEL', CTL, id)
    moved = moved + 1
  end
end
return moved
