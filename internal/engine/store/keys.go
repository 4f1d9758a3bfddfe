package store

import (
	"fmt"
	"strings"
)

// Keys builds every Redis key and channel name of one namespace. Each
// breaker's keys share the hash tag {<name>}, so a script that touches a
// breaker's hash, probe set and event stream stays in one Cluster slot.
// docs/redis-schema.md is the reference for other languages; keys_test.go
// pins every builder to it (the exact key, the Redis type TypeOf names and
// the hash tag that keeps a part's script keys in one slot) and fails when
// a builder is added without a row.
type Keys struct {
	// Namespace prefixes every key, e.g. "hader".
	Namespace string
}

// Schema is a STRING holding the schema version of the namespace.
func (k Keys) Schema() string { return k.Namespace + ":schema" }

// Breakers is a SET of every breaker name the namespace has seen.
func (k Keys) Breakers() string { return k.Namespace + ":breakers" }

// Breaker is a HASH with one breaker's state (fields in docs/redis-schema.md).
func (k Keys) Breaker(name string) string { return k.Namespace + ":breaker:{" + name + "}" }

// BreakerProbes is a ZSET of the half-open probes in flight: member the
// probe token, score its lease deadline in Unix milliseconds.
func (k Keys) BreakerProbes(name string) string { return k.Breaker(name) + ":probes" }

// BreakerEvents is a STREAM (capped) of the breaker's transitions.
func (k Keys) BreakerEvents(name string) string { return k.Breaker(name) + ":events" }

// BreakerReporters is a ZSET of the processes that reported the breaker's
// current run of failures: member a process' reporter id, score the Redis
// time in Unix ms of its last failure. Written only with min_reporters
// above 1; trimmed to the reporter window on every write, which is also
// its TTL.
func (k Keys) BreakerReporters(name string) string { return k.Breaker(name) + ":reporters" }

// BreakerFallbacks is a ZSET of the processes that ran the breaker on
// their in-memory fallback (Redis unreachable from them) and reported it
// once back: member a process' reporter id, score the Redis time in Unix
// ms of its report. Trimmed to the fallback window (10 minutes) on every
// write, which is also its TTL.
func (k Keys) BreakerFallbacks(name string) string { return k.Breaker(name) + ":fallbacks" }

// BreakerChannel is the pub/sub channel every breaker transition is
// published on, as JSON (the same fields as an event stream entry).
func (k Keys) BreakerChannel() string { return k.Namespace + ":breaker:transitions" }

// validKey checks s is 1..max bytes of letters, digits and the extra
// punctuation, starting with a letter or digit. A loop, not a regexp: it
// runs on every breaker call.
func validKey(s string, max int, extra string) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !containsByte(extra, c)) {
			return false
		}
	}
	return true
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// NameError is an invalid name or namespace (bad input: exit code 2).
type NameError struct{ Msg string }

func (e *NameError) Error() string { return e.Msg }

// ValidName checks a breaker, service or queue name. Names go into keys, so
// braces (hash tags), spaces and control characters are refused.
func ValidName(kind, name string) error {
	if !validKey(name, 128, "_.-") {
		return &NameError{fmt.Sprintf("invalid %s name %q: use 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit", kind, name)}
	}
	return nil
}

// ValidNamespace checks a namespace.
func ValidNamespace(ns string) error {
	if !validKey(ns, 64, "_.:-") {
		return &NameError{fmt.Sprintf("invalid namespace %q: use 1-64 letters, digits, '_', '.', ':' or '-'", ns)}
	}
	return nil
}

// Queues is a SET of every queue name the namespace has seen.
func (k Keys) Queues() string { return k.Namespace + ":queues" }

// Queue is a HASH with one queue's counters, pause flag and claim sequence.
// Every key of the queue shares its hash tag {<name>}, so each queue
// script stays in one Cluster slot.
func (k Keys) Queue(name string) string { return k.Namespace + ":queue:{" + name + "}" }

// QueueReady is a ZSET of ready operation ids, scored priority rank × 1e13
// + first-failed Unix ms: the lowest score (highest priority, oldest) is
// claimed first.
func (k Keys) QueueReady(name string) string { return k.Queue(name) + ":ready" }

// QueueDelayed is a ZSET of operations waiting for a retry, scored by the
// Unix ms they become ready.
func (k Keys) QueueDelayed(name string) string { return k.Queue(name) + ":delayed" }

// QueueLeased is a ZSET of claimed operations, scored by lease deadline
// (Unix ms).
func (k Keys) QueueLeased(name string) string { return k.Queue(name) + ":leased" }

// QueueDead is a ZSET of dead operations, scored by when they died (Unix ms).
func (k Keys) QueueDead(name string) string { return k.Queue(name) + ":dead" }

// QueueOps is a HASH, operation id → "<ready score> <attempts> <max
// attempts> <service>\n<operation JSON>", for every operation not yet
// completed (docs/redis-schema.md).
func (k Keys) QueueOps(name string) string { return k.Queue(name) + ":ops" }

// QueueLeases is a HASH, operation id → fencing token of its current lease.
func (k Keys) QueueLeases(name string) string { return k.Queue(name) + ":lease" }

// QueueErrors is a HASH, operation id → the last error of its replays.
func (k Keys) QueueErrors(name string) string { return k.Queue(name) + ":errors" }

// QueueDone is a LIST, the log of completions: a marker "@ <Unix ms>", then
// the ids completed then; it deletes completed entries from QueueOps once
// the retention (the deduplication window) has passed.
func (k Keys) QueueDone(name string) string { return k.Queue(name) + ":done" }

// HealthServices is a HASH of services registered at run time for health
// checks: name → the check as JSON (services from the config file are not
// stored).
func (k Keys) HealthServices() string { return k.Namespace + ":health:services" }

// Health is a HASH with a service's last check and alert state. Every key
// of one service's health shares the hash tag {<name>}.
func (k Keys) Health(name string) string { return k.Namespace + ":health:{" + name + "}" }

// HealthSlot is a STRING holding the last interval slot in which some
// watcher probed the service: the lock that makes several watchers probe
// it once per interval between them.
func (k Keys) HealthSlot(name string) string { return k.Health(name) + ":slot" }

// HealthHours is a HASH of hourly counters: "<hour>:n" checks, "<hour>:ok"
// successes, "<hour>:us" total latency in µs, hour = Unix ms / 3,600,000.
func (k Keys) HealthHours(name string) string { return k.Health(name) + ":hours" }

// HealthRecent is a LIST of the latest results, newest first:
// "<1|0> <latency ms> <HTTP code> <Unix ms>".
func (k Keys) HealthRecent(name string) string { return k.Health(name) + ":recent" }

// HealthAlerts is a STREAM (capped) of the service's alerts: fired,
// reminder, resolved.
func (k Keys) HealthAlerts(name string) string { return k.Health(name) + ":alerts" }

// Chaos keys share the hash tag {chaos}, so the start script can check
// the switch, the limits and the index atomically in one slot.

// ChaosState is a HASH: enabled, enabled_by, halted, halted_by,
// halted_at, halt_reason.
func (k Keys) ChaosState() string { return k.Namespace + ":{chaos}:state" }

// ChaosExperiment is a STRING holding an experiment as JSON, with a TTL
// equal to its remaining duration: it ends on time even if every process
// dies.
func (k Keys) ChaosExperiment(id string) string { return k.Namespace + ":{chaos}:exp:" + id }

// ChaosActive is a ZSET index of experiments: member id, score end (Unix ms).
func (k Keys) ChaosActive() string { return k.Namespace + ":{chaos}:active" }

// ChaosStarts is a ZSET of experiment starts in the last hour (rate limit):
// member id, score start (Unix ms).
func (k Keys) ChaosStarts() string { return k.Namespace + ":{chaos}:starts" }

// ChaosAudit is a STREAM (capped) of every start, stop, expiry and refusal.
func (k Keys) ChaosAudit() string { return k.Namespace + ":{chaos}:audit" }

// ChaosChannel is the pub/sub channel that tells data planes to re-read
// the active experiments at once.
func (k Keys) ChaosChannel() string { return k.Namespace + ":chaos:changed" }

// ChaosImpact is a HASH of calls counted by data planes: for an experiment
// id, the calls it affected; for "baseline:<service>", the service's calls
// no experiment touched (last hour). Fields: calls, errors, latency_us.
func (k Keys) ChaosImpact(key string) string { return k.Namespace + ":{chaos}:impact:" + key }

// Gateway keys are one per Idempotency-Key or operation id, each its own
// hash tag: no script takes two of them, and a tag of its own spreads
// them over a Cluster's slots.

// GatewayIdempotency is a STRING holding one Idempotency-Key's record as
// JSON (fingerprint, state, owner, the answer kept for a retry), with a
// TTL: the in-flight bound while the first request runs, then how long
// the answer is kept (docs/gateway.md, Queued writes).
func (k Keys) GatewayIdempotency(key string) string {
	return k.Namespace + ":gateway:idem:{" + key + "}"
}

// GatewayOperation is a STRING naming the queue that holds an operation
// the gateway queued, so GET /api/v1/integrations/queue/operations/{id}
// finds it in one read; its TTL outlasts the operation's likely life, and
// a reader that misses it looks through every queue.
func (k Keys) GatewayOperation(id string) string {
	return k.Namespace + ":gateway:op:{" + id + "}"
}

// GatewayTraffic is a HASH of the gateway's traffic in one 10-second
// bucket (bucket = Unix seconds / 10 on Redis' clock, in decimal), summed
// over every gateway process: fields "<route>\x00req", "<route>\x00err",
// "<route>\x00fb", "<route>\x00q" (requests, 5xx answers, fallbacks,
// queued writes), each added to with HINCRBY, with a TTL of a few minutes
// (routestats.DefaultTTL). No hash tag: each bucket is written and read
// on its own, so a Cluster spreads them over its slots.
func (k Keys) GatewayTraffic(bucket string) string {
	return k.Namespace + ":gateway:traffic:" + bucket
}

// TypeOf is the Redis type the engine keeps at a key these builders make
// ("string", "hash", "list", "set", "zset", "stream"), or "" for a key
// that is not one of them. Error messages use it to name the key that
// holds the wrong type.
func TypeOf(key string) string {
	end := strings.LastIndex(key, "}")
	if end < 0 {
		switch {
		case strings.HasSuffix(key, ":schema"):
			return "string"
		case strings.HasSuffix(key, ":breakers"), strings.HasSuffix(key, ":queues"):
			return "set"
		case strings.HasSuffix(key, ":health:services"), strings.Contains(key, ":gateway:traffic:"):
			return "hash"
		}
		return ""
	}
	start := strings.LastIndex(key[:end], "{")
	if start < 0 {
		return ""
	}
	part, tag, suffix := key[:start], key[start+1:end], key[end+1:]
	switch {
	case tag == "chaos" && strings.HasSuffix(part, ":"):
		switch {
		case suffix == ":state", strings.HasPrefix(suffix, ":impact:"):
			return "hash"
		case strings.HasPrefix(suffix, ":exp:"):
			return "string"
		case suffix == ":active", suffix == ":starts":
			return "zset"
		case suffix == ":audit":
			return "stream"
		}
	case strings.HasSuffix(part, ":breaker:"):
		return map[string]string{"": "hash", ":probes": "zset", ":events": "stream", ":reporters": "zset",
			":fallbacks": "zset"}[suffix]
	case strings.HasSuffix(part, ":queue:"):
		return map[string]string{"": "hash", ":ready": "zset", ":delayed": "zset", ":leased": "zset", ":dead": "zset",
			":ops": "hash", ":lease": "hash", ":errors": "hash", ":done": "list"}[suffix]
	case strings.HasSuffix(part, ":gateway:idem:"), strings.HasSuffix(part, ":gateway:op:"):
		return map[string]string{"": "string"}[suffix]
	case strings.HasSuffix(part, ":health:"):
		return map[string]string{"": "hash", ":slot": "string", ":hours": "hash", ":recent": "list", ":alerts": "stream"}[suffix]
	}
	return ""
}
