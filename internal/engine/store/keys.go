package store

import "fmt"

// Keys builds every Redis key and channel name of one namespace. Each
// breaker's keys share the hash tag {<name>}, so a script that touches a
// breaker's hash, probe set and event stream stays in one Cluster slot.
// docs/redis-schema.md is the reference for other languages; keys_test.go
// pins each builder to it.
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
