package chaos

import (
	"context"
	"encoding/json"
	"os"
	"os/user"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// ActiveSet is the active index as read at one instant of Redis' clock.
type ActiveSet struct {
	// Now is Redis' clock at the read: scheduled phases start, and
	// experiments end, on it.
	Now time.Time
	// Experiments are the ones whose end has not passed (running, or
	// scheduled to start later), by end.
	Experiments []Experiment
	// Ended counts the index entries whose end has passed: expiries no
	// sweep has audited yet (Sweep's work).
	Ended int
}

// ReadActive reads the experiments that have not ended, by Redis' clock,
// and writes nothing: two round trips (TIME with the index, then the
// experiments). An experiment whose key is gone (stopped meanwhile, or its
// TTL ran out) is left out.
func ReadActive(ctx context.Context, rdb redis.UniversalClient, keys store.Keys) (ActiveSet, error) {
	var set ActiveSet
	p := rdb.Pipeline()
	tc := p.Time(ctx)
	zc := p.ZRangeWithScores(ctx, keys.ChaosActive(), 0, -1)
	if _, err := p.Exec(ctx); err != nil {
		return set, err
	}
	set.Now = tc.Val()
	nowMs := set.Now.UnixMilli()
	var ks []string
	for _, z := range zc.Val() {
		// the sweep takes ends at or before now; the rest have not ended
		if int64(z.Score) <= nowMs {
			set.Ended++
			continue
		}
		id, _ := z.Member.(string)
		ks = append(ks, keys.ChaosExperiment(id))
	}
	if len(ks) == 0 {
		return set, nil
	}
	vals, err := rdb.MGet(ctx, ks...).Result()
	if err != nil {
		return set, err
	}
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // gone: stopped, or its TTL ran out
		}
		var e Experiment
		if json.Unmarshal([]byte(s), &e) == nil && e.EndMs > nowMs {
			set.Experiments = append(set.Experiments, e)
		}
	}
	return set, nil
}

// Sweep removes the experiments whose end has passed from the index and
// audits each expiry ("expired", by who, "its duration ended"). An expiry
// the audit cannot take (Redis full, the audit key of another type) stays
// in the index for a later sweep, and nothing is written. The data planes
// run it on their tick, the writing commands in their own scripts; the
// readers (Active, State, the snapshot) never do.
func Sweep(ctx context.Context, rdb redis.UniversalClient, keys store.Keys, who string) error {
	return sweepScript.Run(ctx, rdb, baseKeys(keys), who, keys.ChaosChannel()).Err()
}

// Sweep is Sweep with this client's identity.
func (c *Client) Sweep(ctx context.Context) error { return Sweep(ctx, c.rdb, c.keys, c.Who) }

// Identity names this process in the audit: "user@host", plus the CI job
// (e.g. "GITHUB_RUN_ID=42") when getenv shows one, which is also returned
// alone.
func Identity(getenv func(string) string) (who, ciJob string) {
	if getenv == nil {
		getenv = os.Getenv
	}
	name := getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	who = name + "@" + host
	for _, v := range []string{"GITHUB_RUN_ID", "CI_JOB_ID", "BUILD_ID", "CIRCLE_BUILD_NUM", "BUILDKITE_BUILD_ID"} {
		if id := getenv(v); id != "" {
			ciJob = v + "=" + id
			who += " (" + ciJob + ")"
			break
		}
	}
	return who, ciJob
}

func baseKeys(keys store.Keys, extra ...string) []string {
	return append([]string{keys.ChaosState(), keys.ChaosActive(), keys.ChaosStarts(), keys.ChaosAudit()}, extra...)
}
