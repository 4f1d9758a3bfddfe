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

// enqueueScript adds operations. KEYS (enqueueKeys): queue hash, ready,
// ops, and for the state of a duplicate delayed, leased, dead.
// ARGV: now ms (the pushing client's clock), retention ms, then per
// operation: id, ready score, entry (built by the client). Reply per
// operation: "new" or "dup:<state>". An id completed within the retention
// is a duplicate too. It runs no TIME and no string work: an enqueue is
// the one Redis call on a caller's failure path.
var enqueueScript = luascript.Load(scripts, "enqueue.lua")

// enqueueOneScript enqueues one operation (a push from a failing caller,
// the common case) with as little as Redis must do: no counter (Stats
// derives how many were enqueued). KEYS: ready, ops; ARGV: id, ready
// score, entry. Reply 1, or 0 for a duplicate with nothing changed
// (enqueueScript then tells its state).
var enqueueOneScript = luascript.Load(scripts, "enqueue_one.lua")

// claimScript reaps expired leases and due retries, then leases up to n
// ready operations under one fencing token. ARGV: n, lease ms, service
// filter (empty: any), scan limit (with a filter), owner (the drainer's
// id: the token is "<seq>@<owner>", so a drainer whose claim reply was
// lost can find what it was given), max stalls, the largest an entry can
// be (max_data_bytes plus room for its request: it sizes the reads under
// the byte budget). Reply: {status, now, deadline, token,
// reaped to ready, promoted, {id, why, attempts} of each operation
// buried here, {id, entry} of each claimed operation}. An expired lease
// is a stall, not an attempt (a crashed drainer's prefetched operations
// were never tried); an operation that stalls more than max stalls times
// ends dead instead of looping.
var claimScript = luascript.Load(scripts, "claim.lua")

// settleScript records the outcomes of claimed operations. ARGV:
// retention ms, backoff base ms, factor, cap ms, the number of done
// outcomes, then per done outcome: id, token, first-failed ms (followed
// by ":<attempts>" if it had failed attempts); then per other outcome: id, token,
// kind (retry|dead|defer|release), x, text. For retry x is the jitter
// fraction in [0,1); for defer the delay in ms. An outcome whose token is
// not the current lease's is ignored ("stale"): another drainer owns the
// operation now. Reply per outcome, in that order: "done",
// "retry:<due ms>", "dead", "defer:<due ms>", "release" or "stale".
var settleScript = luascript.Load(scripts, "settle.lua")

// renewScript extends the leases still held. KEYS: leased, lease. ARGV:
// lease ms, then id, token pairs. Reply: the ids whose lease was lost.
var renewScript = luascript.Load(scripts, "renew.lua")

// retryScript moves dead operations back to ready with their attempts
// and stalls reset (and the death reason cleared). ARGV: 'all' for every
// dead operation, or 'ids' and the ids. Reply: {moved,
// ids not dead, ids dead but whose entry is corrupt (they stay dead)}.
var retryScript = luascript.Load(scripts, "retry.lua")

// removeDeadScript deletes dead operations for good (purge, or the dead
// set's size and age caps). ARGV: counter to bump ('purged' or
// 'dead_trimmed'), then the ids. Only ids still dead are removed. Reply:
// how many were.
var removeDeadScript = luascript.Load(scripts, "remove_dead.lua")
