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
const SchemaVersion = 1

// SchemaError says the namespace was written by a newer haderctl.
type SchemaError struct {
	Namespace string
	Stored    string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("namespace %q has Redis schema version %q, newer than this haderctl's %d: upgrade haderctl", e.Namespace, e.Stored, SchemaVersion)
}

// CheckSchema reads the namespace's schema version and refuses a newer
// one. With claim set it stores SchemaVersion when none is stored yet.
func CheckSchema(ctx context.Context, c redis.UniversalClient, k Keys, claim bool) error {
	v, err := c.Get(ctx, k.Schema()).Result()
	if errors.Is(err, redis.Nil) {
		if claim {
			return c.SetNX(ctx, k.Schema(), SchemaVersion, 0).Err()
		}
		return nil
	}
	if err != nil {
		return err
	}
	n, convErr := strconv.Atoi(v)
	if convErr != nil || n > SchemaVersion {
		return &SchemaError{Namespace: k.Namespace, Stored: v}
	}
	return nil
}
