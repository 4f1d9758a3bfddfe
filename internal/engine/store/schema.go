package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"

	"github.com/haderos/haderctl/internal/engine/luascript"
	"github.com/redis/go-redis/v9"
)

// scripts are this part's Lua files, one per script (docs/redis-schema.md,
// "The scripts").
//
//go:embed lua/*.lua
var scripts embed.FS

// SchemaVersion is the version of the key schema this binary reads and
// writes (docs/redis-schema.md). A namespace whose stored version is newer
// is refused, so an old binary never misreads or corrupts newer state.
//
// Version 2 changed the fallback queue's layout (an ops hash instead of a
// hash per operation and a ctl hash); a version-1 namespace is upgraded in
// place the first time a newer haderctl connects (queue.Upgrade).
// Version 3 made the settings fields of a breaker's hash the settings in
// force (before, each process ran with its own and overwrote them on every
// write): nothing moves, but a version-2 haderctl must no longer write, so
// the first version-3 haderctl to connect records 3 (MarkSchema).
const SchemaVersion = 3

// markSchemaScript records a new schema version if the stored one is still
// the one upgraded from (MarkSchema): lua/mark_schema.lua.
var markSchemaScript = luascript.Load(scripts, "mark_schema.lua")

// MarkSchema records version to in the namespace if it still holds from
// (another process may have upgraded it meanwhile). It reports whether it
// wrote.
func MarkSchema(ctx context.Context, c redis.UniversalClient, k Keys, from, to int) (bool, error) {
	n, err := markSchemaScript.Run(ctx, c, []string{k.Schema()}, from, to).Int()
	return n == 1, err
}

// SchemaError says the namespace's schema version is newer than this
// haderctl's, or unreadable (not plain digits of at least 1, or the key holds another
// type): either way haderctl leaves the namespace alone.
type SchemaError struct {
	Namespace string
	// Key is the schema key.
	Key string
	// Stored is the value stored, when it was a string.
	Stored string
	// Unreadable says why the stored version cannot be read; empty when
	// it is a newer version.
	Unreadable string
}

func (e *SchemaError) Error() string {
	if e.Unreadable != "" {
		return fmt.Sprintf("namespace %q has an unreadable Redis schema version: key %s %s (it should hold a version number, e.g. %d); haderctl will not touch the namespace until it is fixed", e.Namespace, e.Key, e.Unreadable, SchemaVersion)
	}
	return fmt.Sprintf("namespace %q has Redis schema version %q, newer than this haderctl's %d: upgrade haderctl", e.Namespace, e.Stored, SchemaVersion)
}

// CheckSchema reads the namespace's schema version and refuses a newer or
// unreadable one. With claim set it stores SchemaVersion when none is
// stored yet. It returns the version stored (0: none).
func CheckSchema(ctx context.Context, c redis.UniversalClient, k Keys, claim bool) (int, error) {
	v, err := c.Get(ctx, k.Schema()).Result()
	if errors.Is(err, redis.Nil) {
		if claim {
			return 0, c.SetNX(ctx, k.Schema(), SchemaVersion, 0).Err()
		}
		return 0, nil
	}
	if redis.HasErrorPrefix(err, "WRONGTYPE") {
		held, terr := c.Type(ctx, k.Schema()).Result()
		if terr != nil {
			return 0, terr
		}
		return 0, &SchemaError{Namespace: k.Namespace, Key: k.Schema(), Unreadable: "holds a " + held + ", not a string"}
	}
	if err != nil {
		return 0, err
	}
	n, convErr := strconv.Atoi(v)
	switch {
	case convErr != nil || n < 1 || !plainDigits(v):
		shown := v
		if len(shown) > 40 {
			shown = shown[:40] + "…"
		}
		return 0, &SchemaError{Namespace: k.Namespace, Key: k.Schema(), Stored: v, Unreadable: fmt.Sprintf("holds %q, not a version number", shown)}
	case n > SchemaVersion:
		return 0, &SchemaError{Namespace: k.Namespace, Key: k.Schema(), Stored: v}
	}
	return n, nil
}

// plainDigits reports whether s is one or more ASCII decimal digits: the
// only form a version is written in (strconv.Atoi alone takes a sign), so
// every language reads the same value the same way.
func plainDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
