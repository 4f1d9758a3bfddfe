package queue

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// upgradeScript moves operations of the schema-1 layout (a control entry
// "<score> <attempts> <max> <service>" in <queue>:ctl and a hash per
// operation, <queue>:op:<id>) into the ops hash. KEYS: ops, ctl, then the
// hash of each id in ARGV. An operation whose old hash is gone or damaged
// gets an entry that says so, which a drain moves to dead with the reason:
// nothing is dropped silently. Reply: how many were moved.
var upgradeScript = redis.NewScript(`
local OPS, CTL = KEYS[1], KEYS[2]
local moved = 0
for i, id in ipairs(ARGV) do
  local ctl = redis.call('HGET', CTL, id)
  local h = {}
  if redis.call('TYPE', KEYS[2 + i]).ok == 'hash' then
    local kv = redis.call('HGETALL', KEYS[2 + i])
    for j = 1, #kv, 2 do h[kv[j]] = kv[j + 1] end
  end
  local e
  if ctl and string.match(ctl, '^%d+ %d+ %d+ %S+$') and h.operation and h.data then
    local m = {operation = h.operation}
    if h.error and h.error ~= '' then m.error = h.error end
    if h.method and h.method ~= '' then
      m.request = {method = h.method, url = h.url or ''}
      if h.headers and h.headers ~= '' then
        local ok, hs = pcall(cjson.decode, h.headers)
        if ok and type(hs) == 'table' and next(hs) ~= nil then m.request.headers = hs end
      end
    end
    e = ctl .. '\n' .. cjson.encode(m) .. '\n' .. h.data
  else
    e = 'unreadable after the upgrade from schema 1 (control entry or operation hash missing)'
  end
  redis.call('HSET', OPS, id, e)
  redis.call('HDEL', CTL, id)
  redis.call('DEL', KEYS[2 + i])
  moved = moved + 1
end
return moved
`)

// Upgrade moves every known queue's operations from the schema-1 layout
// to this one (docs/redis-schema.md, Compatibility). It is safe to run
// again and while nothing else drains: it returns how many it moved.
func (c *Client) Upgrade(ctx context.Context) (int, error) {
	names, err := c.Known(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, q := range names {
		ctl := c.keys.Queue(q) + ":ctl"
		for {
			ids, _, err := c.rdb.HScan(ctx, ctl, 0, "", 200).Result()
			if err != nil {
				return total, err
			}
			if len(ids) == 0 {
				break
			}
			var batch []any
			keys := []string{c.keys.QueueOps(q), ctl}
			for i := 0; i+1 < len(ids); i += 2 {
				batch = append(batch, ids[i])
				keys = append(keys, c.keys.Queue(q)+":op:"+ids[i])
			}
			n, err := upgradeScript.Run(ctx, c.rdb, keys, batch...).Int()
			if err != nil {
				return total, fmt.Errorf("upgrading queue %s: %w", q, err)
			}
			total += n
		}
	}
	return total, nil
}
