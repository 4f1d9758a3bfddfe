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

// slotScript is the probe lock. KEYS[1] the service's slot key. ARGV:
// interval ms, now ms (” for Redis' clock). The interval slot is
// floor(now / interval); the first watcher to ask in a slot gets it.
// Reply: {1 if this caller probes, now ms}.
var slotScript = luascript.Load(scripts, "slot.lua")

// recordScript stores one result and decides the alert.
//
//	KEYS[1] state hash  KEYS[2] hours hash  KEYS[3] recent list  KEYS[4] alerts stream
//	ARGV: ok (1|0), HTTP code, latency µs, error, failure threshold,
//	      success threshold, remind ms (<0: never), recent max, hours kept,
//	      who (host/pid), service name, now ms ('' for Redis' clock)
//
// Reply: {action (” | fired | reminder | resolved), consecutive failures,
// consecutive successes, now ms, alert since ms}. Only the caller that
// gets an action sends it, so each alert goes out once.
var recordScript = luascript.Load(scripts, "record.lua")
