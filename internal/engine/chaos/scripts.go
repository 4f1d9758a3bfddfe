package chaos

import (
	"embed"

	"github.com/haderos/haderctl/internal/engine/luascript"
)

// scripts are this part's Lua files, one per script (docs/redis-schema.md,
// "The scripts").
//
//go:embed lua/*.lua
var scripts embed.FS

// startScript starts an experiment (Start): lua/start.lua.
var startScript = luascript.Load(scripts, "start.lua")

// endScript ends experiments and nothing else, so it runs at maxmemory; bookScript
// writes the bookkeeping after it: lua/end.lua.
var endScript = luascript.Load(scripts, "end.lua")

// bookScript writes a stop's audit and halt latch after endScript: lua/book.lua.
var bookScript = luascript.Load(scripts, "book.lua")

// switchScript sets the enable switch or clears the halt latch: lua/switch.lua.
var switchScript = luascript.Load(scripts, "switch.lua")

// sweepScript audits expiries alone (Sweep); readers never run it: lua/sweep.lua.
var sweepScript = luascript.Load(scripts, "sweep.lua")
