package engine

import (
	"context"
	"log/slog"
	"time"

	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// checkSchema refuses a namespace of a newer schema and upgrades an older
// one in place. It only reads an empty namespace: the engine claims a new
// namespace on its first write.
func checkSchema(ctx context.Context, rdb redis.UniversalClient, keys store.Keys, o Options) error {
	cctx, cancel := context.WithTimeout(ctx, o.Redis.Timeout)
	defer cancel()
	stored, err := store.CheckSchema(cctx, rdb, keys, false)
	switch {
	case err != nil:
		return err
	case stored == 1:
		return upgradeSchema1(ctx, rdb, keys, o.Logger)
	case stored == 2:
		return upgradeSchema2(cctx, rdb, keys, o.Logger)
	}
	return nil
}

// upgradeSchema1 moves a version-1 namespace's queues to the current
// layout (version 2's change; version 3 moves nothing), then records the
// current version. Moving a large backlog takes a while: it gets minutes,
// not the per-call timeout.
func upgradeSchema1(ctx context.Context, rdb redis.UniversalClient, keys store.Keys, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	n, err := queue.New(rdb, keys, queue.Settings{}).Upgrade(ctx, store.SchemaVersion)
	if err != nil {
		return err
	}
	logger.Info("upgraded the namespace's Redis schema from version 1", "namespace", keys.Namespace,
		"version", store.SchemaVersion, "queued_operations_moved", n)
	return nil
}

// upgradeSchema2 records version 3 in a version-2 namespace. Nothing
// moves: the settings fields version 2 wrote into each breaker's hash
// become the settings in force, and version-2 binaries, which would
// overwrite them with their own, refuse the namespace from now on.
func upgradeSchema2(ctx context.Context, rdb redis.UniversalClient, keys store.Keys, logger *slog.Logger) error {
	wrote, err := store.MarkSchema(ctx, rdb, keys, 2, store.SchemaVersion)
	if err == nil && wrote {
		logger.Info("upgraded the namespace's Redis schema from version 2: breaker settings are now shared through Redis",
			"namespace", keys.Namespace, "version", store.SchemaVersion)
	}
	return err
}
