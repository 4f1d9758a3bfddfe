package breaker

import (
	"embed"

	"github.com/haderos/haderctl/internal/engine/luascript"
)

// scripts are this part's Lua files, one per script (docs/redis-schema.md,
// "The scripts").
//
//go:embed lua/*.lua
var scripts embed.FS

// acquireScript asks to make a call (allow, probe or reject): lua/acquire.lua.
var acquireScript = luascript.Load(scripts, "acquire.lua")

// recordScript reports a call's outcome, tracked or untracked: lua/record.lua.
var recordScript = luascript.Load(scripts, "record.lua")

// renewScript extends a live probe's lease (keepProbe): lua/renew.lua.
var renewScript = luascript.Load(scripts, "renew.lua")

// setScript is the operator override (reset, trip, disable, enable): lua/set.lua.
var setScript = luascript.Load(scripts, "set.lua")

// configureScript changes the stored settings (Configure): lua/configure.lua.
var configureScript = luascript.Load(scripts, "configure.lua")

// fallbackScript reports a run on the in-memory fallback (reportFallbacks; run adds
// KEYS[5], the fallbacks ZSET): lua/fallback.lua.
var fallbackScript = luascript.Load(scripts, "fallback.lua")
