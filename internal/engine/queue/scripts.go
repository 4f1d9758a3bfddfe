package queue

import (
	"embed"

	"github.com/haderos/haderctl/internal/engine/luascript"
)

// scripts are this part's Lua files, one per script (docs/redis-schema.md,
// "The scripts").
//
//go:embed lua/*.lua
var scripts embed.FS

// enqueueScript adds operations, with enqueueKeys: lua/enqueue.lua.
var enqueueScript = luascript.Load(scripts, "enqueue.lua")

// enqueueOneScript enqueues one operation, with enqueueKeys[1:3]; a 0 reply is
// followed by enqueueScript (pushOne): lua/enqueue_one.lua.
var enqueueOneScript = luascript.Load(scripts, "enqueue_one.lua")

// claimScript reaps, promotes and leases ready operations: lua/claim.lua.
var claimScript = luascript.Load(scripts, "claim.lua")

// settleScript records the outcomes of claimed operations: lua/settle.lua.
var settleScript = luascript.Load(scripts, "settle.lua")

// renewScript extends the leases a drainer still holds: lua/renew.lua.
var renewScript = luascript.Load(scripts, "renew.lua")

// retryScript moves dead operations back to ready: lua/retry.lua.
var retryScript = luascript.Load(scripts, "retry.lua")

// removeDeadScript deletes dead operations (purge, the dead caps): lua/remove_dead.lua.
var removeDeadScript = luascript.Load(scripts, "remove_dead.lua")
