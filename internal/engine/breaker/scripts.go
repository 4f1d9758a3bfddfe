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

// acquireScript asks to make a call. ARGV[11] is the probe token to lease
// if the breaker is HALF_OPEN. Verdicts: allow (CLOSED or DISABLED: the
// caller reports only what can change something), probe (a HALF_OPEN slot
// is leased to the token), reject (OPEN, FORCED_OPEN, or no probe slot).
// A HALF_OPEN breaker whose successes already meet its success threshold
// (lowered since) closes here, and the call is allowed.
var acquireScript = luascript.Load(scripts, "acquire.lua")

// recordScript reports the outcome of a call. ARGV[11] is success, failure
// or release (give a probe slot back without an outcome); ARGV[12] the
// generation the call was admitted in ("" for an untracked report, e.g.
// from another language's service or the CLI); ARGV[13] the probe token
// ("" if none). A result from an older generation is discarded: stale.
// An untracked outcome on an OPEN breaker past its recovery time is a
// probe's: the breaker goes HALF_OPEN and the outcome counts there (a
// success towards closing, a failure reopens it).
//
// With min_reporters above 1 a failure on a CLOSED breaker also records
// who's reporter in the reporters set, and the breaker opens only when the
// failures meet the threshold and at least min_reporters distinct
// processes failed within the window; otherwise the failures keep
// counting. A success that clears the failures clears the reporters too:
// they are those of the current run of failures. A failing probe reopens
// a HALF_OPEN breaker whatever the reporters.
var recordScript = luascript.Load(scripts, "record.lua")

// renewScript extends a live probe's lease while its call is still running,
// so a long call keeps its slot (the lease is for probes whose process
// died). ARGV[11] is the probe token. Returns the lease in force in ms if
// renewed (the renewer ticks every third of it, so a lease lowered by
// `breaker configure` mid-probe is followed), 0 if the probe is gone (its
// lease expired or the breaker changed state).
var renewScript = luascript.Load(scripts, "renew.lua")

// setScript is an operator override. ARGV[11] is the target state (closed,
// forced_open or disabled), ARGV[12] the reason. It clears the counts,
// bumps the generation (so results of calls admitted before are discarded)
// and always records an event, even when the state does not change, so the
// reason is on record. It repairs a corrupt breaker: a key of the wrong
// type is deleted, a bad setting takes the caller's value. The reporters
// set goes with the transition, whatever its type.
var setScript = luascript.Load(scripts, "set.lua")

// configureScript changes the settings a breaker runs with: the audited
// action behind `breaker configure` and `breaker apply`. ARGV[11..15] are
// the new failure_threshold, success_threshold, recovery_timeout_ms,
// max_probes and probe_lease_ms, ARGV[18..19] the new min_reporters and
// reporter_window_ms ("" or absent leaves one as it is; the caller has
// checked each is in range), ARGV[16] the reason, ARGV[17] the action
// (configure or apply). The state, counts and generation stay as they are.
// Verdicts: ok (the event, with its action and its changes as a JSON array
// of {field, from, to}, from absent when none was stored, is appended and
// published), unchanged (nothing written). The result must keep max_probes
// at least success_threshold, or it fails with an error starting "INVALID".
var configureScript = luascript.Load(scripts, "configure.lua")

// fallbackScript records that this process ran the breaker on its
// in-memory fallback during an outage that has ended. KEYS[1..4] and
// ARGV[1..10] as every script (the hash is read, never written), KEYS[5]
// the fallbacks ZSET <ns>:breaker:{name}:fallbacks. ARGV[11] and ARGV[12]
// are the outage's start and end in Unix ms on the process' clock,
// ARGV[13] the calls the in-memory breaker answered or counted, ARGV[14]
// the window in ms, ARGV[15] the reason. It adds who's reporter to the set
// with score now, trims the set to the window (also its TTL) and appends
// and publishes an event with action "fallback", the state unchanged.
// Verdict ok; a corrupt breaker or a fallbacks key of another type is an
// error (nothing written for the latter).
var fallbackScript = luascript.Load(scripts, "fallback.lua")
