package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// SchemaVersion is the version of the key schema this binary reads and
// writes (docs/redis-schema.md). A namespace whose stored version is newer
// is refused, so an old binary never misreads or corrupts newer state.
//
// Version 2 changed the fallback queue's layout (an ops hash instead of a
// hash per operation and a ctl hash); a version-1 namespace is upgraded in
// place the first time a version-2 haderctl connects (queue.Upgrade).
const SchemaVersion = 2

// SchemaError says the namespace was written by a newer haderctl.
type SchemaError struct {
	Namespace string
	Stored    string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("namespace %q has Redis schema version %q, newer than this haderctl's %d: upgrade haderctl", e.Namespace, e.Stored, SchemaVersion)
}

// CheckSchema reads the namespace's schema version and refuses a newer
// one. With claim set it stores SchemaVersion when none is stored yet. It
// returns the version stored (0: none).
func CheckSchema(ctx context.Context, c redis.UniversalClient, k Keys, claim bool) (int, error) {
	v, err := c.Get(ctx, k.Schema()).Result()
	if errors.Is(err, redis.Nil) {
		if claim {
			return 0, c.SetNX(ctx, k.Schema(), SchemaVersion, 0).Err()
		}
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, convErr := strconv.Atoi(v)
	if convErr != nil || n > SchemaVersion {
		return 0, &SchemaError{Namespace: k.Namespace, Stored: v}
	}
	return n, nil
}
