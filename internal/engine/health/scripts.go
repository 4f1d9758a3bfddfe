package health

import (
	"embed"

	"github.com/haderos/haderctl/internal/engine/luascript"
)

// scripts are this part's Lua files, one per script (docs/redis-schema.md,
// "The scripts").
//
//go:embed lua/*.lua
var scripts embed.FS

// slotScript is the probe lock of one interval (Acquire): lua/slot.lua.
var slotScript = luascript.Load(scripts, "slot.lua")

// recordScript stores one result and decides the alert (record): lua/record.lua.
var recordScript = luascript.Load(scripts, "record.lua")
