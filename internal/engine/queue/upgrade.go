package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/haderos/haderctl/internal/engine/luascript"
	"github.com/redis/go-redis/v9"
)

// upgradeScript moves schema-1 operations into the ops hash: lua/upgrade.lua.
var upgradeScript = luascript.Load(scripts, "upgrade.lua")

// markScript records the new schema version after Upgrade: lua/mark.lua.
var markScript = luascript.Load(scripts, "mark.lua")

// unlockScript deletes the upgrade lock if this process holds it: lua/unlock.lua.
var unlockScript = luascript.Load(scripts, "unlock.lua")

// upgradeLockTTL is how long the upgrade lock outlives its holder's last
// sign of life: a killed upgrader delays the others this long at most.
const upgradeLockTTL = 30 * time.Second

// Upgrade moves every known queue's operations from the schema-1 layout
// to this one (docs/redis-schema.md, Compatibility), then records schema
// version `to`. One process does it under a lock (one key at a time, so
// it works on Redis Cluster too); others wait for it, and take over if it
// dies. It returns how many operations this process moved.
func (c *Client) Upgrade(ctx context.Context, to int) (int, error) {
	lock, me := c.keys.Schema()+":upgrading", newID()
	for {
		ok, err := c.rdb.SetNX(ctx, lock, me, upgradeLockTTL).Result()
		if err != nil {
			return 0, err
		}
		if ok {
			break
		}
		// another process upgrades: wait for it to finish (or die)
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("waiting for another haderctl to upgrade the namespace's Redis schema: %w", ctx.Err())
		case <-t.C:
		}
		v, err := c.rdb.Get(ctx, c.keys.Schema()).Int()
		if err != nil && !errors.Is(err, redis.Nil) {
			return 0, err
		}
		if v >= to {
			return 0, nil
		}
	}
	defer unlockScript.Run(context.WithoutCancel(ctx), c.rdb, []string{lock}, me)
	total := 0
	names, err := c.Known(ctx)
	for _, q := range names {
		if err != nil {
			break
		}
		var n int
		n, err = c.upgradeQueue(ctx, q, func() { c.rdb.Expire(ctx, lock, upgradeLockTTL) })
		total += n
	}
	if err != nil {
		return total, err
	}
	return total, markScript.Run(ctx, c.rdb, []string{c.keys.Schema()}, 1, to).Err()
}

// upgradeQueue moves one queue's operations, 200 at a time, until its ctl
// hash is empty (HSCAN may return empty pages before the end: it is
// followed to cursor 0, again, until nothing is left). alive is called
// after each batch.
func (c *Client) upgradeQueue(ctx context.Context, q string, alive func()) (int, error) {
	ctl := c.keys.Queue(q) + ":ctl"
	total := 0
	for {
		left, err := c.rdb.HLen(ctx, ctl).Result()
		if err != nil || left == 0 {
			return total, err
		}
		var cursor uint64
		for {
			var ids []string
			ids, cursor, err = c.rdb.HScan(ctx, ctl, cursor, "", 200).Result()
			if err != nil {
				return total, err
			}
			if len(ids) > 0 {
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
				alive()
			}
			if cursor == 0 {
				break
			}
		}
	}
}
