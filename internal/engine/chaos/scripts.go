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

// startScript starts an experiment. KEYS[5] its key. ARGV[3] the
// experiment as JSON (start_ms and end_ms are added here, on Redis' clock),
// ARGV[4] duration ms, ARGV[5] max concurrent, ARGV[6] max per hour,
// ARGV[7] id, ARGV[8] ms from now until it starts (a scheduled phase;
// 0: now). The JSON has no start_ms/end_ms; they are appended. Reply:
// {"ok", experiment JSON} or {"refused", why} (a refusal stands even when
// its audit entry cannot be written); an error when a key has the wrong
// type or Redis is out of memory, with nothing written.
//
// Its first write is the audit entry: at maxmemory Redis refuses a
// script's first command that needs memory (XADD), but not the ones after
// a write, so nothing may be written before it. The limits are counted
// without writing (ZCOUNT) for that reason, expiries are swept after the
// start, and the experiment's key is written last: a start that fails
// leaves nothing running.
var startScript = luascript.Load(scripts, "start.lua")

// endScript ends experiments and nothing else. KEYS[1] state hash,
// KEYS[2] active index, KEYS[3…] the experiments' keys; ARGV[1] channel,
// ARGV[2] '1' to turn chaos off as well, ARGV[3…] the ids. Reply:
// {ids stopped, ids whose key had expired already (their end came
// before the stop), error turning chaos off or ""}; ids not in the index
// are in neither list.
//
// It uses only commands that free memory (DEL, ZREM, HDEL) or store
// nothing (PUBLISH), which Redis runs even at maxmemory with noeviction:
// an emergency stop must work when Redis is full. The bookkeeping
// (audit, halt latch) is bookScript's, run after. Turning chaos off is
// HDEL of "enabled" (the start script wants "1"), so it needs no memory
// either.
var endScript = luascript.Load(scripts, "end.lua")

// bookScript writes a stop's bookkeeping after endScript has ended the
// experiments. ARGV[3] reason, ARGV[4] "halt" (latch the halt: stop-all),
// "disable" (record who turned chaos off) or "", ARGV[5] n, ARGV[6…5+n]
// the ids that were stopped, the rest the ids that had expired; then it
// sweeps the other experiments that ended. Reply: {halt latched "1"/"0", warnings…}: each part that
// could not be written (out of memory, a key of the wrong type) is one
// warning; the others are still written. It writes nothing before its
// first command that needs memory, so at maxmemory Redis refuses each
// part rather than letting the script grow past the limit.
var bookScript = luascript.Load(scripts, "book.lua")

// switchScript sets the enable switch or clears the halt latch. ARGV[3]
// field, ARGV[4] value ('1' or '0'), ARGV[5] audit event. Reply: "ok";
// a WRONGTYPE error, with nothing written, when a chaos key holds
// another type. It writes anyway, so it sweeps the experiments that
// ended too.
var switchScript = luascript.Load(scripts, "switch.lua")

// sweepScript audits expiries alone (Sweep: the data planes' tick, and the
// audit's readers); the readers of experiments and state never run it.
var sweepScript = luascript.Load(scripts, "sweep.lua")
